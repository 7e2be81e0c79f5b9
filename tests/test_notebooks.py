"""The notebooks in notebooks/: each runs top to bottom in a fresh kernel, and none is committed
with outputs.

The kernel is this interpreter (``sys.executable``), started from a kernel spec written to a
temporary directory, so the test finds the minicnn that pytest imports even on a fresh machine
where only ``pip install -e ".[test]"`` was run and no ``python3`` kernel spec is registered (or
one is, but for another Python).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (after the skips)
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "minicnn-test-python"
CELL_TIMEOUT = 300          # seconds per cell; a whole notebook is meant to take about a minute


def _thread_limits():
    """One thread for BLAS and Numba in the kernel (``MINICNN_NOTEBOOK_THREADS`` overrides).

    On a machine shared with other jobs, multi-threaded BLAS and Numba loops oversubscribe the
    cores and training runs several times slower; one thread keeps the notebooks' run time
    predictable. The notebooks themselves leave the thread count alone, for students.
    """
    threads = os.environ.get("MINICNN_NOTEBOOK_THREADS", "1")
    return {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernel spec for this very interpreter, in a private directory."""
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (tests)",
            "language": "python",
            "env": {"MPLBACKEND": "Agg", **_thread_limits()}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return root


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, kernel_dir, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = nbclient.NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT,
                                     kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    seconds = time.perf_counter() - start
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

