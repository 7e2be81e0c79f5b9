"""The instructor toolkit's layout: sub-packages by job, modules a reader can hold, no import
cycle (counting the imports inside functions too: a lazy import that closes a loop is still
two modules that need each other), no private name used outside its package.

(tests/test_package_layout.py holds the whole package to the looser rules: 600 lines, cycles
of module-level imports.)
"""

import ast
from pathlib import Path

import pytest

from minicnn.assignments.registry import SOURCE_ROOT

PACKAGE = SOURCE_ROOT / "minicnn" / "assignments"
MAX_LINES = 500
JOBS = {"release", "grading", "checks", "audit", "gradescope"}


def modules() -> dict:
    """{dotted name: path} of every module of minicnn.assignments."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SOURCE_ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imports(name: str) -> list:
    """``(module, imported names)`` of every import statement of module ``name``, wherever it
    stands (module level or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


def edges(name: str) -> set:
    """The modules of minicnn.assignments that module ``name`` imports."""
    targets = set()
    for module, names in imports(name):
        for target in [module] + [f"{module}.{n}" for n in names]:
            if target in MODULES and target != name:
                targets.add(target)
    return targets


def test_the_jobs_are_sub_packages():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == JOBS
    assert (PACKAGE / "audit" / "catalogue" / "__init__.py").is_file()
    assert (PACKAGE / "gradescope" / "autograder.py").is_file()
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "regions.py", "registry.py"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_the_limit(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]}: {lines} lines"


def test_no_import_cycle_not_even_through_a_function_level_import():
    graph = {name: edges(name) for name in MODULES}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            # a package's __init__ that re-exports its own modules is not a cycle with them
            if target.startswith(node + ".") and MODULES[node].name == "__init__.py":
                continue
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def test_no_private_name_is_imported_from_another_package():
    wrong = []
    for name in MODULES:
        for module, names in imports(name):
            if not module.startswith("minicnn"):
                continue
            here = _package_of(name)
            # a private name: only within the package that defines it
            home = module if module not in MODULES or MODULES[module].name == "__init__.py" \
                else module.rpartition(".")[0]
            names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if names and home != here:
                wrong.append(f"{name} imports {names} from {module}")
            # a private module (minicnn._atomic): within the package that holds it
            parts = module.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    holder = ".".join(parts[:i])
                    if not (here == holder or here.startswith(holder + ".")):
                        wrong.append(f"{name} imports the private module {module}")
    assert wrong == []


def test_the_tests_use_no_private_name_of_the_toolkit():
    wrong = []
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "minicnn.assignments"):
                names = [a.name for a in node.names if a.name.startswith("_")]
                parts = [p for p in node.module.split(".") if p.startswith("_")]
                if names or parts:
                    wrong.append(f"{path.name}: {node.module} {names + parts}")
    assert wrong == []


def test_the_command_line_parser_is_the_public_one():
    import minicnn.cli
    from minicnn.assignments.cli import build_parser

    assert isinstance(build_parser(), minicnn.cli.Parser)
    assert not hasattr(minicnn.cli, "_Parser")
