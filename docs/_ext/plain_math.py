"""The docstrings' plain-text formulas, typeset.

minicnn's docstrings write the lecture's formulas as a reader types them in a terminal::

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s + u, j*s + v] + b[o]

``help()`` shows them as they are; the book shows them as math. ``formula_blocks`` finds such
lines in a docstring's description (a line of its own, or an indented block after a
sentence) and ``to_tex`` translates one: ``W[o, c, u, v]`` becomes W with the subscript
o,c,u,v, ``X_pad`` X with "pad" above, ``sum_c`` a summation over c, ``sqrt(...)`` a root,
Greek names letters, ``*`` a dot. A line the translator does not understand stays as it was
(a literal block): the book never shows a formula that says something else than the code.
"""

from __future__ import annotations

import re

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "pi",
         "rho", "sigma", "tau", "phi", "omega"}
WORDS = {"over", "of", "for", "and", "if", "else", "otherwise", "on", "with", "where", "when",
         "steps", "step", "first", "later", "nesterov"}
FUNCTIONS = {"max": r"\max", "min": r"\min", "exp": r"\exp", "log": r"\log", "cos": r"\cos",
             "sin": r"\sin"}
NAMED = {"mean", "var", "softmax", "ReLU", "MaxPool", "AvgPool", "GAP", "lr", "sum"}

TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
                   r"|(?P<op>//|\*\*|<=|>=|!=|~=|->|[-+*/=<>^()\[\],|:.{}]))")
HEAD = re.compile(r"^(?:[A-Za-z][\w]*(?:\([^()]*\))?(?:\[[^\]]*\])?"
                  r"|d\w+/d\w+(?:\[[^\]]*\])?)(?:\s*,\s*[A-Za-z]\w*)?\s*=\s")
LABEL = re.compile(r"^([a-z]+):\s+")
COMMENT = re.compile(r"\s{2,}(\([^()]*(?:\([^()]*\)[^()]*)*\))\s*$")


class Untranslatable(ValueError):
    """The line is not a formula this translator reads with certainty."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = TOKEN.match(text, at)
        if not match or match.end() == at:
            raise Untranslatable(text[at:])
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


def _name(word: str) -> str:
    """One identifier: x, X_pad, gamma_c, x_hat, inv_std, H_out, beta1."""
    if word in GREEK:
        return "\\" + word
    if word == "eps":
        return r"\epsilon"
    if word[0] == "d" and len(word) > 2 and (word[1:].partition("_")[0] in GREEK
                                             or word[2:3] == "_"):
        return "d" + _name(word[1:])        # dgamma_c, dz_t: the gradient of gamma_c, z_t
    if word.startswith("sum_"):
        return r"\sum_{%s}" % _name(word[4:])
    if word.startswith("mean_"):
        return r"\operatorname{mean}_{%s}" % _name(word[5:])
    if word.startswith("max_"):
        return r"\max_{%s}" % _name(word[4:])
    if word in FUNCTIONS:
        return FUNCTIONS[word]
    if word in NAMED:
        return r"\operatorname{%s}" % word
    digits = re.fullmatch(r"([A-Za-z]+)(\d+)", word)
    if digits and digits.group(1) in GREEK | {"m", "v", "b", "beta"}:
        return r"%s_{%s}" % (_name(digits.group(1)), digits.group(2))
    if "_" in word:
        base, _, suffix = word.partition("_")
        if suffix == "hat" and (len(base) == 1 or base in GREEK):
            return r"\hat{%s}" % _name(base)
        if len(base) == 1 or base in GREEK:
            sub = _name(suffix) if (len(suffix) == 1 or suffix in GREEK) else \
                r"\mathrm{%s}" % suffix.replace("_", r"\_")
            if suffix in {"pad", "padded"}:
                return r"%s^{\mathrm{%s}}" % (base, suffix)
            return r"%s_{%s}" % (_name(base), sub)
        return r"\mathit{%s}" % word.replace("_", r"\_")
    if len(word) == 1:
        return word
    if word in WORDS:
        return r"\text{ %s }" % word
    if word == "in":
        return r"\in"
    return r"\mathit{%s}" % word


class _Reader:
    def __init__(self, tokens):
        self.tokens, self.at = tokens, 0

    def peek(self, offset=0):
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def until(self, closer: str) -> str:
        """Translate up to the matching closer (consumed)."""
        parts = []
        while True:
            kind, value = self.peek()
            if kind is None:
                raise Untranslatable(f"no closing {closer}")
            if kind == "op" and value == closer:
                self.take()
                return " ".join(parts)
            parts.append(self.item())

    def indexed(self, text: str) -> str:
        """``text`` with the index that follows it: W[o, c, u, v] -> W_{o,c,u,v}."""
        while self.peek() == ("op", "["):
            self.take()
            text = r"{%s}_{%s}" % (text, self.until("]"))
        return text

    def item(self) -> str:
        kind, value = self.take()
        if kind == "num":
            return value
        if kind == "name":
            nxt_kind, nxt = self.peek()
            if value == "sqrt" and nxt == "(":
                self.take()
                return r"\sqrt{%s}" % self.until(")")
            if value in {"floor", "ceil"} and nxt == "(":
                self.take()
                left, right = (r"\lfloor", r"\rfloor") if value == "floor" else \
                    (r"\lceil", r"\rceil")
                return r"\left%s %s \right%s" % (left, self.until(")"), right)
            if value.endswith("_") and nxt == "{":      # sum_{c, u, v}
                self.take()
                base = r"\sum" if value == "sum_" else _name(value[:-1])
                return r"%s_{%s}" % (base, self.until("}"))
            text = _name(value)
            if text.startswith(("\\sum", "\\max", "\\min", "\\operatorname{mean}")):
                return text                         # sum_n [ ... ] is a bracket, not an index
            return self.indexed(text)
        ops = {"*": r"\cdot", "//": r"\mathbin{//}", "<=": r"\le", ">=": r"\ge",
               "!=": r"\ne", "~=": r"\approx", "->": r"\to", ",": r",\,", ":": ":",
               "|": r"\lvert", "{": r"\{", "}": r"\}"}
        if value == "(":
            return self.indexed(r"\left( %s \right)" % self.until(")"))
        if value == "[":
            return r"\left[ %s \right]" % self.until("]")
        if value in {"^", "**"}:
            return "^{%s}" % self.item()
        if value in {")", "]"}:
            raise Untranslatable(f"unbalanced {value}")
        return ops.get(value, value)


def to_tex(line: str) -> str:
    """The LaTeX of one plain-text formula line; Untranslatable if it is not one."""
    line = line.strip()
    label = LABEL.match(line)
    prefix = ""
    if label:
        prefix, line = r"\text{%s:}\quad " % label.group(1), line[label.end():]
    comment = COMMENT.search(line)
    suffix = ""
    if comment:
        words = comment.group(1)[1:-1].replace("_", r"\_").replace("%", r"\%")
        suffix, line = r"\qquad\text{(%s)}" % words, line[:comment.start()]
    if "``" in line or "'" in line or '"' in line or "->" in line or "@" in line \
            or "::" in line or re.search(r"\w=\w", line):     # code, keyword arguments
        raise Untranslatable(line)
    reader = _Reader(_tokens(line))
    parts = []
    while reader.peek()[0] is not None:
        parts.append(reader.item())
    tex = " ".join(parts)
    if tex.count(r"\lvert") % 2:          # the "|...|" pairs of an absolute value
        raise Untranslatable(line)
    tex = re.sub(r"\\lvert(.*?)\\lvert", r"\\left\\lvert \1 \\right\\rvert", tex)
    return prefix + tex + suffix


def is_formula(line: str) -> bool:
    """A line that reads as "head = expression" (not prose, not code)."""
    text = line.strip()
    text = LABEL.sub("", text)
    if not HEAD.match(text) or text.endswith((".", ";")) or "``" in text:
        return False
    if re.search(r"\b(the|is|are|when|which|that|a)\b", COMMENT.sub("", text)):
        return False
    return True


def formula_blocks(lines: list[str]) -> list[str]:
    """The docstring ``lines`` with its description's formula lines as ``.. math::``."""
    out, index, in_description = [], 0, True
    while index < len(lines):
        line = lines[index]
        if index + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[index + 1]):
            in_description = False
        previous_blank = index == 0 or not lines[index - 1].strip()
        before = [b for b in lines[:index] if b.strip()]
        literal = bool(before) and before[-1].rstrip().endswith("::")
        if in_description and previous_blank and line.strip() and not literal:
            # a paragraph (or indented block) of formula lines only
            end = index
            while end < len(lines) and lines[end].strip():
                end += 1
            block = lines[index:end]
            indents = {len(b) - len(b.lstrip()) for b in block}
            if len(indents) == 1 and all(is_formula(b) for b in block):
                try:
                    tex = [to_tex(b) for b in block]
                except Untranslatable:
                    tex = None
                if tex is not None:
                    pad = " " * min(indents)
                    out += [pad + ".. math::", ""]
                    for equation in tex:
                        out += [pad + "   " + equation, ""]
                    index = end
                    continue
        out.append(line)
        index += 1
    return out
