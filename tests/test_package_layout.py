"""The package's layout rules: no import cycle between minicnn's modules, no private name used
outside the module (or, for a private module, the package) that defines it, and no module
grown past what a reader can hold."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600


def find_modules(root: Path) -> dict:
    """{dotted name: path} of every module of the minicnn package under ``root``."""
    modules = {}
    for path in sorted((root / "minicnn").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = find_modules(ROOT)


def top_level_imports(path: Path, name: str, modules: dict):
    """(module, names) of every import executed when module ``name`` is imported: statements
    at module level, including inside if/try blocks, but not inside functions or classes
    (those run on first use, after every module has loaded, and cannot form a cycle)."""
    package = name if modules[name].name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend((alias.name, ()) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.append((base, tuple(alias.name for alias in node.names)))
            elif isinstance(node, (ast.If, ast.Try)):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def import_graph(modules: dict) -> dict:
    """{module: the minicnn modules that importing it imports first}. Importing a submodule
    imports its parent packages, so they count too (except the module's own parents)."""
    graph = {}
    for name, path in modules.items():
        targets = set()
        for base, names in top_level_imports(path, name, modules):
            for candidate in [base] + [f"{base}.{n}" for n in names]:
                parts = candidate.split(".")
                targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[name] = {t for t in targets if t in modules and t != name
                       and not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict):
    """One import cycle of ``graph`` as a list of modules (first == last), or None."""
    done, stack = set(), []

    def visit(name):
        if name in stack:
            return stack[stack.index(name):] + [name]
        if name in done:
            return None
        stack.append(name)
        for target in sorted(graph[name]):
            cycle = visit(target)
            if cycle:
                return cycle
        stack.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def test_minicnn_has_no_import_cycle():
    cycle = find_cycle(import_graph(MODULES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle_through_a_package(tmp_path):
    package = tmp_path / "minicnn"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from minicnn.sub.a import f\n")
    (package / "sub" / "a.py").write_text("def f():\n    from minicnn import b  # later\n")
    (package / "b.py").write_text("import minicnn.sub.a\n")
    modules = find_modules(tmp_path)
    assert find_cycle(import_graph(modules)) is None      # an import inside a function is late
    (package / "sub" / "a.py").write_text("from minicnn import b\n\ndef f():\n    pass\n")
    assert find_cycle(import_graph(modules)) == ["minicnn.b", "minicnn.sub", "minicnn.sub.a",
                                                 "minicnn.b"]


def private_uses(path: Path, own: str, modules: dict):
    """(line, name) of each private name ``path`` (module ``own``) takes from elsewhere: ``from
    minicnn.x import _name``, ``x._name`` on an imported minicnn module, or a private module
    (``minicnn.x._mod``) imported from outside its package."""
    uses, aliases = [], {}

    def private_module_outside(module):
        parts = module.split(".")
        for i, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                package = ".".join(parts[:i])
                return not (own == package or own.startswith(package + "."))
        return False

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minicnn"):
            if private_module_outside(node.module):
                uses.append((node.lineno, node.module))
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    aliases[alias.asname or alias.name] = full
                    if private_module_outside(full):
                        uses.append((node.lineno, full))
                elif (alias.name.startswith("_") and not alias.name.startswith("__")
                      and node.module != own):
                    uses.append((node.lineno, full))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("minicnn"):
                    aliases[alias.asname or alias.name] = alias.name
                    if private_module_outside(alias.name):
                        uses.append((node.lineno, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            value = ast.unparse(node.value)
            if value in aliases and aliases[value] != own:
                uses.append((node.lineno, f"{aliases[value]}.{node.attr}"))
    return uses


@pytest.mark.parametrize("folder", ["minicnn", "benchmarks"])
def test_no_private_name_is_used_outside_its_module(folder):
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        own = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        problems += [f"{path.relative_to(ROOT)}:{line}: {name}"
                     for line, name in private_uses(path, own, MODULES)]
    assert not problems, "private names used outside their module:\n" + "\n".join(problems)


def test_the_private_name_check_finds_each_kind(tmp_path):
    source = tmp_path / "user.py"
    source.write_text("from minicnn.explain import _explaining\n"
                      "import minicnn.nn.layers as layers\n"
                      "from minicnn.functional import _common\n"
                      "layers._BatchNorm\n")
    modules = {"minicnn.explain": None, "minicnn.nn.layers": None,
               "minicnn.functional._common": None}
    found = sorted(name for _, name in private_uses(source, "minicnn.gradcheck", modules))
    assert found == ["minicnn.explain._explaining", "minicnn.functional._common",
                     "minicnn.nn.layers._BatchNorm"]
    inside = private_uses(source, "minicnn.functional.conv", {"minicnn.functional._common": 0})
    assert sorted(name for _, name in inside) == ["minicnn.explain._explaining",
                                                  "minicnn.nn.layers._BatchNorm"]


def test_no_module_is_too_long_to_read():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_folder_of_python_modules_is_a_package():
    # setup.cfg finds packages by their __init__.py: a folder without one is left out of a
    # wheel, though an editable install (and so the test suite) would not notice
    folders = {path.parent for path in MODULES.values()}
    missing = sorted(str(folder.relative_to(ROOT)) for folder in folders
                     if not (folder / "__init__.py").exists())
    assert not missing, f"folders of modules without __init__.py: {missing}"
