"""The grader's sandbox, attacked as a student who wants points they did not earn would.

Each attack is a submission whose ``relu_forward`` returns the right answer only if the
attack worked (it could read the instructor's solution, import PyTorch, reach the network,
see the grader's environment, ...), so "the attack failed" reads as "relu_forward earned 0".
Every attack runs in the bubblewrap sandbox (skipped where bubblewrap cannot start) and, where
the machine allows it (root, and an interpreter the unprivileged account can read), in the
unprivileged-user fallback; the ``none`` mode is tested for saying loudly what it is.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from minicnn.assignments.grading import sandbox as sandbox_module
from minicnn.assignments.grading.grade import grade_submission, write_json
from minicnn.assignments.registry import SOURCE_ROOT
from minicnn.assignments.grading.sandbox import SandboxError, resolve_sandbox

from assignment_helpers import SEED, inject, make_copy

pytestmark = pytest.mark.slow

TASK = "relu_forward"

# The attack's verdict: the right answer if it worked, a wrong one (costing the task) if not.
VERDICT = """
out = (np.maximum(x, 0) if worked else -np.abs(x) - 1).astype(x.dtype)
cache = (x,)
"""


def _bwrap_or_skip():
    try:
        return resolve_sandbox("bwrap")
    except SandboxError as exc:
        pytest.skip(f"bubblewrap cannot run here: {exc}")


@pytest.fixture(scope="module")
def readable_python(tmp_path_factory):
    """An interpreter the unprivileged account can read, with NumPy and Numba: a venv of the
    system Python in a world-readable directory (the grader's own may live under /root)."""
    if os.geteuid() != 0:
        pytest.skip("the user sandbox needs the grader to run as root")
    system_python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system_python.is_file():
        pytest.skip(f"no {system_python} to make an interpreter 'nobody' can read")
    import llvmlite
    import numba
    import numpy

    base = Path(f"/tmp/minicnn-child-python-{uuid.uuid4().hex[:8]}")
    base.mkdir(mode=0o755)
    try:
        subprocess.run([str(system_python), "-m", "venv", "--without-pip", str(base / "venv")],
                       check=True, capture_output=True, timeout=120)
        proc = subprocess.run([sys.executable, "-m", "pip", "--python",
                               str(base / "venv/bin/python"), "install", "-q", "--no-deps",
                               f"numpy=={numpy.__version__}", f"numba=={numba.__version__}",
                               f"llvmlite=={llvmlite.__version__}"],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.skip(f"could not install NumPy/Numba for the child: {proc.stderr[-300:]}")
        yield str(base / "venv/bin/python")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def user_sandbox(readable_python):
    try:
        return resolve_sandbox("user", user="nobody", python=readable_python)
    except SandboxError as exc:
        pytest.skip(f"the user sandbox cannot run here: {exc}")


def _attack(tmp_path, name, body) -> Path:
    root = make_copy(tmp_path / name, [TASK], restored=False)
    inject(root, TASK, textwrap.dedent(body) + VERDICT)
    return root


def _points(root, sandbox, **kwargs) -> float:
    report = grade_submission(root, [TASK], seed=SEED, sandbox=sandbox, timeout=60, **kwargs)
    return report.tasks[0].points


# ------------------------------------------------------------------------------- the attacks

def _read_instructor_solution():
    """(a) find the instructor's minicnn on disk and run its reference solution."""
    return f"""
        import sys

        def ours():
            return {{n: m for n, m in sys.modules.items()
                    if n == "minicnn" or n.startswith("minicnn.")}}

        worked = False
        saved_modules, saved_path = ours(), list(sys.path)
        try:
            sys.path.insert(0, {str(SOURCE_ROOT)!r})
            for name in saved_modules:
                del sys.modules[name]
            import minicnn.functional as reference
            worked = reference.__file__.startswith({str(SOURCE_ROOT)!r}) and \\
                reference.relu_forward(x)[0] is not None
        except BaseException:
            worked = False
        finally:
            for name in ours():
                del sys.modules[name]
            sys.modules.update(saved_modules)
            sys.path[:] = saved_path
    """


IMPORT_THROUGH_SITE = """
    # (a, b) the import machinery: put every site-packages back on the path, import the
    # instructor's minicnn or PyTorch, then tidy sys.modules so nothing shows
    import site, sys
    worked = False
    saved = dict(sys.modules)
    try:
        site.main()
        for extra in ("/usr/lib/python3/dist-packages", "/usr/local/lib/python3.11/dist-packages"):
            sys.path.append(extra)
        try:
            import torch
            worked = True
        except BaseException:
            pass
        for name in [n for n in sys.modules if n == "minicnn" or n.startswith("minicnn.")]:
            del sys.modules[name]
        sys.path[:] = [p for p in sys.path if "submission" not in p and "grade" not in p]
        try:
            import minicnn.assignments.checks.hidden_grids
            worked = True
        except BaseException:
            pass
    finally:
        sys.modules.clear()
        sys.modules.update(saved)
"""


def _read_private_file(path):
    return f"""
        try:
            worked = open({str(path)!r}).read() == "secret"
        except BaseException:
            worked = False
    """


SEE_ENVIRONMENT = """
    import os
    worked = os.environ.get("MINICNN_TEST_SECRET") == "secret"
"""


def _reach_network(port):
    return f"""
        import socket
        try:
            with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
                conn.sendall(b"leak")
            worked = True
        except BaseException:
            worked = False
    """


def _survive_and_rewrite(grades, marker):
    """(c) a process in a new session that outlives the child and rewrites the grade file."""
    return f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for _ in range(60):                     # up to 6 s after the child is gone
                    time.sleep(0.1)
                    try:
                        with open({str(grades)!r}, "w") as fh:
                            fh.write('{{"total": 9999}}')
                    except BaseException:
                        pass
                os.execv(sys.executable, [sys.executable, "-c",
                         "import time; time.sleep(60)  # {marker}"])
            os._exit(0)
        worked = False
    """


@pytest.fixture
def listener():
    """A TCP server on loopback that records whether anything connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    seen = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                seen.append(conn.recv(16))
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(2)
    server.close()


def _alive_with(marker) -> list:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


# ------------------------------------------------------------------------------- bubblewrap

def test_an_honest_submission_earns_its_points_in_bubblewrap(tmp_path):
    sandbox = _bwrap_or_skip()
    root = _attack(tmp_path, "honest", "worked = True")
    report = grade_submission(root, [TASK], seed=SEED, sandbox=sandbox)
    assert report.tasks[0].points == report.tasks[0].max_points, report.tasks[0].message
    assert report.sandbox == "bwrap" and report.as_dict()["sandbox"] == "bwrap"
    assert "sandbox: bwrap" in report.table()


def test_bubblewrap_hides_the_instructors_solution(tmp_path):
    sandbox = _bwrap_or_skip()
    assert _points(_attack(tmp_path, "file", _read_instructor_solution()), sandbox) == 0


def test_bubblewrap_hides_site_packages_torch_and_the_graders_minicnn(tmp_path):
    sandbox = _bwrap_or_skip()
    assert _points(_attack(tmp_path, "site", IMPORT_THROUGH_SITE), sandbox) == 0


def test_bubblewrap_hides_the_graders_files_and_environment(tmp_path, monkeypatch):
    sandbox = _bwrap_or_skip()
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("secret")
    secret.chmod(0o644)
    assert _points(_attack(tmp_path, "read", _read_private_file(secret)), sandbox) == 0
    monkeypatch.setenv("MINICNN_TEST_SECRET", "secret")
    assert _points(_attack(tmp_path, "env", SEE_ENVIRONMENT), sandbox) == 0


def test_bubblewrap_has_no_network(tmp_path, listener):
    sandbox = _bwrap_or_skip()
    port, seen = listener
    assert _points(_attack(tmp_path, "net", _reach_network(port)), sandbox) == 0
    assert seen == []


def test_bubblewrap_kills_a_detached_process_before_the_grade_is_written(tmp_path):
    sandbox = _bwrap_or_skip()
    grades, marker = tmp_path / "grades.json", f"minicnn-survivor-{uuid.uuid4().hex}"
    root = _attack(tmp_path, "survivor", _survive_and_rewrite(grades, marker))
    report = grade_submission(root, [TASK], seed=SEED, sandbox=sandbox)
    assert _alive_with(marker) == []
    write_json(report.as_dict(), grades)
    written = grades.read_text()
    time.sleep(2.0)
    assert grades.read_text() == written and json.loads(written)["total"] == 0
    assert _alive_with(marker) == []


def _linked_to_the_solution(tmp_path) -> Path:
    """A release whose task file is a symbolic link to the instructor's solution."""
    root = make_copy(tmp_path / "links", [TASK], restored=False)
    target = root / "minicnn" / "functional" / "activation.py"
    target.unlink()
    target.symlink_to(SOURCE_ROOT / "minicnn" / "functional" / "activation.py")
    return root


def test_a_submission_made_of_links_to_the_solution_gets_nothing(tmp_path):
    sandbox = _bwrap_or_skip()
    assert _points(_linked_to_the_solution(tmp_path), sandbox) == 0


# ---------------------------------------------------------------------- the unprivileged user

def test_user_sandbox_grades_an_honest_submission(tmp_path, user_sandbox):
    root = _attack(tmp_path, "honest", "worked = True")
    report = grade_submission(root, [TASK], seed=SEED, sandbox=user_sandbox)
    assert report.tasks[0].passed, report.tasks[0].message
    assert report.sandbox == "user" and "sandbox: user" in report.table()


def test_user_sandbox_protects_private_files_and_the_environment(tmp_path, user_sandbox,
                                                                  monkeypatch):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "secret.txt").write_text("secret")
    assert _points(_attack(tmp_path, "read", _read_private_file(private / "secret.txt")),
                   user_sandbox) == 0
    monkeypatch.setenv("MINICNN_TEST_SECRET", "secret")
    assert _points(_attack(tmp_path, "env", SEE_ENVIRONMENT), user_sandbox) == 0


def test_user_sandbox_kills_every_process_of_the_account(tmp_path, user_sandbox):
    grades, marker = tmp_path / "grades.json", f"minicnn-survivor-{uuid.uuid4().hex}"
    grades.parent.chmod(0o755)
    root = _attack(tmp_path, "survivor", _survive_and_rewrite(grades, marker))
    report = grade_submission(root, [TASK], seed=SEED, sandbox=user_sandbox)
    assert _alive_with(marker) == []
    write_json(report.as_dict(), grades)
    written = grades.read_text()
    time.sleep(2.0)
    assert grades.read_text() == written
    assert _alive_with(marker) == []


def test_user_sandbox_ignores_links_in_the_submission(tmp_path, user_sandbox):
    assert _points(_linked_to_the_solution(tmp_path), user_sandbox) == 0


def test_user_sandbox_warns_when_the_reference_is_readable(user_sandbox):
    readable = sandbox_module._readable_by_others(
        SOURCE_ROOT / "minicnn" / "functional" / "conv.py")
    warned = any("reference solutions are readable" in w for w in user_sandbox.warnings)
    assert warned == readable


# ----------------------------------------------------------------------------- choosing modes

def test_no_sandbox_says_so_in_the_table_and_the_json(tmp_path):
    root = _attack(tmp_path, "honest", "worked = True")
    report = grade_submission(root, [TASK], seed=SEED, sandbox="none")
    assert report.tasks[0].passed
    data = report.as_dict()
    assert data["sandbox"] == "none" and data["sandbox_warnings"]
    table = report.table()
    assert "sandbox: NONE" in table and "WARNING: no sandbox" in table


def test_auto_prefers_bubblewrap():
    _bwrap_or_skip()
    assert resolve_sandbox("auto").name == "bwrap"


def test_a_mode_that_cannot_run_is_an_error_that_says_why(monkeypatch):
    with pytest.raises(ValueError, match="sandbox must be one of"):
        resolve_sandbox("docker")
    with pytest.raises(SandboxError, match="no account 'no-such-grader-account'"
                       if os.geteuid() == 0 else "run as root"):
        resolve_sandbox("user", user="no-such-grader-account")
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox_module, "_resolved", {})
    with pytest.raises(SandboxError, match="bubblewrap is not installed"):
        resolve_sandbox("bwrap")
    fallback = resolve_sandbox("auto")
    assert fallback.name in ("user", "none")
    assert any("bubblewrap is not installed" in w for w in fallback.warnings)


def test_the_cli_reports_the_sandbox_in_the_json(tmp_path):
    root = _attack(tmp_path, "honest", "worked = True")
    out = tmp_path / "grade.json"
    proc = subprocess.run([sys.executable, "-m", "minicnn.assignments", "grade", str(root),
                           "--tasks", TASK, "--json", str(out), "--sandbox", "none",
                           "--seed", str(SEED)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" in proc.stderr and "sandbox: NONE" in proc.stdout
    assert json.loads(out.read_text())["sandbox"] == "none"


def test_the_attacks_do_work_without_a_sandbox(tmp_path, monkeypatch, listener):
    """The attacks above are real: unsandboxed, each one earns the points (so the tests
    that show a sandbox stopping them can fail)."""
    port, seen = listener
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("secret")
    attacks = {"file": _read_instructor_solution(), "read": _read_private_file(secret),
               "net": _reach_network(port)}
    for name, body in attacks.items():
        assert _points(_attack(tmp_path, name, body), "none") == 2, name
    assert seen and set(seen) == {b"leak"}


def test_the_graders_environment_never_reaches_the_child(tmp_path, monkeypatch):
    """The child's environment is built from scratch in every mode (a token in the grader's
    environment is not the submission's to read), and the control case shows the variable
    would be visible if it were passed."""
    monkeypatch.setenv("MINICNN_TEST_SECRET", "secret")
    assert _points(_attack(tmp_path, "env", SEE_ENVIRONMENT), "none") == 0
    monkeypatch.setattr("minicnn.assignments.grading.runner.PASSED_THROUGH",
                        ("MINICNN_TEST_SECRET",))
    assert _points(_attack(tmp_path, "env_passed", SEE_ENVIRONMENT), "none") == 2


def test_each_submission_gets_its_own_numba_cache_and_it_is_removed():
    """The task children of one submission share a Numba cache (compiling the kernels again
    in every child costs seconds); two submissions never do (one student's compiled code
    must not reach another's run), and the session is gone after grading."""
    base = resolve_sandbox("none")
    with base.for_submission() as first, base.for_submission() as second:
        assert first.session != second.session
        assert first.numba_cache != second.numba_cache
        assert Path(first.numba_cache).is_dir()
        with first.for_submission() as nested:
            assert nested.session == first.session
        session = Path(first.session)
    assert not session.exists()
    assert base.session is None
