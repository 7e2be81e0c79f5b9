"""minicnn.nn's files import one another without a circle, and each imports on its own."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import minicnn.nn

NN_DIR = Path(minicnn.nn.__file__).parent
MODULES = sorted(p.stem for p in NN_DIR.glob("*.py") if p.stem != "__init__")


def _nn_imports(name: str) -> set[str]:
    """The minicnn.nn modules that ``name`` imports anywhere (top level or in a function)."""
    tree = ast.parse((NN_DIR / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if parts[:2] == ["minicnn", "nn"] and len(parts) >= 3 and parts[2] in MODULES:
                found.add(parts[2])
    found.discard(name)
    return found


def test_the_nn_modules_import_each_other_without_a_circle():
    graph = {name: _nn_imports(name) for name in MODULES}
    done, path = set(), []

    def visit(name):
        if name in path:
            cycle = path[path.index(name):] + [name]
            pytest.fail(f"import circle in minicnn/nn: {' -> '.join(cycle)}")
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in MODULES:
        visit(name)
    assert graph["trace"] == set(), "the trace must not know the layers it checks"


@pytest.mark.parametrize("name", MODULES)
def test_each_nn_module_imports_first_in_a_fresh_interpreter(name):
    code = (f"import minicnn.nn.{name} as m, sys; "
            f"assert 'minicnn.nn.{name}' in sys.modules; print(m.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"minicnn.nn.{name}"
