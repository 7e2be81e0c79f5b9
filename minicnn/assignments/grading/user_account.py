"""The unprivileged account of the ``user`` sandbox: what a child running as it may start,
handing it the scratch directory, and killing every process it has left.

(Only the standard library: ``limit_processes`` runs in the child once it is that account,
which may not be able to read the grader's Python to import anything else.)
"""

from __future__ import annotations

import os
import resource
import signal
import time
from pathlib import Path

MAX_PROCESSES = 256          # RLIMIT_NPROC of the unprivileged account (no fork bombs)


def kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def limit_processes() -> None:
    """In the child, once it is the unprivileged user: at most MAX_PROCESSES processes for
    that account, no core dumps. (``resource`` is imported at the top: this runs as that
    user, who may not be able to read the grader's Python to import anything.)"""
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def processes_of(uid: int) -> list:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def kill_account(uid: int, patience: float = 5.0) -> None:
    """SIGKILL every process of ``uid`` (a helper that becomes ``uid`` and calls
    ``kill(-1)``, which a fork bomb cannot outrun), until none is left."""
    deadline = time.monotonic() + patience
    while processes_of(uid) and time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:                                  # pragma: no cover - the helper
            try:
                os.setgroups([])
                os.setgid(os.getgid() if uid == 0 else uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.01)


def hand_over(scratch: Path, uid: int, gid: int) -> None:
    """The scratch directory becomes the unprivileged account's (it writes its outputs
    there); the files the grader put in it stay readable, not writable, by it."""
    os.chmod(scratch, 0o700)
    os.chown(scratch, uid, gid)
    for path in scratch.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o644)
