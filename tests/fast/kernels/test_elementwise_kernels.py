"""Each Numba kernel in minicnn.fast.kernels.elementwise against its NumPy twin, jitted and as plain
Python (what NUMBA_DISABLE_JIT=1 runs)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from minicnn.fast.kernels import elementwise as K

SHAPES = [(4, 3, 10), (1, 1, 1), (5, 7, 1), (2, 3, 49)]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _inputs(rng, shape, dtype):
    x3 = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dout3 = rng.standard_normal(shape).astype(dtype)
    per_channel = [rng.standard_normal(shape[1]).astype(dtype) for _ in range(4)]
    return x3, dout3, per_channel


def _assert_all_close(got, expected, dtype):
    if isinstance(expected, tuple):
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, **TOL[dtype])
    else:
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, **TOL[dtype])


def _cases(rng, shape, dtype):
    x3, dout3, (mean, a, b, k) = _inputs(rng, shape, dtype)
    return [
        ("batch_norm_stats", (x3,)),
        ("batch_norm_affine", (x3, a, b)),
        ("batch_norm_backward_sums", (dout3, x3, mean)),
        ("batch_norm_backward_dx", (dout3, x3, mean, a, b, k)),
    ]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_batch_norm_kernels_match_numpy_twins(rng, shape, dtype):
    for name, args in _cases(rng, shape, dtype):
        _assert_all_close(getattr(K, name)(*args), getattr(K, name + "_numpy")(*args), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_batch_norm_kernels_as_plain_python_match_numpy_twins(rng, dtype):
    for name, args in _cases(rng, (2, 3, 4), dtype):
        kernel = getattr(K, name)
        _assert_all_close(kernel.py_func(*args), getattr(K, name + "_numpy")(*args), dtype)


def test_batch_norm_stats_is_stable_for_a_large_mean(rng):
    # E[x^2] - E[x]^2 would lose every digit here; the two-pass formula does not
    x3 = (rng.standard_normal((8, 2, 50)) * 1e-2 + 1e4).astype(np.float32)
    mean, var = K.batch_norm_stats(x3)
    expected = x3.astype(np.float64).var(axis=(0, 2))
    np.testing.assert_allclose(var, expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (7,), (1, 1), (0, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_relu_kernels_match_numpy_twins(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    _assert_all_close(K.relu_forward_kernel(x), K.relu_forward_numpy(x), dtype)
    _assert_all_close(K.relu_backward_kernel(dout, x), K.relu_backward_numpy(dout, x), dtype)


def test_relu_kernels_as_plain_python_match_numpy_twins(rng):
    x = rng.standard_normal(12)
    dout = rng.standard_normal(12)
    np.testing.assert_array_equal(K._relu_forward_flat.py_func(x), K.relu_forward_numpy(x))
    np.testing.assert_array_equal(K._relu_backward_flat.py_func(dout, x),
                                  K.relu_backward_numpy(dout, x))


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (7,), (0, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_tanh_and_sigmoid_backward_kernels_equal_their_numpy_twins_to_the_last_bit(rng, shape,
                                                                                  dtype):
    dout = rng.standard_normal(shape).astype(dtype)
    y = np.tanh(rng.standard_normal(shape)).astype(dtype)
    s = (1 / (1 + np.exp(-rng.standard_normal(shape)))).astype(dtype)
    np.testing.assert_array_equal(K.tanh_backward_kernel(dout, y), K.tanh_backward_numpy(dout, y))
    np.testing.assert_array_equal(K.sigmoid_backward_kernel(dout, s),
                                  K.sigmoid_backward_numpy(dout, s))
    np.testing.assert_array_equal(K._tanh_backward_flat.py_func(dout.reshape(-1), y.reshape(-1)),
                                  K.tanh_backward_numpy(dout, y).reshape(-1))


def test_relu_kernels_accept_non_contiguous_arrays(rng):
    x = rng.standard_normal((4, 6))[:, ::2]          # (4, 3), strided
    dout = rng.standard_normal((3, 4)).T             # (4, 3), transposed
    np.testing.assert_array_equal(K.relu_forward_kernel(x), np.maximum(x, 0))
    np.testing.assert_array_equal(K.relu_backward_kernel(dout, x), np.where(x > 0, dout, 0))


def test_kernels_run_with_jit_disabled():
    code = (
        "import numpy as np\n"
        "from minicnn.fast.kernels import elementwise as K\n"
        "assert not hasattr(K.batch_norm_stats, 'py_func'), 'jit was not disabled'\n"
        "rng = np.random.default_rng(1)\n"
        "x = rng.standard_normal((2, 3, 4)).astype(np.float32)\n"
        "d = rng.standard_normal((2, 3, 4)).astype(np.float32)\n"
        "c = np.ones(3, np.float32)\n"
        "for got, want in [(K.batch_norm_stats(x), K.batch_norm_stats_numpy(x)),\n"
        "                  (K.batch_norm_backward_sums(d, x, c), "
        "K.batch_norm_backward_sums_numpy(d, x, c))]:\n"
        "    for g, w in zip(got, want): np.testing.assert_allclose(g, w, rtol=1e-5)\n"
        "np.testing.assert_allclose(K.batch_norm_affine(x, c, c), "
        "K.batch_norm_affine_numpy(x, c, c), rtol=1e-6)\n"
        "np.testing.assert_allclose(K.batch_norm_backward_dx(d, x, c, c, c, c), "
        "K.batch_norm_backward_dx_numpy(d, x, c, c, c, c), rtol=1e-5, atol=1e-6)\n"
        "np.testing.assert_array_equal(K.relu_forward_kernel(x), K.relu_forward_numpy(x))\n"
        "np.testing.assert_array_equal(K.relu_backward_kernel(d, x), "
        "K.relu_backward_numpy(d, x))\n"
        "print('ok')\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
