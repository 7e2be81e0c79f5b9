"""Solution regions: the code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` comment lines.

An instructor marks the lines a student has to write::

    def relu_forward(x):
        \"\"\"...docstring stays...\"\"\"
        check_array(x, "x", "relu")
        # BEGIN SOLUTION
        out = np.maximum(x, 0)
        cache = (x,)
        # END SOLUTION
        return out, cache

Releasing replaces the lines between the markers by one ``raise NotImplementedError(...)``
at the indentation of the ``# BEGIN SOLUTION`` line and keeps the markers, so a released file
can be released again, or restored from the reference (``restore_regions``).

Everything here works on source text: nothing imports the files it reads.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b.*$")
END_RE = re.compile(r"^(?P<indent>[ \t]*)#\s*END SOLUTION\b.*$")


class RegionError(ValueError):
    """A file's solution markers are malformed (unbalanced, nested, or outside a function)."""


@dataclass(frozen=True)
class Region:
    """One marked region of a source file.

    ``begin`` and ``end`` are 0-based line indices of the marker lines themselves; the
    solution is ``lines[begin + 1:end]``. ``function`` is the innermost function (or method,
    as ``Class.method``) that contains the region.
    """

    path: str
    function: str
    begin: int
    end: int
    indent: str

    @property
    def lineno(self) -> int:
        """1-based line number of the ``# BEGIN SOLUTION`` marker (for messages)."""
        return self.begin + 1


def _function_spans(tree: ast.AST) -> list[tuple[int, int, str]]:
    """``(first_line, last_line, qualified_name)`` (1-based, inclusive) of every function."""
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                spans.append((first, child.end_lineno, name))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def find_regions(source: str, path: str = "<source>") -> list[Region]:
    """All solution regions of ``source``, in file order.

    Raises ``RegionError`` when a marker is unbalanced or nested, or when a region is not
    inside a function (a stub at module level would break ``import``).
    """
    lines = source.splitlines()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise RegionError(f"{path}: cannot parse: {exc}") from exc
    spans = _function_spans(tree)
    regions: list[Region] = []
    open_at: int | None = None
    indent = ""
    for index, line in enumerate(lines):
        if BEGIN_RE.match(line):
            if open_at is not None:
                raise RegionError(f"{path}:{index + 1}: '# BEGIN SOLUTION' inside the region "
                                  f"opened at line {open_at + 1} (regions cannot nest)")
            open_at, indent = index, BEGIN_RE.match(line).group("indent")
        elif END_RE.match(line):
            if open_at is None:
                raise RegionError(f"{path}:{index + 1}: '# END SOLUTION' without a matching "
                                  f"'# BEGIN SOLUTION'")
            lineno = open_at + 1
            # the BEGIN line decides (an END line after a final ``return`` lies past the
            # function's last statement, but is still part of its body)
            inside = [s for s in spans if s[0] < lineno <= s[1]]
            if not inside:
                raise RegionError(f"{path}:{lineno}: solution region is not inside a function "
                                  f"(a stub at module level would break 'import')")
            function = max(inside, key=lambda s: s[0])[2]      # the innermost one
            regions.append(Region(path, function, open_at, index, indent))
            open_at = None
    if open_at is not None:
        raise RegionError(f"{path}:{open_at + 1}: '# BEGIN SOLUTION' is never closed")
    return regions


def stub_line(indent: str, task: str, function: str) -> str:
    """The line that replaces a solution in a student copy."""
    return (f'{indent}raise NotImplementedError("{task}: implement {function} '
            f'(see the docstring)")')


def _keep_newline(source: str) -> str:
    return "\n" if source.endswith("\n") else ""


def stub_regions(source: str, functions_to_task: dict[str, str], path: str = "<source>") -> str:
    """Replace the regions of the given functions by ``raise NotImplementedError``.

    ``functions_to_task`` maps a function name (as in ``Region.function``) to the task id
    that names it in the stub. Regions of other functions are left as they are. The markers
    stay. Raises ``RegionError`` if one of the requested functions has no region.
    """
    regions = find_regions(source, path)
    missing = set(functions_to_task) - {r.function for r in regions}
    if missing:
        raise RegionError(f"{path}: no '# BEGIN SOLUTION' region in function(s) "
                          f"{', '.join(sorted(missing))}")
    lines = source.splitlines()
    for region in reversed(regions):                     # from the bottom: indices stay valid
        task = functions_to_task.get(region.function)
        if task is None:
            continue
        lines[region.begin + 1:region.end] = [stub_line(region.indent, task, region.function)]
    out = "\n".join(lines) + _keep_newline(source)
    ast.parse(out, filename=path)                        # a stub must never break the file
    return out


def restore_regions(source: str, reference: str, functions: set[str] | None = None,
                    path: str = "<source>") -> str:
    """Put the reference's solution back into the regions of ``source``.

    The n-th region of a function in ``source`` receives the n-th region of the same function
    in ``reference``. ``functions`` limits which functions are restored (default: all).
    """
    target_regions = find_regions(source, path)
    ref_regions = find_regions(reference, path)
    ref_lines = reference.splitlines()
    by_function: dict[str, list[Region]] = {}
    for region in ref_regions:
        by_function.setdefault(region.function, []).append(region)
    seen: dict[str, int] = {}
    plan = []
    for region in target_regions:
        count = seen.get(region.function, 0)
        seen[region.function] = count + 1
        if functions is not None and region.function not in functions:
            continue
        candidates = by_function.get(region.function, [])
        if not candidates and count == 0:
            # a stripped helper: the reference has the whole body there, without markers
            first, last, _ = function_body_span(reference, region.function, path)
            plan.append((region, None, ref_lines[first:last + 1]))
            continue
        if count >= len(candidates):
            raise RegionError(f"{path}: the reference has no region #{count + 1} in "
                              f"{region.function}")
        ref = candidates[count]
        plan.append((region, True, ref_lines[ref.begin + 1:ref.end]))
    lines = source.splitlines()
    for region, keep_markers, body in reversed(plan):
        if keep_markers:
            lines[region.begin + 1:region.end] = body
        else:
            lines[region.begin:region.end + 1] = body
    return "\n".join(lines) + _keep_newline(source)


def replace_region(source: str, function: str, new_body: str, index: int = 0,
                   path: str = "<source>") -> str:
    """Replace the ``index``-th region of ``function`` by ``new_body`` (dedented text that is
    re-indented to the marker's indentation). Used to write bugged or alternative solutions."""
    import textwrap

    regions = [r for r in find_regions(source, path) if r.function == function]
    if index >= len(regions):
        raise RegionError(f"{path}: {function} has {len(regions)} region(s), no #{index + 1}")
    region = regions[index]
    body = textwrap.dedent(new_body).strip("\n").splitlines()
    body = [(region.indent + line) if line.strip() else "" for line in body]
    lines = source.splitlines()
    lines[region.begin + 1:region.end] = body
    out = "\n".join(lines) + _keep_newline(source)
    ast.parse(out, filename=path)
    return out


def region_text(source: str, function: str, index: int = 0, path: str = "<source>") -> str:
    """The dedented solution text of the ``index``-th region of ``function``."""
    import textwrap

    regions = [r for r in find_regions(source, path) if r.function == function]
    if index >= len(regions):
        raise RegionError(f"{path}: {function} has {len(regions)} region(s), no #{index + 1}")
    region = regions[index]
    return textwrap.dedent("\n".join(source.splitlines()[region.begin + 1:region.end]))


# ------------------------------------------------------------------ whole-function stripping
#
# Some helpers are solutions in disguise (a Numba kernel or a NumPy twin of the function a
# student writes). A release strips them: the body after the docstring becomes a marked
# region holding one ``raise``, so restoring works like for any region (the reference
# function has no region there, so its whole body comes back).


def _find_function(tree: ast.AST, qualname: str):
    parts = qualname.split(".")
    nodes = [tree]
    for part in parts:
        found = None
        for node in nodes:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                        and child.name == part:
                    found = child
                    break
            if found is not None:
                break
        if found is None:
            return None
        nodes = [found]
    return nodes[0] if isinstance(nodes[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def function_body_span(source: str, function: str, path: str = "<source>"):
    """``(first, last, indent)``: 0-based line indices (inclusive) of the statements of
    ``function`` after its docstring, and their indentation."""
    tree = ast.parse(source, filename=path)
    node = _find_function(tree, function)
    if node is None:
        raise RegionError(f"{path}: no function {function}")
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                              ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        raise RegionError(f"{path}: {function} has nothing but a docstring")
    lines = source.splitlines()
    first = body[0].lineno - 1
    indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
    return first, body[-1].end_lineno - 1, indent


def strip_functions(source: str, functions_to_task: dict[str, str], path: str = "<source>"):
    """Replace the body (after the docstring) of each function by a marked ``raise``."""
    spans = []
    for function, task in functions_to_task.items():
        first, last, indent = function_body_span(source, function, path)
        public = function.rsplit(".", 1)[-1]
        stub = [f"{indent}# BEGIN SOLUTION",
                f'{indent}raise NotImplementedError("{task}: {public} is part of the solution '
                f'of {task} (left out of the student copy)")',
                f"{indent}# END SOLUTION"]
        spans.append((first, last, stub))
    lines = source.splitlines()
    for first, last, stub in sorted(spans, reverse=True):
        lines[first:last + 1] = stub
    out = "\n".join(lines) + _keep_newline(source)
    ast.parse(out, filename=path)
    return out
