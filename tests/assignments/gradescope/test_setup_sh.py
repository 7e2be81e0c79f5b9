"""setup.sh's choice of the interpreter both venvs are made from: one the student account can
run (the graded code's venv links to it), never a private one under /root taken from PATH.

The choice runs for real (runuser, the real /usr/bin), with ``apt-get`` replaced by a shell
function that installs nothing, on interpreters set up here: this machine's own PATH puts
root's pyenv first, which is the case that failed ("Permission denied").
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from minicnn.assignments.gradescope.scripts import setup_script

STUDENT = "nobody"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="the choice asks runuser whether the student account can run an interpreter")


def _choice_functions(python_version: str) -> str:
    """The part of the real setup.sh that chooses the interpreter (its two functions)."""
    text = setup_script(wheel="minicnn-0-py3-none-any.whl", tasks=["relu_forward"],
                        minicnn_version="0", python_version=python_version,
                        numpy_version="1", numba_version="1", llvmlite_version="1")
    start = text.index("runs_for_student() {")
    end = text.index('PYTHON="$(choose_python)"')
    return text[start:end]


def choose(python_version: str, path: str) -> subprocess.CompletedProcess:
    """Run ``choose_python`` as setup.sh would, with ``PATH=path`` and no package installs."""
    harness = (f"STUDENT_USER={STUDENT}\nPYTHON_VERSION={python_version}\n"
               f"PINS=(numpy==1)\napt-get() {{ echo \"apt-get $*\" >&2; return 1; }}\n"
               + _choice_functions(python_version) + "choose_python\n")
    return subprocess.run(["bash", "-c", harness], capture_output=True, text=True,
                          env={"PATH": path}, timeout=120)


@pytest.fixture
def shared_dir():
    """A directory every account can search (pytest's shared_dir is under a private one)."""
    directory = Path(tempfile.mkdtemp(prefix="minicnn-setup-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _private_python(directory: Path, name: str) -> Path:
    """A working interpreter ``name`` that only root can reach (as under /root/.pyenv)."""
    directory.mkdir(mode=0o700)
    target = directory / name
    target.symlink_to(Path(sys.executable).resolve())
    directory.chmod(0o700)
    return target


def test_the_system_interpreter_wins_over_roots_pyenv_on_path():
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    system = Path(f"/usr/bin/python{version}")
    if not system.is_file():
        pytest.skip(f"no {system} on this machine")
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    found = shutil.which(f"python{version}", path=path)
    proc = choose(version, path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(system), (found, proc.stdout, proc.stderr)
    if found and found.startswith("/root/"):
        # the old choice (the first on PATH) was this private one, which the account cannot run
        denied = subprocess.run(["runuser", "-u", STUDENT, "--", found, "-c", "pass"],
                                capture_output=True, text=True)
        assert denied.returncode != 0


def test_a_private_interpreter_on_path_is_refused_with_what_to_do(shared_dir):
    private = _private_python(shared_dir / "private", "python3.97")
    proc = choose("3.97", f"{private.parent}:/usr/sbin:/usr/bin:/sbin:/bin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "/usr/bin/python3"           # the fallback, with a warning
    assert f"{private} (on PATH) cannot be run by {STUDENT}" in proc.stderr
    assert "apt-get install python3.97 python3.97-venv" in proc.stderr
    assert "WARNING" in proc.stderr


def test_an_interpreter_on_path_that_every_account_can_run_is_taken(shared_dir):
    public = shared_dir / "bin"
    public.mkdir(mode=0o755)
    (public / "python3.97").symlink_to("/usr/bin/python3")
    proc = choose("3.97", f"{public}:/usr/sbin:/usr/bin:/sbin:/bin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(public / "python3.97")
    assert "apt-get install -y -q --no-install-recommends python3.97 python3.97-venv" \
        in proc.stderr                          # it tried the system package first


def test_no_interpreter_the_account_can_run_stops_setup(shared_dir):
    private = _private_python(shared_dir / "private", "python3.97")
    harness = _choice_functions("3.97").replace("/usr/bin/python3", str(shared_dir / "none"))
    proc = subprocess.run(
        ["bash", "-c", f"STUDENT_USER={STUDENT}\nPYTHON_VERSION=3.97\nPINS=()\n"
                       f"apt-get() {{ return 1; }}\n{harness}choose_python\n"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": f"{private.parent}:/usr/sbin:/usr/bin:/sbin:/bin"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"no Python that {STUDENT} can run" in proc.stderr
