"""The batch split behind multi-threaded layers (minicnn/fast/parallel.py), and the
Winograd and direct convolutions run in parts: the same numbers as one thread, whatever the
part count."""

import threading

import numpy as np
import pytest

import minicnn.fast.parallel as parallel
import minicnn.fast.conv.direct as conv_direct
import minicnn.fast.conv.winograd as conv_winograd
from minicnn.functional.conv import conv2d_backward, conv2d_forward
from minicnn.fast.conv.direct import conv2d_direct_backward, conv2d_direct_forward
from minicnn.fast.conv.winograd import conv2d_winograd_backward, conv2d_winograd_forward
from minicnn.gradcheck import rel_error


@pytest.mark.parametrize("n_batch, threads", [(64, 1), (64, 2), (7, 3), (2, 5), (1, 8),
                                              (10, 4)])
def test_batch_parts_cover_the_batch_once_in_near_equal_contiguous_parts(n_batch, threads):
    parts = parallel.batch_parts(n_batch, threads)
    assert len(parts) == min(n_batch, threads)
    assert parts[0][0] == 0 and parts[-1][1] == n_batch
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))          # contiguous, no gap
    sizes = [stop - first for first, stop in parts]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_batch_parts_follow_minicnns_thread_count_not_numbas():
    import numba
    from minicnn.train import limit_threads
    assert len(parallel.batch_parts(1000)) == 1          # nobody asked for threads
    with limit_threads(2):
        assert len(parallel.batch_parts(1000)) == min(2, numba.config.NUMBA_NUM_THREADS)
    assert len(parallel.batch_parts(1000)) == 1


def test_run_parts_returns_results_in_part_order_from_concurrent_threads():
    started = threading.Barrier(3, timeout=10)   # passes only if all three run at once
    names = {}

    def work(first, stop):
        started.wait()
        names[first] = threading.current_thread().name
        return list(range(first, stop))

    parts = parallel.batch_parts(9, 3)
    assert parallel.run_parts(work, parts) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert names[0] == threading.current_thread().name      # the first part: this thread
    assert len(set(names.values())) == 3


def test_run_parts_holds_blas_at_one_thread_inside_and_restores_it():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        seen = parallel.run_parts(lambda first, stop: blas_threads(), [(0, 1), (1, 2)])
        assert seen == [[1] * len(before)] * 2
        assert blas_threads() == before


def test_an_error_in_one_part_is_raised_after_every_part_finished():
    finished = []

    def work(first, stop):
        if first == 1:
            raise ValueError("part 1 failed")
        finished.append(first)
        return first

    with pytest.raises(ValueError, match="part 1 failed"):
        parallel.run_parts(work, parallel.batch_parts(3, 3))
    assert sorted(finished) == [0, 2]


# --------------------------------------------------------------------------------------------
# Winograd in parts
# --------------------------------------------------------------------------------------------

@pytest.fixture(params=[2, 3, 5])
def parts(request, monkeypatch):
    """Winograd split into this many parts (at most one per image), whatever the machine's
    core count."""
    count = request.param
    monkeypatch.setattr(conv_winograd, "batch_parts",
                        lambda n_batch: parallel.batch_parts(n_batch, count))
    return count


def _winograd(x, weight, bias, dout, padding):
    out, kept = conv2d_winograd_forward(x, weight, bias, (padding, padding))
    return (out, *conv2d_winograd_backward(dout, kept, weight, (padding, padding)))


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n, c_in, hw, c_out, kernel, padding",
                         [(1, 8, 6, 4, 3, 1), (2, 3, 7, 5, 3, 0), (7, 8, 9, 16, 3, 1),
                          (5, 2, 4, 3, 3, 2), (3, 4, 8, 6, 5, 2), (4, 3, 7, 5, 7, 3)])
@pytest.mark.parametrize("small", [False, True], ids=["chunks", "bands-of-tile-rows"])
def test_winograd_in_parts_matches_one_part_and_the_naive_sum(rng, monkeypatch, parts, dtype,
                                                              tolerance, n, c_in, hw, c_out,
                                                              kernel, padding, small):
    if small:     # chunks of a tile row or so: each part splits its images into bands
        monkeypatch.setattr(conv_winograd, "WINOGRAD_CHUNK_BYTES", 2048)
        monkeypatch.setattr(conv_winograd, "MIN_CHUNK_TILES", 1)
    x = rng.standard_normal((n, c_in, hw, hw + 1)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    out_shape = (n, c_out, hw + 2 * padding - kernel + 1, hw + 2 * padding - kernel + 2)
    dout = rng.standard_normal(out_shape).astype(dtype)
    got = _winograd(x, weight, bias, dout, padding)
    naive_out, cache = conv2d_forward(x, weight, bias, 1, padding, method="naive")
    naive = (naive_out, *conv2d_backward(dout, cache))
    monkeypatch.setattr(conv_winograd, "batch_parts", lambda n_batch: [(0, n_batch)])
    one_part = _winograd(x, weight, bias, dout, padding)
    for name, g, single, reference in zip(("out", "dx", "dweight", "dbias"), got, one_part,
                                          naive):
        assert g.dtype == dtype and g.shape == reference.shape, name
        # (dW and db are partial sums added at the end; the products' widths change with
        # the parts, so even out and dX may differ in the last bits on another BLAS)
        assert rel_error(g, single) < tolerance, name
        assert rel_error(g, reference) < tolerance, name


def test_winograd_backward_in_other_parts_than_the_forward(rng, monkeypatch):
    # the thread count changed between the passes: the backward's chunks that the forward
    # kept no V for compute it again, the others use the kept V
    x = rng.standard_normal((7, 8, 9, 10))
    weight, bias = rng.standard_normal((5, 8, 3, 3)), rng.standard_normal(5)
    dout = rng.standard_normal((7, 5, 9, 10))
    monkeypatch.setattr(conv_winograd, "batch_parts", lambda n_batch: [(0, 3), (3, 7)])
    out, kept = conv2d_winograd_forward(x, weight, bias, (1, 1))
    assert sorted(kept[1]) == [(0, 3, 0, 3), (3, 7, 0, 3)]   # a chunk a part, 3 tile rows
    monkeypatch.setattr(conv_winograd, "batch_parts", lambda n_batch: [(0, 3), (3, 5), (5, 7)])
    got = (out, *conv2d_winograd_backward(dout, kept, weight, (1, 1)))
    naive_out, cache = conv2d_forward(x, weight, bias, 1, 1, method="naive")
    for name, g, reference in zip(("out", "dx", "dweight", "dbias"), got,
                                  (naive_out, *conv2d_backward(dout, cache))):
        assert rel_error(g, reference) < 1e-12, name


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n, c_in, c_out", [(1, 3, 5), (7, 8, 16), (4, 2, 3)])
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "image-by-image"])
@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), (5, 1)])
def test_direct_in_parts_matches_one_part_and_the_naive_sum(rng, monkeypatch, count, dtype,
                                                            tolerance, n, c_in, c_out,
                                                            chunk_bytes, kernel, stride):
    if chunk_bytes is not None:
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", chunk_bytes)
    x = rng.standard_normal((n, c_in, 6, 7)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    out_h, out_w = -(-6 // stride), -(-7 // stride)           # ceil(H / s), ceil(W / s)
    dout = rng.standard_normal((n, c_out, out_h, out_w)).astype(dtype)

    def direct():
        out, planes = conv2d_direct_forward(x, weight, bias, stride)
        return (out, *conv2d_direct_backward(dout, planes, weight, x.shape))

    monkeypatch.setattr(conv_direct, "batch_parts",
                        lambda n_batch: parallel.batch_parts(n_batch, count))
    got = direct()
    monkeypatch.setattr(conv_direct, "batch_parts", lambda n_batch: [(0, n_batch)])
    one_part = direct()
    naive_out, cache = conv2d_forward(x, weight, bias, stride, kernel // 2, method="naive")
    naive = (naive_out, *conv2d_backward(dout, cache))
    for name, g, single, reference in zip(("out", "dx", "dweight", "dbias"), got, one_part,
                                          naive):
        assert g.dtype == dtype and g.shape == reference.shape, name
        assert rel_error(g, single) < tolerance, name
        assert rel_error(g, reference) < tolerance, name


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_runs_parts_on_threads_of_its_own():
    import os
    parallel.run_parts(lambda first, stop: first, [(0, 1), (1, 2), (2, 3)])  # parent's pool
    parent_pool = parallel._thread_pool(2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the child: must not wait on dead threads
        try:
            result = parallel.run_parts(lambda first, stop: stop, [(0, 1), (1, 2), (2, 3)])
            own_pool = parallel._thread_pool(2) is not parent_pool
            os.write(write, repr((result, own_pool)).encode())
        finally:
            os._exit(0)
    os.close(write)
    import select
    ready, _, _ = select.select([read], [], [], 30)
    output = os.read(read, 100).decode() if ready else "timed out"
    os.waitpid(pid, 0) if ready else os.kill(pid, 9)
    # (the inherited pool has no threads; whether work sent to it hangs depends on its idle
    # count at the fork, so the test also checks that the child made a pool of its own)
    assert output == "([1, 2, 3], True)"
