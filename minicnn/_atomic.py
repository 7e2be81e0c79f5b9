"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

Used by checkpoints and by the data download. The data goes to a temporary file in the target
directory, is flushed to disk, optionally checked, given the permissions an ordinary
``open(path, "w")`` would have (``mkstemp`` alone makes it private to its owner), and only
then renamed over the target with ``os.replace``.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _default_file_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path, *, check=None, suffix: str = ".tmp"):
    """Yield a binary file object; on success move it into place at ``path``.

    ``check(tmp_path)``, if given, runs on the complete temporary file before the rename and may
    raise to reject it. On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        if check is not None:
            check(tmp)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
