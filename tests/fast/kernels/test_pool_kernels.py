"""The Numba pooling kernels against the lecture's NumPy pooling (minicnn/functional/pool.py)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.fast.kernels import pool as kernels
from minicnn.fast.pool import max_pool2d_forward_fused
from minicnn.functional import output_shape2d
from minicnn.functional.pool import (avg_pool2d_backward, avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)


# The lecture's functions, called the way the kernels are
def lecture_max_pool_forward(x, kernel, stride, padding):
    out, (_, argmax, *_) = max_pool2d_forward(x, kernel, stride, padding)
    return out, argmax


def lecture_max_pool_backward(dout, argmax, x_shape, kernel, stride, padding):
    return max_pool2d_backward(dout, (x_shape, argmax, kernel, stride, padding))


def lecture_avg_pool_forward(x, kernel, stride, padding):
    return avg_pool2d_forward(x, kernel, stride, padding)[0]


def lecture_avg_pool_backward(dout, x_shape, kernel, stride, padding):
    return avg_pool2d_backward(dout, (x_shape, kernel, stride, padding))

# (x shape, kernel, stride, padding) as normalised pairs; odd and non-square shapes
CASES = [
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0)),
    ((1, 1, 5, 5), (1, 1), (1, 1), (0, 0)),
    ((3, 2, 7, 7), (3, 3), (2, 2), (1, 1)),
    ((2, 2, 6, 5), (3, 3), (1, 1), (1, 1)),
    ((1, 3, 9, 4), (3, 2), (2, 1), (1, 0)),
    ((2, 1, 8, 11), (2, 3), (3, 2), (1, 1)),
    ((1, 2, 5, 7), (5, 5), (2, 2), (2, 2)),
    ((2, 2, 4, 4), (4, 4), (1, 1), (0, 0)),
]
CASE_IDS = [f"x{shape}-k{k}-s{s}-p{p}".replace(" ", "") for shape, k, s, p in CASES]
DTYPES = [np.float32, np.float64]


def make_input(rng, shape, dtype, ties=False):
    if ties:
        return rng.integers(0, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def close(dtype):
    return dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


def run_max_forward(x, kernel, stride, padding):
    out_h, out_w = output_shape2d(x.shape[2], x.shape[3], kernel, stride, padding, func="test")
    return kernels.max_pool2d_forward_loop(x, *kernel, *stride, *padding, out_h, out_w)


def run_avg_forward(x, kernel, stride, padding):
    out_h, out_w = output_shape2d(x.shape[2], x.shape[3], kernel, stride, padding, func="test")
    return kernels.avg_pool2d_forward_loop(x, *kernel, *stride, *padding, out_h, out_w)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES, ids=CASE_IDS)
def test_max_pool2d_kernels_equal_the_lectures_pooling(rng, shape, kernel, stride, padding, dtype, ties):
    x = make_input(rng, shape, dtype, ties)
    out, argmax = run_max_forward(x, kernel, stride, padding)
    out_twin, argmax_twin = lecture_max_pool_forward(x, kernel, stride, padding)
    assert out.dtype == dtype and argmax.dtype == np.int64
    np.testing.assert_array_equal(out, out_twin)
    np.testing.assert_array_equal(argmax, argmax_twin)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, n_bad = kernels.max_pool2d_backward_loop(dout, argmax, shape[2], shape[3])
    assert n_bad == 0 and dx.dtype == dtype
    # same additions in the same order: equal to the last bit
    expected = lecture_max_pool_backward(dout, argmax, shape, kernel, stride, padding)
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES, ids=CASE_IDS)
def test_avg_pool2d_kernels_equal_the_lectures_pooling(rng, shape, kernel, stride, padding, dtype):
    x = make_input(rng, shape, dtype)
    out = run_avg_forward(x, kernel, stride, padding)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, lecture_avg_pool_forward(x, kernel, stride, padding),
                               **close(dtype))
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = kernels.avg_pool2d_backward_loop(dout, shape[2], shape[3], *kernel, *stride, *padding)
    assert dx.dtype == dtype
    np.testing.assert_allclose(
        dx, lecture_avg_pool_backward(dout, shape, kernel, stride, padding), **close(dtype))


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (2, 1, 2, 3), (1, 1, 3, 2)])
def test_max_pool2d_2x2_fast_path_equals_general_kernel(rng, shape, dtype, ties):
    x = make_input(rng, shape, dtype, ties)
    out_h, out_w = shape[2] // 2, shape[3] // 2
    out, argmax = kernels.max_pool2d_forward_2x2(x, out_h, out_w)
    out_general, argmax_general = kernels.max_pool2d_forward_loop(x, 2, 2, 2, 2, 0, 0,
                                                                  out_h, out_w)
    np.testing.assert_array_equal(out, out_general)
    np.testing.assert_array_equal(argmax, argmax_general)


def test_max_pool2d_fast_path_dispatch_matches_twin(rng):
    # the dispatcher: 2x2 kernel, general kernel, and the twin for inputs that hold NaN
    x = rng.standard_normal((2, 2, 6, 7))
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))]:
        for data in (x, np.where(x > 1.5, np.nan, x)):
            out, (_, argmax, *_) = max_pool2d_forward_fused(data, kernel, stride, padding)
            out_twin, argmax_twin = lecture_max_pool_forward(data, kernel, stride, padding)
            np.testing.assert_array_equal(out, out_twin)
            np.testing.assert_array_equal(argmax, argmax_twin)


def test_max_pool2d_windows_of_only_minus_inf_point_at_their_first_input(rng):
    x = np.full((1, 1, 4, 5), -np.inf)
    kernel, stride, padding = (3, 3), (2, 2), (1, 1)
    out, argmax = run_max_forward(x, kernel, stride, padding)
    out_twin, argmax_twin = lecture_max_pool_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, out_twin)
    np.testing.assert_array_equal(argmax, argmax_twin)
    # window (i, j) starts at row max(2i - 1, 0), column max(2j - 1, 0)
    np.testing.assert_array_equal(argmax[0, 0], [[0, 1, 3], [5, 6, 8]])


def test_max_pool2d_backward_kernel_counts_and_skips_bad_indices():
    dout = np.ones((1, 1, 2, 2))
    argmax = np.array([[[[0, 99], [-3, 15]]]])
    dx, n_bad = kernels.max_pool2d_backward_loop(dout, argmax, 4, 4)
    assert n_bad == 2
    assert dx.sum() == 2.0 and dx[0, 0, 0, 0] == 1.0 and dx[0, 0, 3, 3] == 1.0


@st.composite
def kernel_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 11))
    width = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 11))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), height, width)
    dtype = draw(st.sampled_from(DTYPES))
    return shape, kernel, stride, padding, dtype, draw(st.booleans()), \
        draw(st.integers(0, 2**32 - 1))


@settings(max_examples=25, deadline=None)
@given(case=kernel_cases())
def test_kernels_equal_the_lecture_on_random_shapes(case):
    shape, kernel, stride, padding, dtype, ties, seed = case
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, dtype, ties)

    out, argmax = run_max_forward(x, kernel, stride, padding)
    out_twin, argmax_twin = lecture_max_pool_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, out_twin)
    np.testing.assert_array_equal(argmax, argmax_twin)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, n_bad = kernels.max_pool2d_backward_loop(dout, argmax, shape[2], shape[3])
    assert n_bad == 0
    expected = lecture_max_pool_backward(dout, argmax, shape, kernel, stride, padding)
    np.testing.assert_array_equal(dx, expected)

    out = run_avg_forward(x, kernel, stride, padding)
    np.testing.assert_allclose(out, lecture_avg_pool_forward(x, kernel, stride, padding),
                               **close(dtype))
    dx = kernels.avg_pool2d_backward_loop(dout, shape[2], shape[3], *kernel, *stride, *padding)
    np.testing.assert_allclose(
        dx, lecture_avg_pool_backward(dout, shape, kernel, stride, padding), **close(dtype))


def test_kernels_run_as_plain_python_with_numba_disabled():
    # NUMBA_DISABLE_JIT=1 turns every kernel into plain Python (e.g. to step through one in a
    # debugger); it must still compute the same results. A subprocess: the flag is read once.
    script = textwrap.dedent("""
        import numba, numpy as np
        assert numba.config.DISABLE_JIT
        from minicnn.fast.kernels import pool as kernels
        from minicnn.functional import pool as P
        rng = np.random.default_rng(0)
        x = rng.integers(0, 3, size=(2, 2, 5, 6)).astype(np.float32)
        out, argmax = kernels.max_pool2d_forward_loop(x, 3, 2, 2, 2, 1, 1, 3, 4)
        ref_out, (_, ref_argmax, *_) = P.max_pool2d_forward(x, (3, 2), (2, 2), (1, 1))
        assert (out == ref_out).all() and (argmax == ref_argmax).all()
        out2, argmax2 = kernels.max_pool2d_forward_2x2(x, 2, 3)
        ref_out2, (_, ref_argmax2, *_) = P.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
        assert (out2 == ref_out2).all() and (argmax2 == ref_argmax2).all()
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dx, n_bad = kernels.max_pool2d_backward_loop(dout, argmax, 5, 6)
        cache = (x.shape, argmax, (3, 2), (2, 2), (1, 1))
        assert n_bad == 0 and (dx == P.max_pool2d_backward(dout, cache)).all()
        avg = kernels.avg_pool2d_forward_loop(x, 3, 2, 2, 2, 1, 1, 3, 4)
        assert np.allclose(avg, P.avg_pool2d_forward(x, (3, 2), (2, 2), (1, 1))[0])
        dx = kernels.avg_pool2d_backward_loop(dout, 5, 6, 3, 2, 2, 2, 1, 1)
        assert np.allclose(dx, P.avg_pool2d_backward(dout, (x.shape, (3, 2), (2, 2), (1, 1))))
        print("ok")
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
