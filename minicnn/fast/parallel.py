"""Running one layer's work on several threads: the batch split into one part per thread.

Images of a batch are independent in a convolution's forward pass and in its dL/dX, so with
``T`` threads (``minicnn.train.set_threads``; ``minicnn.cores.layer_threads``) the batch
is cut into ``T`` contiguous parts and each part runs the whole serial algorithm (tile
transforms in Numba, products in BLAS) on its own thread, writing its own slice of the
output. Only dL/dW and dL/db are sums over all images: each part returns its partial sum and
the caller adds them.

Why not the libraries' own threads: BLAS splits one matrix product across threads, and the
products here (e.g. 16 of (64 x 32) @ (32 x 512) per chunk of conv2) are too small for that
to pay (benchmarks/RESULTS.md, "Threads"). Whole-algorithm parts need no synchronisation
until the end.

Inside the parts BLAS is held at one thread (two threads' products would otherwise queue
for BLAS's one thread pool), and the Numba kernels are compiled with ``nogil=True`` so the
threads run at the same time. With one thread nothing changes: the part is the batch and
runs on the calling thread.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

from minicnn.cores import layer_threads

__all__ = ["batch_parts", "run_parts"]

_POOL_LOCK = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0                       # the process that made the pool (a forked child has none)
_blas = None                        # threadpoolctl's ThreadpoolController, made once


def batch_parts(n_batch: int, threads: int | None = None) -> list[tuple[int, int]]:
    """Contiguous image ranges ``[(n0, n1), ...]``, one per thread (at most ``n_batch``),
    sizes differing by at most one. ``threads=None``: minicnn's thread count
    (``minicnn.cores.layer_threads``, set by ``minicnn.train.set_threads``)."""
    if threads is None:
        threads = layer_threads()
    parts = max(1, min(int(threads), int(n_batch)))
    bounds = [n_batch * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts)]


def run_parts(function, parts):
    """``[function(n0, n1) for (n0, n1) in parts]``, the parts on concurrent threads (the
    first on the calling thread), BLAS held at one thread meanwhile. An exception in any
    part is raised here once every part has finished."""
    if len(parts) == 1:
        return [function(*parts[0])]
    pool = _thread_pool(len(parts) - 1)
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [pool.submit(function, *part) for part in parts[1:]]
        try:
            first = function(*parts[0])
        finally:
            concurrent.futures.wait(futures)
    return [first] + [future.result() for future in futures]


def _thread_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """The module's worker threads, at least ``workers`` of them (grown, never shrunk). A
    process forked after the pool was made inherits the pool object but not its threads, so
    it makes its own (work submitted to the inherited one would wait forever)."""
    global _pool, _pool_size, _pool_pid
    with _POOL_LOCK:
        forked = _pool is not None and _pool_pid != os.getpid()
        if _pool is None or forked or _pool_size < workers:
            if _pool is not None and not forked:
                _pool.shutdown(wait=True)
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="minicnn-part")
            _pool_size, _pool_pid = workers, os.getpid()
        return _pool


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS, inspected once (a fresh inspection costs far
    more than limiting through a kept controller)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
    return _blas
