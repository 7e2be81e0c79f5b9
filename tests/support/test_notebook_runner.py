"""The notebooks' runner (tests/support/notebook_runner.py): it leaves no kernel behind, and a
student copy shares the checkout's Numba cache."""

import os
import subprocess
import sys
import time

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from support.notebook_runner import execute, seed_numba_cache, write_kernel_spec  # noqa: E402


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:          # a zombie is not alive
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
@pytest.mark.parametrize("fails", [False, True], ids=["runs", "fails"])
def test_the_kernel_is_stopped_when_the_notebook_ends(tmp_path, fails):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        f"import os; open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))")]
    if fails:
        nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('a failing cell')"))
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    kernels = write_kernel_spec(tmp_path / "kernels")
    if fails:
        with pytest.raises(Exception, match="a failing cell"):
            execute(path, kernels)
    else:
        execute(path, kernels)
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"the notebook's kernel (pid {pid}) still runs"


KERNEL_MODULE = '''from numba import njit


@njit(cache=True)
def twice(x):
    return 2 * x
'''


def _cache_hits(package_root, module):
    """Import ``module`` from ``package_root`` in a fresh process, call its cached kernel, and
    return (Numba's cache hits, misses) for it."""
    code = (f"import sys; sys.path.insert(0, {str(package_root)!r}); "
            f"from {module} import twice; twice(3); "
            "print(sum(twice.stats.cache_hits.values()), sum(twice.stats.cache_misses.values()))")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return tuple(int(n) for n in proc.stdout.split())


def test_a_copy_and_its_checkout_share_one_numba_cache(tmp_path):
    """A kernel compiled in the copy is loaded from the cache in the checkout, in a
    directory whose modules are all unchanged; a directory with an edited module keeps a
    cache of its own, seeded with the unchanged modules' entries."""
    checkout, copy = tmp_path / "checkout", tmp_path / "copy"
    for root in (checkout, copy):
        for directory in ("shared", "edited"):
            package = root / "minicnn" / directory
            package.mkdir(parents=True)
            for name in ("__init__.py", "kernel.py"):
                (package / name).write_text(KERNEL_MODULE if name == "kernel.py" else "")
        (root / "minicnn" / "__init__.py").write_text("")
    (copy / "minicnn" / "edited" / "task.py").write_text("# a student's stub\n")
    (checkout / "minicnn" / "edited" / "task.py").write_text("# the solution\n")
    assert _cache_hits(checkout, "minicnn.edited.kernel") == (0, 1)   # compiled, cached

    # linked: minicnn/__init__.py and shared/ (2); copied: edited/kernel.py's entries
    assert seed_numba_cache(copy, checkout) == 4
    assert (copy / "minicnn" / "shared" / "__pycache__").is_symlink()
    assert not (copy / "minicnn" / "edited" / "__pycache__").is_symlink()
    assert _cache_hits(copy, "minicnn.shared.kernel") == (0, 1)       # compiled in the copy
    assert _cache_hits(checkout, "minicnn.shared.kernel") == (1, 0)   # found by the checkout
    assert _cache_hits(copy, "minicnn.edited.kernel") == (1, 0)       # the seeded entry
    (copy / "minicnn" / "edited" / "kernel.py").write_text(KERNEL_MODULE + "\n")
    assert _cache_hits(copy, "minicnn.edited.kernel") == (0, 1)       # edited: compiled anew
    assert _cache_hits(checkout, "minicnn.edited.kernel") == (1, 0)   # the checkout's kept


def test_a_checkout_that_cannot_take_a_cache_is_not_linked(tmp_path):
    """Where the checkout's __pycache__ cannot be made (here a file stands in its place, as
    a read-only checkout refuses it), the copy keeps a cache of its own: no link, nothing
    removed from the copy."""
    checkout, copy = tmp_path / "checkout", tmp_path / "copy"
    for root in (checkout, copy):
        (root / "minicnn").mkdir(parents=True)
        (root / "minicnn" / "__init__.py").write_text("")
        (root / "minicnn" / "kernel.py").write_text(KERNEL_MODULE)
    (checkout / "minicnn" / "__pycache__").write_text("not a directory")
    (copy / "minicnn" / "__pycache__").mkdir()
    (copy / "minicnn" / "__pycache__" / "kept").write_text("")
    assert seed_numba_cache(copy, checkout) == 0
    assert not (copy / "minicnn" / "__pycache__").is_symlink()
    assert (copy / "minicnn" / "__pycache__" / "kept").exists()
    assert _cache_hits(copy, "minicnn.kernel") == (0, 1)        # compiled in the copy
