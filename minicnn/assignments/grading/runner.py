"""Run a batch of calls on a submission's code in a separate, time-limited, sandboxed process.

The process level of grading, between ``evaluate`` (which cases, what verdict) and
``sandbox`` (what the process may see and do); ``child`` is the script the process runs.

The grader never imports a student's code. For each task it writes the inputs (``.npz``),
the calls (``.json``) and any reference caches (a pickle the grader made, read by the child)
to a fresh scratch directory, copies its *own* ``child.py`` there, and runs it in the
sandbox (``sandbox.Sandbox``: bubblewrap, an unprivileged user, or none) as::

    python -I -S -B child.py SUBMISSION SCRATCH SITE

(``-I -S``: no PYTHONPATH, no site-packages, no ``.pth`` files; ``-B``: no bytecode written
into the submission; the child's ``sys.path`` is the standard library, the submission and
``SITE``, a directory with only NumPy, Numba and llvmlite). Its environment is built from
scratch (nothing of the grader's leaks in), its standard output goes nowhere, its stderr is
kept (the tail) for messages. The arrays it writes are read back with ``allow_pickle=False``
and compared by the grader itself: nothing the child says about itself is trusted. A child
that hangs is killed after ``timeout`` seconds, with everything it started
(``Sandbox.cleanup``); one that exits early (``sys.exit``, ``os._exit``, a crash) simply
leaves calls without results. The child also limits itself (``child.limit_resources``): no
core dumps, files of at most 64 MB, 4 GiB of address space (a runaway allocation is a
MemoryError for that task, not a swapping machine).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minicnn.assignments.checks.base import CallOutcome
from minicnn.assignments.grading.sandbox import Sandbox, resolve_sandbox

CHILD = Path(__file__).with_name("child.py")
MAX_OUTPUT_BYTES = 64 * 1024 * 1024        # per file (the child sets RLIMIT_FSIZE to this)
STDERR_TAIL = 4000


@dataclass
class RunResult:
    outcomes: dict = field(default_factory=dict)   # call id -> CallOutcome
    timed_out: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    stderr: str = ""
    finished: bool = False          # the child got to the end of its calls
    sandbox: str = ""               # the mode it ran in

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
        return ""


def submission_root(path) -> Path:
    """The directory that holds the submission's ``minicnn`` package (itself or ``src/``)."""
    path = Path(path).resolve()
    for candidate in (path, path / "src"):
        if (candidate / "minicnn" / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"{path}: no minicnn/ package here (expected "
                            f"{path / 'minicnn' / '__init__.py'})")


#: Variables of the grader's environment that the child inherits: only those that keep the
#: numerical libraries working on this processor (set on some machines, see env notes).
PASSED_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL")


def _child_env(scratch: str, numba_cache: str | None = None) -> dict:
    """The child's whole environment: one thread per library, caches in its scratch
    directory (Numba's in the submission's session, if any), and nothing else of the
    grader's (no tokens, no paths)."""
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update({"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch,
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "NUMBA_NUM_THREADS": "1",
                "NUMBA_CACHE_DIR": numba_cache or f"{scratch}/.numba-cache",
                "MPLBACKEND": "Agg"})
    # No PYTHON* variables: the child runs "python -I -S -B", and -I ignores them all (a
    # PYTHONDONTWRITEBYTECODE and a PYTHONHASHSEED set here never took effect; -B on the
    # command line is what keeps bytecode out of the submission, grading/sandbox.py)
    return env


def _load_npz(path: Path) -> dict:
    data = io.BytesIO(_read_untrusted(path, MAX_OUTPUT_BYTES))
    with np.load(data, allow_pickle=False) as arrays:
        return {name: np.array(arrays[name]) for name in arrays.files}


def run_calls(root, calls, arrays, ref_caches=None, timeout=60.0,
              sandbox: Sandbox | str | None = None) -> RunResult:
    """Run ``calls`` (see ``child``) on the code under ``root`` in ``sandbox`` (a Sandbox,
    a mode name, or None: "none", for the public checks a student runs on their own copy);
    never raises for anything the student's code does."""
    root = Path(root).resolve()
    sandbox = resolve_sandbox(sandbox or "none")
    result = RunResult(sandbox=sandbox.name)
    work = Path(tempfile.mkdtemp(prefix="minicnn-grade-"))
    try:
        shutil.copy(CHILD, work / CHILD.name)
        (work / "spec.json").write_text(json.dumps({"calls": calls}))
        np.savez(work / "inputs.npz", **arrays)
        if ref_caches:
            with open(work / "ref_caches.pkl", "wb") as fh:
                pickle.dump(ref_caches, fh)
        with sandbox._serial if sandbox.exclusive else contextlib.nullcontext():
            _run_child(sandbox, root, work, timeout, result)
        _read_results(work, calls, result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_child(sandbox, root, work, timeout, result) -> None:
    """Start the child in ``sandbox``, wait at most ``timeout`` s, then kill all it left."""
    stderr_path = work.parent / f"{work.name}.stderr"
    env = _child_env(sandbox.visible_scratch(work), sandbox.numba_cache)
    launch = sandbox.prepare(CHILD, root, work, env)
    start = time.monotonic()
    try:
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(launch.argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=stderr,
                                    **launch.popen_kwargs)
            try:
                result.returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                result.timed_out = True
            finally:
                sandbox.cleanup(proc)          # whatever the student's code left running
                proc.wait()
        result.seconds = time.monotonic() - start
        size = stderr_path.stat().st_size
        with open(stderr_path, "rb") as fh:
            fh.seek(max(0, size - STDERR_TAIL))
            result.stderr = fh.read().decode("utf-8", "replace")
    except OSError:
        pass
    finally:
        stderr_path.unlink(missing_ok=True)


def _read_results(work, calls, result) -> None:
    """Read what the child wrote. The files are untrusted: each must be a regular file (not
    a link to one of the grader's files, not a device), of bounded size, and arrays are
    loaded without pickle."""
    out_dir = work / "out"
    if out_dir.is_symlink() or not out_dir.is_dir():
        out_dir = work / "missing"
    result.finished = (out_dir / "done").is_file() and not (out_dir / "done").is_symlink()
    for n, call in enumerate(calls):
        outcome = CallOutcome(error=None)
        try:
            status = json.loads(_read_untrusted(out_dir / f"{n}.json", 10000))
            if status.get("ok"):
                outcome.outputs = _load_npz(out_dir / f"{n}.npz")
            else:
                outcome.error = str(status.get("error", "failed"))[:2000]
        except (OSError, ValueError, AttributeError):
            outcome.error = result.problem or "no result (the process stopped early)"
        except Exception as exc:           # noqa: BLE001 - a malformed result file
            outcome.error = f"unreadable result ({type(exc).__name__})"
        result.outcomes[call["id"]] = outcome


def _read_untrusted(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ValueError(f"{path.name}: not a regular file of at most {limit} bytes")
        return fh.read(limit)
