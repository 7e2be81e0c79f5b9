"""``threads="auto"``: as many threads as the machine has idle cores (standard library only,
so the CLI can decide before NumPy loads BLAS).

Why idle cores and not all cores: minicnn's threads help only on cores nobody else uses; a
part of the batch that waits for a busy core holds up the whole layer (``python
benchmarks/train_step.py --scaling``; benchmarks/RESULTS.md, "Threads").

    resolve_threads("auto") = $MINICNN_THREADS if set, else
                              max(1, min(usable cores, MAX_AUTO_THREADS, round(idle cores)))

with the idle cores measured over ``SAMPLE_SECONDS`` from /proc/stat (Linux), else from the
1-minute load average, else taken to be all of them.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["AUTO", "MAX_AUTO_THREADS", "SAMPLE_SECONDS", "IDLE_THREAD_SETTINGS",
           "resolve_threads", "idle_cores", "usable_cores", "settle_idle_threads",
           "blas_threads_sleep", "busy_fraction", "layer_threads", "set_layer_threads"]

AUTO = "auto"
#: At most this many threads for "auto": a batch of 64 is then 8 images a thread. Only 1 and 2
#: threads have been measured (benchmarks/RESULTS.md); more is the same rule, untested.
MAX_AUTO_THREADS = 8
SAMPLE_SECONDS = 0.2
#: Environment variable that fixes what "auto" means (the test suite sets it to 1).
ENV_VARIABLE = "MINICNN_THREADS"

#: How long the libraries' idle threads spin before they sleep. Three thread pools take turns
#: in a training step (OpenBLAS's, Numba's OpenMP team, minicnn's conv batch parts), and a pool
#: left spinning holds the core the next one needs (benchmarks/HISTORY.md, "Idle library
#: threads"). Each library reads its variable when it starts its threads, so they must be set
#: before NumPy loads: ``minicnn train`` (the CLI) does it first thing; a script calls
#: ``minicnn.settle_idle_threads()`` before importing NumPy. ``import minicnn`` sets nothing.
IDLE_THREAD_SETTINGS = {"OPENBLAS_THREAD_TIMEOUT": "4", "GOMP_SPINCOUNT": "10000"}


def resolve_threads(value):
    """``value`` itself for an int or None; for ``"auto"``, the thread count to use (see the
    module docstring). A bad $MINICNN_THREADS is a ValueError naming it."""
    if value != AUTO:
        return value
    fixed = os.environ.get(ENV_VARIABLE, "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise ValueError(f"{ENV_VARIABLE} must be a whole number >= 1 (what threads="
                             f"'auto' means); got {fixed!r}")
        return int(fixed)
    return idle_cores()


def layer_threads() -> int:
    """Threads minicnn's own layers use (the direct and Winograd convolutions' batch parts,
    the parallel kernel builds): 1 until ``minicnn.train.set_threads`` / ``limit_threads``
    (or a training run, whose default is "auto") says otherwise. Numba's and BLAS's own
    counts do not decide it: a program that never asks for threads keeps the serial code it
    always had."""
    return _layer_threads


def set_layer_threads(n: int) -> int:
    """Set ``layer_threads()`` to ``n`` (>= 1); returns the previous value."""
    global _layer_threads
    previous, _layer_threads = _layer_threads, max(1, int(n))
    return previous


_layer_threads = 1


def settle_idle_threads() -> bool:
    """Tell the libraries' idle threads to sleep soon: set IDLE_THREAD_SETTINGS in the
    environment, keeping any value the user set. Call it before NumPy is imported (the CLI
    does); returns whether it came in time for OpenBLAS (see ``blas_threads_sleep``)."""
    global _blas_threads_sleep
    in_time = "numpy" not in sys.modules or "OPENBLAS_THREAD_TIMEOUT" in os.environ
    for variable, value in IDLE_THREAD_SETTINGS.items():
        os.environ.setdefault(variable, value)
    if _blas_threads_sleep is None:
        _blas_threads_sleep = in_time
    return _blas_threads_sleep


def blas_threads_sleep() -> bool:
    """Do this process's OpenBLAS idle threads sleep soon (OPENBLAS_THREAD_TIMEOUT set before
    BLAS loaded, by the user or by ``settle_idle_threads``)? When they spin ~0.1 s after every
    product, minicnn keeps BLAS at one thread whenever it runs several (minicnn.train.threads;
    benchmarks/HISTORY.md, "Idle library threads")."""
    if _blas_threads_sleep is None:
        return "OPENBLAS_THREAD_TIMEOUT" in os.environ
    return _blas_threads_sleep


# Decided by the first settle_idle_threads(): whether it came before NumPy loaded BLAS.
_blas_threads_sleep = None


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def idle_cores(sample_seconds: float = SAMPLE_SECONDS) -> int:
    """Threads for "auto": the usable cores that other work leaves idle, at least 1 and at
    most MAX_AUTO_THREADS."""
    usable = usable_cores()
    if usable == 1:
        return 1
    busy = _busy_cores(sample_seconds)
    idle = (os.cpu_count() or usable) - busy
    return max(1, min(usable, MAX_AUTO_THREADS, int(idle + 0.5)))


def _busy_cores(sample_seconds: float) -> float:
    """How many cores' worth of time the whole machine is spending busy right now."""
    fraction = busy_fraction(sample_seconds)
    if fraction is not None:
        return fraction * (os.cpu_count() or 1)
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def busy_fraction(sample_seconds: float):
    """Fraction of all cores' time spent busy over ``sample_seconds``, counting every process
    on the machine (Linux /proc/stat: user nice system idle iowait irq softirq steal), or None
    where it cannot be read (the benchmarks record it beside every timing too)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
        return sum(values), values[3] + values[4]       # total, idle + iowait
    try:
        total0, idle0 = sample()
        time.sleep(sample_seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return min(1.0, max(0.0, 1.0 - (idle1 - idle0) / (total1 - total0)))
