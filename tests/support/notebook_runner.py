"""Executing notebooks in a fresh kernel of this interpreter (for tests/test_notebooks.py and
tests/assignments/test_student_notebooks.py).

The kernel is this interpreter (``sys.executable``), started from a kernel spec written to a
private directory, so a test finds the right minicnn even on a fresh machine where only
``pip install -e ".[test]"`` was run and no ``python3`` kernel spec is registered (or one is,
but for another Python). ``PYTHONPATH`` in the spec puts a student copy's minicnn first.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

KERNEL_NAME = "minicnn-test-python"
CELL_TIMEOUT = 300          # seconds per cell; a whole notebook is meant to take about a minute
MARK = "[not implemented yet]"     # what a student copy's skipped cell prints


def thread_limits() -> dict:
    """One thread for BLAS and Numba in the kernel (``MINICNN_NOTEBOOK_THREADS`` overrides).

    On a machine shared with other jobs, multi-threaded BLAS and Numba loops oversubscribe the
    cores and training runs several times slower; one thread keeps the notebooks' run time
    predictable. The notebooks themselves leave the thread count alone, for students.
    """
    threads = os.environ.get("MINICNN_NOTEBOOK_THREADS", "1")
    return {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def write_kernel_spec(directory: Path, python_path: Path | None = None) -> Path:
    """A kernel spec for this interpreter in ``directory`` (``python_path``: a minicnn
    checkout or student copy to import first); returns ``directory``."""
    spec_dir = Path(directory) / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    env = {"MPLBACKEND": "Agg", **thread_limits()}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (tests)",
            "language": "python", "env": env}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return Path(directory)


def seed_numba_cache(copy_root: Path, source_root: Path) -> int:
    """Let a student copy use the Numba cache of the checkout it was released from, for every
    module of ``copy_root``/minicnn whose source is byte for byte the checkout's; returns how
    many modules share it.

    Numba keeps its cache beside each source file and trusts it only for that file's
    modification time and size (and each entry for the function's bytecode and this CPU), so
    a copy compiles every kernel again, which took a large share of the notebooks' run time
    (benchmarks/RESULTS.md, "The suite's time"). Each unchanged file gets the checkout's
    modification time, so that the two caches are interchangeable, and then:

    - in a directory whose modules are all unchanged (every directory of the engine, in a
      restored copy), the copy's ``__pycache__`` becomes a link to the checkout's: a kernel
      compiled by a notebook's kernel process is there for the tests that run later in the
      checkout, and one compiled by a test for the notebooks, whichever comes first (the
      notebooks are collected first: tests/conftest.py). Numba writes each entry whole and
      checks the stamps when it loads, as it does when the suite's workers share the
      checkout's cache;
    - in a directory with an edited module (a task's stub or restored solution), the
      unchanged modules' entries are copied as they stand then, and Numba compiles what else it
      needs in the copy.

    A student's copy starts with an empty cache, as released: this is for the tests only."""
    source_package, seeded = Path(source_root) / "minicnn", 0
    copy_package = Path(copy_root) / "minicnn"
    for source_dir in sorted({path.parent for path in source_package.rglob("*.py")}):
        target_dir = copy_package / source_dir.relative_to(source_package)
        unchanged = [source for source in sorted(source_dir.glob("*.py"))
                     if (target_dir / source.name).is_file()
                     and (target_dir / source.name).read_bytes() == source.read_bytes()]
        for source in unchanged:
            stat = source.stat()
            os.utime(target_dir / source.name, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        every_module = {path.name for path in target_dir.glob("*.py")}
        if unchanged and every_module == {source.name for source in unchanged} \
                and _link_cache(source_dir / "__pycache__", target_dir / "__pycache__"):
            seeded += len(unchanged)
            continue
        for source in unchanged:
            entries = sorted((source_dir / "__pycache__").glob(f"{source.stem}.*.nb[ic]"))
            if entries:
                cache = target_dir / "__pycache__"
                cache.mkdir(exist_ok=True)
                for entry in entries:
                    shutil.copy2(entry, cache / entry.name)
                seeded += 1
    return seeded


def _link_cache(source_cache: Path, target_cache: Path) -> bool:
    """Make ``target_cache`` a link to ``source_cache`` (created if need be); False, nothing
    changed, where the checkout's directory cannot take a cache (read-only)."""
    try:
        source_cache.mkdir(exist_ok=True)
        probe = source_cache / f".minicnn-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError:
        return False
    if target_cache.is_symlink():
        target_cache.unlink()
    elif target_cache.exists():
        shutil.rmtree(target_cache)
    target_cache.symlink_to(source_cache, target_is_directory=True)
    return True


def execute(path: Path, kernel_dir: Path):
    """Run the notebook at ``path`` top to bottom (in its own directory); the executed
    notebook. Raises ``nbclient.exceptions.CellExecutionError`` at the first error."""
    nb = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = nbclient.NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT,
                                     kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(Path(path).parent)}})
    # cleanup_kc: nbclient stops only the kernels it started itself, and this one's manager
    # is ours; without it every notebook's kernel (up to 1 GB) lived until the test process
    # ended, eleven of them in a suite
    client.execute(cleanup_kc=True)
    return nb


def stream_text(nb):
    """``(cell index, text)`` of every stream output of an executed notebook."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                yield index, output.get("text", "")
