"""The notebooks in notebooks/: each runs top to bottom in a fresh kernel, and none is committed
with outputs.

They are executed as a student meets them: from a student copy (``minicnn assignment
release``) with every solution restored, on that copy's own minicnn, with the setup cell the
release adds. A restored copy is the reference code, so this runs each notebook exactly as the
reference does, and shows the student copy's notebooks work once the tasks are done (no cell
skipped). The copy starts with the checkout's compiled Numba kernels for the modules it holds
unchanged (notebook_runner.seed_numba_cache), which only saves compiling them again. tests/assignments/test_student_notebooks.py runs them in a copy with every task
stubbed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from support.notebook_runner import (MARK, execute, seed_numba_cache, stream_text,  # noqa: E402
                             write_kernel_spec)

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def restored_copy(tmp_path_factory):
    """A student copy of every task with every solution put back, and a kernel on it."""
    from minicnn.assignments.registry import SOURCE_ROOT
    from minicnn.assignments.release import release, restore

    root = tmp_path_factory.mktemp("restored") / "copy"
    release(root)
    restore(root)
    seed_numba_cache(root, SOURCE_ROOT)
    return root, write_kernel_spec(tmp_path_factory.mktemp("kernels"), root)


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, restored_copy, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    root, kernel_dir = restored_copy
    start = time.perf_counter()
    try:
        nb = execute(root / "notebooks" / path.name, kernel_dir)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    seconds = time.perf_counter() - start
    texts = [text for _, text in stream_text(nb)]
    assert texts and str(root) in texts[0], "the notebook did not run on the copy's minicnn"
    skipped = [line for text in texts for line in text.splitlines() if MARK in line]
    assert not skipped, f"{path.name}: cells skipped in a restored copy: {skipped[:3]}"
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} hold outputs or execution counts; "
                       f"strip them (jupyter nbconvert --clear-output --inplace {path.name})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_states_goals_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    assert markdown and "you will be able to" in markdown[0].lower(), \
        f"{path.name}: the first cell should say what the student will be able to do"
    assert "exercises" in markdown[-1].lower(), f"{path.name}: the last cell should hold exercises"


def test_readme_lists_every_notebook():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"notebooks/README.md does not list {missing}"

