"""The kernels built twice (minicnn/fast/kernels/_two_builds.py): serial for one thread, parallel
for more; both builds give the serial numbers, each is cached under its own name, and the
call picks the build by Numba's thread count."""

import numpy as np
import pytest

import minicnn.fast.kernels._two_builds as two_builds
from minicnn.fast.kernels import elementwise as E
from minicnn.fast.kernels import optim as O
from minicnn.fast.kernels import pool as P

KERNELS = [E.batch_norm_stats, E.batch_norm_affine, E.batch_norm_backward_sums,
           E.batch_norm_backward_dx, E._relu_forward_flat, E._relu_backward_flat,
           E._tanh_backward_flat, E._sigmoid_backward_flat,
           P.max_pool2d_forward_loop, P.max_pool2d_forward_2x2, P.max_pool2d_backward_loop,
           P.avg_pool2d_forward_loop, P.avg_pool2d_backward_loop, O.adam_update]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_each_kernel_has_a_serial_and_a_parallel_build_cached_apart(kernel):
    assert kernel.serial.targetoptions.get("parallel", False) is False
    assert kernel.parallel.targetoptions["parallel"] is True
    assert kernel.parallel.py_func.__qualname__ == kernel.__qualname__ + "__parallel"
    assert kernel.serial.py_func is kernel.py_func


def _args(rng, dtype):
    x3 = rng.standard_normal((5, 3, 37)).astype(dtype)
    d3 = rng.standard_normal((5, 3, 37)).astype(dtype)
    c = [rng.standard_normal(3).astype(dtype) for _ in range(4)]
    x4 = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    return {
        "batch_norm_stats": (x3,),
        "batch_norm_affine": (x3, c[0], c[1]),
        "batch_norm_backward_sums": (d3, x3, c[0].astype(np.float64)),
        "batch_norm_backward_dx": (d3, x3, c[0].astype(np.float64), c[1], c[2], c[3]),
        "_relu_forward_flat": (x3.reshape(-1),),
        "_relu_backward_flat": (d3.reshape(-1), x3.reshape(-1)),
        "_tanh_backward_flat": (d3.reshape(-1), np.tanh(x3).reshape(-1)),
        "_sigmoid_backward_flat": (d3.reshape(-1), (1 / (1 + np.exp(-x3))).reshape(-1)),
        "max_pool2d_forward_loop": (x4, 3, 2, 2, 2, 1, 0, 5, 4),
        "max_pool2d_forward_2x2": (x4, 4, 4),
        "avg_pool2d_forward_loop": (x4, 3, 2, 2, 2, 1, 0, 5, 4),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_builds_give_the_serial_numbers(rng, dtype):
    for name, args in _args(rng, dtype).items():
        kernel = getattr(E, name, None) or getattr(P, name)
        serial, parallel = kernel.serial(*args), kernel.parallel(*args)
        for s, p in zip(serial if isinstance(serial, tuple) else (serial,),
                        parallel if isinstance(parallel, tuple) else (parallel,)):
            np.testing.assert_array_equal(s, p, err_msg=name)
    # the backward pool kernels, on the forward pass's own outputs
    x4 = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    out, argmax = P.max_pool2d_forward_2x2.serial(x4, 4, 4)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for s, p in zip(P.max_pool2d_backward_loop.serial(dout, argmax, 9, 8),
                    P.max_pool2d_backward_loop.parallel(dout, argmax, 9, 8)):
        np.testing.assert_array_equal(s, p)
    args = (dout, 9, 8, 2, 2, 2, 2, 0, 0)
    np.testing.assert_array_equal(P.avg_pool2d_backward_loop.serial(*args),
                                  P.avg_pool2d_backward_loop.parallel(*args))


def test_adam_parallel_build_updates_in_place_like_the_serial_one(rng):
    arrays = [rng.standard_normal(1001).astype(np.float32) for _ in range(4)]
    arrays[3] = np.abs(arrays[3])
    serial = [a.copy() for a in arrays]
    parallel = [a.copy() for a in arrays]
    scalars = (1e-3, 0.9, 0.999, 1e-8, 1e-4, False, 0.1, 0.001)
    O.adam_update.serial(*serial, *scalars)
    O.adam_update.parallel(*parallel, *scalars)
    for s, p in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)


@pytest.mark.parametrize("threads, build", [(1, "serial"), (2, "parallel"), (8, "parallel")])
def test_a_call_runs_the_build_for_numbas_thread_count(monkeypatch, rng, threads, build):
    calls = []
    kernel = E.batch_norm_affine

    def recording(name):
        real = getattr(kernel, name)
        return lambda *args: calls.append(name) or real(*args)
    fake = two_builds._TwoBuilds(kernel.py_func, recording("serial"), recording("parallel"))
    monkeypatch.setattr(two_builds, "layer_threads", lambda: threads)
    x3 = rng.standard_normal((2, 3, 4))
    fake(x3, np.ones(3), np.zeros(3))
    assert calls == [build]


def test_without_a_thread_setting_the_serial_build_runs_whatever_numbas_count(monkeypatch,
                                                                             rng):
    import numba
    calls = []
    kernel = E.batch_norm_affine
    fake = two_builds._TwoBuilds(kernel.py_func,
                                 lambda *args: calls.append("serial") or kernel.serial(*args),
                                 lambda *args: calls.append("parallel"))
    monkeypatch.setattr(numba, "get_num_threads", lambda: 8)     # Numba's own default
    fake(rng.standard_normal((2, 3, 4)), np.ones(3), np.zeros(3))
    assert calls == ["serial"]
