"""Thread counts for NumPy's BLAS and Numba's parallel loops (``--threads``).

BLAS is limited through threadpoolctl, which works after NumPy has been imported (the
``*_NUM_THREADS`` environment variables are read only once, when BLAS loads); Numba through
``numba.set_num_threads``. ``"auto"`` (the default, ``config.DEFAULT_THREADS``) means as many
threads as there are idle cores (minicnn/cores.py). BLAS gets one thread instead of ``n`` when
NumPy was imported before minicnn without OPENBLAS_THREAD_TIMEOUT (``blas_thread_count``).
"""

from __future__ import annotations

import contextlib
import os

from threadpoolctl import threadpool_limits

from minicnn.cores import blas_threads_sleep, resolve_threads, set_layer_threads

__all__ = ["set_threads", "limit_threads"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def set_threads(n: int | str | None) -> None:
    """Use ``n`` threads for BLAS (NumPy's matrix products), Numba's parallel loops and
    minicnn's own layers (the direct and Winograd convolutions' batch parts, the parallel
    kernel builds; until this is called they run on one thread), for the rest of the process
    (the CLI's ``--threads``; ``limit_threads`` is the scoped form).
    ``None`` leaves both as they are; ``"auto"`` counts the idle cores.

    The OMP/OPENBLAS/MKL_NUM_THREADS variables are set too, for child processes.
    """
    n = resolve_threads(n)
    if n is None:
        return
    n = int(n)
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(n)
    threadpool_limits(limits=blas_thread_count(n))
    _set_numba_threads(n)
    set_layer_threads(n)


def blas_thread_count(n: int) -> int:
    """BLAS's share of ``n`` threads: ``n``, or 1 when this process's OpenBLAS threads spin
    after each product (see minicnn.cores.blas_threads_sleep). Call
    ``minicnn.settle_idle_threads()`` before importing NumPy (the CLI does), or set
    OPENBLAS_THREAD_TIMEOUT=4, to give BLAS the threads too."""
    return n if n <= 1 or blas_threads_sleep() else 1


def _set_numba_threads(n: int) -> int:
    """Set Numba's thread count (capped at its pool size); returns the previous count."""
    import numba        # here, not at the top: ``minicnn --help`` need not load Numba
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    return previous


@contextlib.contextmanager
def limit_threads(n: int | str | None):
    """``with limit_threads(1): ...``: the thread counts of ``set_threads`` inside the block
    only (``None``: leave them as they are; ``"auto"``: the idle cores)."""
    n = resolve_threads(n)
    if n is None:
        yield
        return
    blas = threadpool_limits(limits=blas_thread_count(int(n)))
    previous = _set_numba_threads(n)
    previous_layers = set_layer_threads(n)
    try:
        yield
    finally:
        set_layer_threads(previous_layers)
        _set_numba_threads(previous)
        blas.restore_original_limits()
