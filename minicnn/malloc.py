"""Stop glibc from handing freed activation buffers back to the kernel after every step.

A training step allocates and frees the same few dozen multi-megabyte arrays every time. By
default glibc serves large blocks with ``mmap`` and returns them with ``munmap`` (and trims the
heap once free space passes a threshold), so each step maps fresh pages and takes thousands of
page faults, a large part of a step's time (benchmarks/HISTORY.md, "Freed memory kept").
Raising the two thresholds keeps the memory in the process for reuse. PyTorch avoids the same cost with its own caching allocator.

This only changes *when* memory goes back to the operating system, never results. It does
nothing on platforms without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory(trim_threshold: int = 1 << 29, mmap_threshold: int = 1 << 28) -> bool:
    """Raise glibc's trim and mmap thresholds (512 MiB and 256 MiB by default).

    Returns True when the settings were applied, False where glibc is not available.
    Idempotent: a second call does nothing.
    """
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold)) and \
        bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold))
    return _done
