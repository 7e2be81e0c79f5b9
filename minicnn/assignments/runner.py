"""Run a batch of calls on a submission's code in a separate, time-limited process.

The grader never imports a student's code. For each task it writes the inputs (``.npz``),
the calls (``.json``) and any reference caches (a pickle the grader made) to a fresh
temporary directory, copies its *own* ``_child.py`` there, and runs::

    sys.executable -I _child.py SUBMISSION_ROOT WORK_DIR

(``-I``: no PYTHONPATH, no user site, no current directory on the path; the child puts the
submission first on ``sys.path`` and removes the editable-install finder that could fall
back to the grader's own minicnn). The child's standard output goes nowhere; its stderr is
kept (the tail) for messages. The arrays it writes are read back with
``allow_pickle=False`` and compared by the grader itself. A child that hangs is killed
(its whole process group) after ``timeout`` seconds; one that exits early (``sys.exit``,
``os._exit``, a crash) simply leaves calls without results. The child also limits itself
(``_child._limit_resources``): no core dumps, files of at most 64 MB, 4 GiB of address space
(a runaway allocation is a MemoryError for that task, not a swapping machine). None of this
is a security sandbox: the code runs as the grader's user.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minicnn.assignments.checks import CallOutcome

CHILD = Path(__file__).with_name("_child.py")
MAX_OUTPUT_BYTES = 64 * 1024 * 1024        # per file (the child sets RLIMIT_FSIZE to this)
STDERR_TAIL = 4000


@dataclass
class RunResult:
    outcomes: dict = field(default_factory=dict)   # call id -> CallOutcome
    timed_out: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    stderr: str = ""
    foreign_modules: list = field(default_factory=list)   # minicnn files from elsewhere
    finished: bool = False          # the child got to the end of its calls

    @property
    def problem(self) -> str:
        """What went wrong with the process as a whole ('' if nothing)."""
        if self.timed_out:
            return (f"timed out after {self.seconds:.0f} s (an infinite loop? the time limit "
                    f"is per task)")
        if self.returncode not in (0, None) or not self.finished:
            tail = self.stderr.strip().splitlines()[-1:] if self.stderr.strip() else []
            extra = f": {tail[0][:300]}" if tail else ""
            return (f"the process stopped with exit code {self.returncode} before finishing "
                    f"(sys.exit/os._exit or a crash?){extra}")
        if self.foreign_modules:
            return ("imported minicnn code from outside the submission: "
                    + ", ".join(self.foreign_modules[:3]))
        return ""


def submission_root(path) -> Path:
    """The directory that holds the submission's ``minicnn`` package (itself or ``src/``)."""
    path = Path(path).resolve()
    for candidate in (path, path / "src"):
        if (candidate / "minicnn" / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"{path}: no minicnn/ package here (expected "
                            f"{path / 'minicnn' / '__init__.py'})")


def _child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "NUMBA_NUM_THREADS": env.get("NUMBA_NUM_THREADS", "2"),
                "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0"})
    return env


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _load_npz(path: Path) -> dict:
    if path.stat().st_size > MAX_OUTPUT_BYTES:
        raise ValueError("result file too large")
    with np.load(path, allow_pickle=False) as data:
        return {name: np.array(data[name]) for name in data.files}


def run_calls(root, calls, arrays, ref_caches=None, timeout=60.0) -> RunResult:
    """Run ``calls`` (see ``_child``) on the code under ``root``; never raises for anything
    the student's code does."""
    root = Path(root).resolve()
    result = RunResult()
    work = Path(tempfile.mkdtemp(prefix="minicnn-grade-"))
    try:
        shutil.copy(CHILD, work / "_child.py")
        (work / "spec.json").write_text(json.dumps({"calls": calls}))
        np.savez(work / "inputs.npz", **arrays)
        if ref_caches:
            with open(work / "ref_caches.pkl", "wb") as fh:
                pickle.dump(ref_caches, fh)
        stderr_path = work / "stderr.txt"
        start = time.monotonic()
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(work / "_child.py"), str(root), str(work)],
                cwd=work, env=_child_env(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
            try:
                result.returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                result.timed_out = True
                _kill_group(proc)
                proc.wait()
            finally:
                _kill_group(proc)          # whatever the student's code left running
        result.seconds = time.monotonic() - start
        try:
            with open(stderr_path, "rb") as fh:
                fh.seek(max(0, stderr_path.stat().st_size - STDERR_TAIL))
                result.stderr = fh.read().decode("utf-8", "replace")
        except OSError:
            pass
        out_dir = work / "out"
        result.finished = (out_dir / "done").is_file()
        for n, call in enumerate(calls):
            status_path, npz_path = out_dir / f"{n}.json", out_dir / f"{n}.npz"
            outcome = CallOutcome(error=None)
            try:
                status = json.loads(status_path.read_text()[:10000])
                if status.get("ok") and npz_path.is_file():
                    outcome.outputs = _load_npz(npz_path)
                else:
                    outcome.error = str(status.get("error", "failed"))[:2000]
            except (OSError, ValueError, AttributeError):
                outcome.error = result.problem or "no result (the process stopped early)"
            except Exception as exc:           # noqa: BLE001 - a malformed result file
                outcome.error = f"unreadable result ({type(exc).__name__})"
            result.outcomes[call["id"]] = outcome
        try:
            modules = json.loads((out_dir / "modules.json").read_text()[:200000])
            for name, file in dict(modules).items():
                if file and not str(Path(str(file)).resolve()).startswith(str(root)):
                    result.foreign_modules.append(f"{name} ({file})")
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
