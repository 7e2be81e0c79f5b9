"""The notebooks' runner (tests/support/notebook_runner.py) leaves no kernel behind."""

import os
import time

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from support.notebook_runner import execute, write_kernel_spec  # noqa: E402


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
