"""One loop nest, two machine-code builds: serial, and with ``parallel=True``.

The memory-bound kernels (BatchNorm, ReLU, pooling, Adam) are written with ``prange`` on their
outer loop. ``@serial_and_parallel(...)`` compiles each twice: ``.serial`` (there ``prange``
is plain ``range``) and ``.parallel`` (Numba splits the ``prange`` loop across its threads).
A call runs the parallel build only when minicnn runs more than one thread
(``minicnn.cores.layer_threads``), i.e. when the user asked for threads (``--threads``,
``minicnn.train.set_threads``; a training run's default ``auto`` counts the idle cores). With
one thread nothing changes: the serial build runs, as before.

Why not always parallel: on a busy machine a parallel region waits for its slowest thread,
and a descheduled thread costs a scheduler time slice; on idle cores it pays
(benchmarks/RESULTS.md, "Threads").

The two builds are cached on disk under different names: Numba's cache files are named after
the function and its index does not tell a parallel build from a serial one, so the parallel
build is compiled from a copy of the function renamed ``<name>__parallel``.
"""

from __future__ import annotations

import functools
import types

import numba
from numba import njit

from minicnn.cores import layer_threads

__all__ = ["serial_and_parallel"]


class _TwoBuilds:
    """Calls ``parallel`` when minicnn runs more than one thread, else ``serial``."""

    def __init__(self, function, serial, parallel):
        functools.update_wrapper(self, function)
        self.py_func = function          # the plain Python loop nest, as a njit function has
        self.serial = serial
        self.parallel = parallel

    def __call__(self, *args):
        if layer_threads() > 1:
            return self.parallel(*args)
        return self.serial(*args)


def serial_and_parallel(**options):
    """Decorator: ``njit(**options)`` and ``njit(parallel=True, **options)`` of the function,
    chosen per call by minicnn's thread count. With ``NUMBA_DISABLE_JIT=1`` the function itself
    is returned (plain Python, ``prange`` = ``range``)."""
    def decorate(function):
        if numba.config.DISABLE_JIT:
            return function
        renamed = types.FunctionType(function.__code__, function.__globals__,
                                     function.__name__ + "__parallel", function.__defaults__,
                                     function.__closure__)
        renamed.__qualname__ = function.__qualname__ + "__parallel"
        renamed.__module__ = function.__module__
        renamed.__doc__ = function.__doc__
        return _TwoBuilds(function, njit(**options)(function),
                          njit(parallel=True, **options)(renamed))
    return decorate
