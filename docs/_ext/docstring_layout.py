"""minicnn's docstrings are written for ``help()``: aligned blocks, nested "name : text"
lines under a Returns entry, ``|x|`` for an absolute value. reStructuredText reads some of
that as markup ("Unexpected indentation", substitutions). ``tidy`` rewrites the layout only,
before napoleon reads the sections, so the source stays as a terminal shows it:

- in the description, an indented block (a table, a formula or code laid out by hand) becomes
  a literal block, shown as typed;
- in a section entry's description, nested ``name : text`` lines (a cache's fields) become a
  bullet list, and deeper continuation lines join the line they continue;
- ``|`` outside literal blocks is escaped.
"""

from __future__ import annotations

import re

SECTION_RULE = re.compile(r"\s*-{3,}\s*$")
NESTED_FIELD = re.compile(r"^[\w*][\w, *()\[\].]*? : \S")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_bars(line: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", line)


def _paragraph(out: list[str]) -> list[str]:
    """The last paragraph of ``out`` (its lines since the last blank one)."""
    lines = []
    for line in reversed(out):
        if not line.strip():
            break
        lines.append(line)
    return lines


def _tidy_description(lines: list[str]) -> list[str]:
    out: list[str] = []
    index = 0

    def copy_block(base: int) -> None:
        """Copy lines verbatim while they are blank or deeper than ``base``."""
        nonlocal index
        while index < len(lines) and (not lines[index].strip()
                                      or _indent(lines[index]) > base):
            out.append(lines[index])
            index += 1
        while out and not out[-1].strip():
            out.pop()
        out.append("")

    while index < len(lines):
        line = lines[index]
        if not line.strip():
            out.append(line)
            index += 1
            continue
        depth = _indent(line)
        previous = out[-1] if out else ""
        last_text = next((o for o in reversed(out) if o.strip()), "")
        if line.lstrip().startswith(".. "):              # a directive (.. math::) and its body
            out.append(line)
            index += 1
            copy_block(depth)
            continue
        if depth > 0 and not previous.strip():            # a hand-laid-out block, as typed
            if not last_text.rstrip().endswith("::"):
                out += ["::", ""]
            copy_block(0)
            continue
        in_bullet = previous.strip() and any(
            o.lstrip().startswith(("- ", "* ")) and depth == _indent(o) + 2
            for o in _paragraph(out))
        if in_bullet:                                     # a list item's continuation
            out.append(_escape_bars(line))
            index += 1
            continue
        if previous.strip() and depth > _indent(previous):
            if previous.rstrip().endswith(":") and not previous.rstrip().endswith("::"):
                out[-1] = previous.rstrip() + ":"
            elif not previous.rstrip().endswith("::"):
                out.append("::")
            out.append("")
            copy_block(_indent(previous))
            continue
        if previous.strip() and depth < _indent(previous):
            out.append("")
        out.append(_escape_bars(line))
        index += 1
    return out


def _tidy_entry(lines: list[str]) -> list[str]:
    """One section entry's description lines (all indented deeper than the entry's name)."""
    if not any(line.strip() for line in lines):
        return lines
    base = min(_indent(line) for line in lines if line.strip())
    out: list[str] = []
    in_list = False
    for line in lines:
        if not line.strip():
            out.append(line)
            in_list = False
            continue
        text = line.strip()
        depth = _indent(line)
        if depth == base and NESTED_FIELD.match(text):
            if not in_list and out and out[-1].strip():
                out.append("")
            out.append(" " * base + "- " + _escape_bars(text))
            in_list = True
        elif depth > base and out and out[-1].strip():
            # a continuation of the line above: keep it in that paragraph or bullet
            out.append(" " * (base + 2 if in_list else base) + _escape_bars(text))
        else:
            if in_list:
                out.append("")
                in_list = False
            out.append(" " * base + _escape_bars(text))
    return out


def tidy(lines: list[str]) -> list[str]:
    """The docstring ``lines`` (numpydoc layout) with the layout fixes above applied."""
    header = next((i for i in range(len(lines) - 1) if SECTION_RULE.match(lines[i + 1])
                   and lines[i].strip()), len(lines))
    out = _tidy_description(lines[:header])
    index = header
    while index < len(lines):
        line = lines[index]
        if index + 1 < len(lines) and SECTION_RULE.match(lines[index + 1]) and line.strip():
            out += [line, lines[index + 1]]
            index += 2
            continue
        out.append(line)
        index += 1
        if line.strip() and _indent(line) == 0:
            entry = []
            while index < len(lines) and (not lines[index].strip()
                                          or _indent(lines[index]) > 0) \
                    and not (index + 1 < len(lines) and SECTION_RULE.match(lines[index + 1])):
                entry.append(lines[index])
                index += 1
            out += _tidy_entry(entry)
    return out
