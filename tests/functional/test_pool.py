"""max_pool2d, avg_pool2d, global_avg_pool2d, adaptive_avg_pool2d: finite differences,
PyTorch, dtypes, errors.

The kernels against their NumPy twins are tested in tests/kernels/test_pool_kernels.py.
"""

import numpy as np
import pytest

from minicnn.functional.pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward,
                                     adaptive_bins, avg_pool2d_backward, avg_pool2d_forward,
                                     global_avg_pool2d_backward, global_avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)
from minicnn.gradcheck import numerical_gradient, rel_error

# (x shape, kernel_size, stride, padding): kernel 1/2/3/5, stride 1/2/3, padding 0/1/2,
# overlapping windows, gaps between windows, non-square inputs and kernels, batch and channels 1
GRID = [
    ((2, 3, 6, 6), 2, None, 0),                # the lecture's MaxPool2d(2): the 2x2 fast path
    ((2, 2, 7, 9), 2, 2, 0),                   # 2x2 with an odd row and column left over
    ((1, 1, 5, 4), 1, 1, 0),                   # kernel 1: identity
    ((1, 2, 5, 5), 1, 2, 0),                   # kernel 1, stride 2: subsampling
    ((2, 2, 7, 7), 3, 2, 1),                   # overlapping, padded
    ((1, 3, 6, 5), 3, 1, 0),                   # overlapping by 2, non-square input
    ((2, 1, 6, 7), 3, 1, 1),                   # overlapping by 2, padded
    ((2, 2, 7, 8), 3, 2, 0),                   # overlapping, floor mode drops a column
    ((1, 2, 9, 8), 3, 3, 1),                   # stride 3, padded
    ((2, 1, 7, 9), 2, 3, 0),                   # stride > kernel: gaps between windows
    ((1, 2, 8, 6), (3, 2), (2, 1), (1, 0)),    # non-square kernel, stride and padding
    ((1, 2, 5, 7), (1, 3), (1, 2), (0, 1)),
    ((2, 2, 5, 5), 2, 2, 1),                   # kernel 2 with padding 1
    ((1, 2, 6, 6), 2, 1, 1),
    ((1, 2, 7, 6), 5, 2, 2),                   # kernel 5
]
GRID_IDS = [f"x{shape}-k{k}-s{s}-p{p}".replace(" ", "") for shape, k, s, p in GRID]

THRESHOLD = 1e-7


def distinct(rng, shape):
    """Values without ties, spaced 4/size apart (>> the step h=1e-6): the max of every window
    is unique, so finite differences of max pooling are meaningful."""
    size = int(np.prod(shape))
    return (rng.permutation(size) / size * 4.0 - 2.0).reshape(shape)


def check_pool_gradient(forward, backward, x, rng, **kwargs):
    out, cache = forward(x, **kwargs)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    numeric = numerical_gradient(lambda: forward(x, **kwargs)[0], x, dout, h=1e-6)
    return rel_error(dx, numeric)


# ------------------------------------------------------------------ finite differences


@pytest.mark.parametrize("shape, kernel, stride, padding", GRID, ids=GRID_IDS)
def test_max_pool2d_backward_matches_finite_differences(rng, shape, kernel, stride, padding):
    error = check_pool_gradient(max_pool2d_forward, max_pool2d_backward, distinct(rng, shape),
                                rng, kernel_size=kernel, stride=stride, padding=padding)
    assert error < THRESHOLD


@pytest.mark.parametrize("shape, kernel, stride, padding", GRID, ids=GRID_IDS)
def test_avg_pool2d_backward_matches_finite_differences(rng, shape, kernel, stride, padding):
    error = check_pool_gradient(avg_pool2d_forward, avg_pool2d_backward,
                                rng.standard_normal(shape), rng,
                                kernel_size=kernel, stride=stride, padding=padding)
    assert error < THRESHOLD


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 1, 1, 1), (1, 4, 3, 7)])
def test_global_avg_pool2d_backward_matches_finite_differences(rng, shape):
    error = check_pool_gradient(lambda x: global_avg_pool2d_forward(x),
                                global_avg_pool2d_backward, rng.standard_normal(shape), rng)
    assert error < THRESHOLD


def test_max_pool2d_backward_adds_up_overlapping_windows():
    # one large value inside every 3x3 window (stride 1) of a 4x4 input wins all four windows
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 5.0
    out, cache = max_pool2d_forward(x, 3, stride=1)
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool2d_backward(dout, cache)
    expected = np.zeros_like(x)
    expected[0, 0, 1, 2] = 10.0
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 5.0))
    np.testing.assert_array_equal(dx, expected)


def test_max_pool2d_tie_sends_gradient_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[0.0, 7.0, 7.0, 1.0],
                    [7.0, 7.0, 2.0, 3.0]]]])
    out, (_, argmax, *_) = max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(argmax, [[[[1, 2]]]])     # (0, 1) and (0, 2): row-major first
    dx = max_pool2d_backward(np.array([[[[2.0, 3.0]]]]), (x.shape, argmax, (2, 2), (2, 2), (0, 0)))
    np.testing.assert_array_equal(dx, [[[[0.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_max_pool2d_padding_never_wins_against_negative_inputs():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)            # all negative: zero padding would win
    out, _ = max_pool2d_forward(x, 2, stride=2, padding=1)
    np.testing.assert_array_equal(out, [[[[-1.0, -2.0], [-4.0, -5.0]]]])


def test_avg_pool2d_counts_padding_in_the_divisor():
    x = np.ones((1, 1, 2, 2))
    out, _ = avg_pool2d_forward(x, 2, stride=2, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


def test_global_avg_pool2d_forward_is_the_mean_of_each_map(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, _ = global_avg_pool2d_forward(x)
    assert out.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(out[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-12)


# ------------------------------------------------------------------ dtypes and layouts


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["max", "avg", "global"])
def test_pooling_keeps_the_dtype(rng, dtype, kind):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    if kind == "max":
        out, cache = max_pool2d_forward(x, 3, stride=2, padding=1)
        dx = max_pool2d_backward(np.ones_like(out), cache)
    elif kind == "avg":
        out, cache = avg_pool2d_forward(x, 3, stride=2, padding=1)
        dx = avg_pool2d_backward(np.ones_like(out), cache)
    else:
        out, cache = global_avg_pool2d_forward(x)
        dx = global_avg_pool2d_backward(np.ones_like(out), cache)
    assert out.dtype == dtype and dx.dtype == dtype and dx.shape == x.shape


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1)])
def test_pooling_accepts_non_contiguous_input(rng, kernel, stride, padding):
    base = rng.standard_normal((2, 5, 8, 3))
    x = base.transpose(0, 3, 1, 2)                            # (2, 3, 5, 8), not C-contiguous
    for forward in (max_pool2d_forward, avg_pool2d_forward):
        out, _ = forward(x, kernel, stride, padding)
        expected, _ = forward(np.ascontiguousarray(x), kernel, stride, padding)
        np.testing.assert_array_equal(out, expected)


def test_max_pool2d_stride_defaults_to_kernel_size(rng):
    x = rng.standard_normal((1, 2, 9, 9))
    out, cache = max_pool2d_forward(x, 3)
    assert out.shape == (1, 2, 3, 3) and cache[3] == (3, 3)


def test_max_pool2d_cache_is_plain_data(rng):
    x = rng.standard_normal((2, 3, 6, 4))
    _, cache = max_pool2d_forward(x, (3, 2), stride=(2, 1), padding=(1, 0))
    x_shape, argmax, kernel, stride, padding = cache
    assert x_shape == (2, 3, 6, 4)
    assert isinstance(argmax, np.ndarray) and argmax.dtype == np.int64
    assert argmax.shape == (2, 3, 3, 3)
    assert (kernel, stride, padding) == ((3, 2), (2, 1), (1, 0))


def test_max_pool2d_propagates_nan():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan                                    # not first in its window
    out, cache = max_pool2d_forward(x, 2)
    assert np.isnan(out[0, 0, 0, 0]) and np.isnan(out).sum() == 1
    assert cache[1][0, 0, 0, 0] == 5


# ------------------------------------------------------------------ against PyTorch


def torch_pool(torch, kind, x, dout, kernel, stride, padding):
    """PyTorch's max ("max": output, argmax indices, dx) or average ("avg": output, None, dx)
    pooling of x, with the gradient for upstream dout."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    if kind == "max":
        out, indices = torch.nn.functional.max_pool2d(xt, kernel, stride, padding,
                                                      return_indices=True)
    else:
        out = torch.nn.functional.avg_pool2d(xt, kernel, stride, padding)
        indices = None
    out.backward(torch.from_numpy(dout))
    return out, indices, xt.grad


def torch_adaptive_avg_pool2d(torch, x, dout, output_size):
    """PyTorch's adaptive average pooling of x to output_size, and dx for upstream dout."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out = torch.nn.functional.adaptive_avg_pool2d(xt, output_size)
    out.backward(torch.from_numpy(dout))
    return out, xt.grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kernel, stride, padding", GRID, ids=GRID_IDS)
def test_max_pool2d_matches_torch(torch_reference, rng, dtype, shape, kernel, stride, padding):
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = max_pool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape).astype(dtype)
    out_t, indices_t, dx_t = torch_reference(torch_pool, "max", x, dout, kernel, stride, padding)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(cache[1], indices_t)
    np.testing.assert_allclose(max_pool2d_backward(dout, cache), dx_t, rtol=1e-6, atol=1e-7)


@pytest.mark.torch
@pytest.mark.parametrize("shape, kernel, stride, padding", GRID, ids=GRID_IDS)
def test_max_pool2d_ties_match_torch(torch_reference, rng, shape, kernel, stride, padding):
    # values from {0, 1, 2}: most windows hold a tied maximum; the gradient must go to the
    # same single position PyTorch's CPU kernel picks (the first in row-major window order)
    x = rng.integers(0, 3, size=shape).astype(np.float64)
    out, cache = max_pool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    out_t, indices_t, dx_t = torch_reference(torch_pool, "max", x, dout, kernel, stride, padding)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(cache[1], indices_t)
    np.testing.assert_allclose(max_pool2d_backward(dout, cache), dx_t, rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 1), (3, 1, 1), (3, 2, 1)])
def test_max_pool2d_all_minus_inf_windows_match_torch(torch_reference, rng, kernel, stride,
                                                      padding):
    x = np.full((1, 2, 5, 6), -np.inf)
    x[0, 1, 2, 3] = 1.0
    out, cache = max_pool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    out_t, indices_t, dx_t = torch_reference(torch_pool, "max", x, dout, kernel, stride, padding)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(cache[1], indices_t)
    np.testing.assert_array_equal(max_pool2d_backward(dout, cache), dx_t)


@pytest.mark.torch
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1)])
def test_max_pool2d_nan_positions_match_torch(torch_reference, rng, kernel, stride, padding):
    x = rng.standard_normal((2, 2, 7, 7))
    x[0, 0, 1, 1] = x[1, 1, 4, 5] = x[1, 1, 5, 5] = np.nan
    out, _ = max_pool2d_forward(x, kernel, stride, padding)
    out_t, _, _ = torch_reference(torch_pool, "max", x, np.ones_like(out), kernel, stride, padding)
    np.testing.assert_array_equal(out, out_t)                 # NaN where torch has NaN


@pytest.mark.torch
def test_max_pool2d_backward_runs_on_a_cache_from_torch(torch_reference, rng):
    x = rng.integers(0, 4, size=(2, 3, 7, 8)).astype(np.float32)
    dout = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    out_t, indices_t, dx_t = torch_reference(torch_pool, "max", x, dout, 3, 2, 1)
    cache = (x.shape, indices_t, 3, 2, 1)                     # plain ints, like torch's args
    np.testing.assert_allclose(max_pool2d_backward(dout, cache), dx_t, rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kernel, stride, padding", GRID, ids=GRID_IDS)
def test_avg_pool2d_matches_torch(torch_reference, rng, dtype, shape, kernel, stride, padding):
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = avg_pool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape).astype(dtype)
    out_t, _, dx_t = torch_reference(torch_pool, "avg", x, dout, kernel, stride, padding)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out, out_t, **tol)
    np.testing.assert_allclose(avg_pool2d_backward(dout, cache), dx_t, **tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 1, 1, 1), (3, 2, 7, 7)])
def test_global_avg_pool2d_matches_torch_adaptive_avg_pool2d(torch_reference, rng, dtype,
                                                             shape):
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = global_avg_pool2d_forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    out_t, dx_t = torch_reference(torch_adaptive_avg_pool2d, x, dout, 1)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out, out_t, **tol)
    np.testing.assert_allclose(global_avg_pool2d_backward(dout, cache), dx_t, **tol)


def random_pool_case(rng):
    """A random valid pooling case: kernel and stride 1-4 per axis, padding up to half the
    kernel, any input at least as large as the kernel after padding, float32 or float64, half
    of the inputs with ties (values from {0, 1, 2})."""
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 5, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    height, width = (int(rng.integers(max(1, k - 2 * p), 11)) for k, p in zip(kernel, padding))
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), height, width)
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    if rng.random() < 0.5:
        return rng.integers(0, 3, size=shape).astype(dtype), kernel, stride, padding
    return rng.standard_normal(shape).astype(dtype), kernel, stride, padding


@pytest.mark.torch
def test_pooling_matches_torch_on_random_shapes(torch_reference):
    # 25 random cases from a fixed seed (not Hypothesis, whose draws change between its
    # versions), so that PyTorch's results can be recorded for runs without torch
    rng = np.random.default_rng(2026)
    for case in range(25):
        x, kernel, stride, padding = random_pool_case(rng)
        tol = dict(rtol=1e-5, atol=1e-6) if x.dtype == np.float32 else dict(rtol=1e-12,
                                                                            atol=1e-14)
        for kind, forward, backward in (("max", max_pool2d_forward, max_pool2d_backward),
                                        ("avg", avg_pool2d_forward, avg_pool2d_backward)):
            where = f"case {case}: {kind}, x {x.shape} {x.dtype}, k{kernel} s{stride} p{padding}"
            out, cache = forward(x, kernel, stride, padding)
            dout = rng.standard_normal(out.shape).astype(x.dtype)
            out_t, indices_t, dx_t = torch_reference(torch_pool, kind, x, dout, kernel, stride,
                                                     padding)
            np.testing.assert_allclose(out, out_t, **tol, err_msg=where)
            if kind == "max":
                np.testing.assert_array_equal(cache[1], indices_t, err_msg=where)
            np.testing.assert_allclose(backward(dout, cache), dx_t, **tol, err_msg=where)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("forward, name", [(max_pool2d_forward, "max_pool2d_forward"),
                                           (avg_pool2d_forward, "avg_pool2d_forward")])
class TestBadInput:
    def test_wrong_rank(self, forward, name):
        with pytest.raises(ValueError, match=rf"{name}: x must be 4-d, got shape \(2, 3, 4\)"):
            forward(np.zeros((2, 3, 4)), 2)

    def test_integer_input(self, forward, name):
        with pytest.raises(TypeError, match=f"{name}: x must be float32 or float64, got dtype "
                                            "int64"):
            forward(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)

    def test_not_an_array(self, forward, name):
        with pytest.raises(TypeError, match=f"{name}: x must be a numpy.ndarray, got list"):
            forward([[[[1.0]]]], 1)

    def test_padding_more_than_half_the_kernel(self, forward, name):
        with pytest.raises(ValueError, match=rf"{name}: padding \(2, 2\) is more than half of "
                                             rf"kernel_size \(3, 3\)"):
            forward(np.zeros((1, 1, 8, 8)), 3, padding=2)

    def test_kernel_larger_than_padded_input(self, forward, name):
        with pytest.raises(ValueError, match=rf"{name}: kernel 5 is larger than the padded input "
                                             rf"along H \(H=3 .*x has shape \(1, 1, 3, 8\)"):
            forward(np.zeros((1, 1, 3, 8)), 5, padding=0)

    @pytest.mark.parametrize("kwargs, error, message", [
        (dict(kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0"),
        (dict(kernel_size=2, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (dict(kernel_size=2, padding=-1), ValueError, r"padding must be >= 0, got -1"),
        (dict(kernel_size=2.0), TypeError, r"kernel_size must be an int or a pair of ints"),
        (dict(kernel_size=(2, 2, 2)), ValueError, r"kernel_size must be an int or a pair"),
    ])
    def test_bad_arguments(self, forward, name, kwargs, error, message):
        with pytest.raises(error, match=f"{name}: {message}"):
            forward(np.zeros((1, 1, 6, 6)), **kwargs)


def test_max_pool2d_backward_rejects_dout_of_the_wrong_shape(rng):
    out, cache = max_pool2d_forward(rng.standard_normal((2, 3, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: dout must have the forward "
                                         r"output's shape \(2, 3, 2, 2\).*got \(2, 3, 2, 3\)"):
        max_pool2d_backward(np.zeros((2, 3, 2, 3)), cache)


def test_avg_pool2d_backward_rejects_dout_of_the_wrong_shape(rng):
    out, cache = avg_pool2d_forward(rng.standard_normal((2, 3, 5, 5)), 3, 1, 1)
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: dout must have the forward "
                                         r"output's shape \(2, 3, 5, 5\)"):
        avg_pool2d_backward(np.zeros((2, 3, 4, 4)), cache)


def test_max_pool2d_backward_rejects_a_cache_that_is_not_the_tuple(rng):
    out, cache = max_pool2d_forward(rng.standard_normal((1, 1, 4, 4)), 2)
    with pytest.raises(TypeError, match=r"max_pool2d_backward: cache must be the tuple "
                                        r"\(x_shape, argmax, kernel_size, stride, padding\)"):
        max_pool2d_backward(np.zeros_like(out), cache[:2])


def test_max_pool2d_backward_rejects_argmax_outside_the_input(rng):
    out, (x_shape, argmax, *rest) = max_pool2d_forward(rng.standard_normal((1, 2, 4, 4)), 2)
    argmax = argmax.copy()
    argmax[0, 1, 1, 1] = 16
    argmax[0, 0, 0, 0] = -1
    with pytest.raises(ValueError, match=r"max_pool2d_backward: 2 argmax entries lie outside "
                                         r"\[0, H\*W\) = \[0, 16\)"):
        max_pool2d_backward(np.ones_like(out), (x_shape, argmax, *rest))


def test_max_pool2d_backward_rejects_float_argmax(rng):
    out, (x_shape, argmax, *rest) = max_pool2d_forward(rng.standard_normal((1, 1, 4, 4)), 2)
    with pytest.raises(TypeError, match=r"max_pool2d_backward: the cache's argmax must be an "
                                        r"integer numpy array.*float64"):
        max_pool2d_backward(np.ones_like(out), (x_shape, argmax.astype(float), *rest))


def test_global_avg_pool2d_rejects_bad_input():
    with pytest.raises(ValueError, match=r"global_avg_pool2d_forward: x must be 4-d, got "
                                         r"shape \(3, 4\)"):
        global_avg_pool2d_forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"global_avg_pool2d_backward: dout must have shape "
                                         r"\(N, C, 1, 1\) = \(2, 3, 1, 1\).*got \(2, 3, 2, 2\)"):
        global_avg_pool2d_backward(np.zeros((2, 3, 2, 2)), ((2, 3, 4, 4),))



# ------------------------------------------------------------------ adaptive average pooling

# (x shape, output_size): tiling (7 -> 7 is the identity, 8 -> 4 is AvgPool2d(2)), overlapping
# windows (7 -> 3, 5 -> 2), more outputs than inputs (5 -> 7), None keeping an axis, global
ADAPTIVE = [
    ((2, 3, 7, 7), 7), ((2, 2, 8, 8), 4), ((2, 3, 7, 5), (3, 2)), ((1, 2, 5, 5), 7),
    ((2, 2, 6, 9), (None, 4)), ((2, 3, 5, 4), 1), ((1, 1, 1, 1), (2, 3)),
]
ADAPTIVE_IDS = [f"x{shape}-o{size}".replace(" ", "") for shape, size in ADAPTIVE]


def test_adaptive_bins_follow_pytorchs_floor_and_ceil_rule():
    assert adaptive_bins(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]       # tiles, like AvgPool(2)
    assert adaptive_bins(7, 3) == [(0, 3), (2, 5), (4, 7)]               # 7/3, 14/3 not whole
    assert adaptive_bins(5, 1) == [(0, 5)]                               # global
    assert adaptive_bins(2, 3) == [(0, 1), (0, 2), (1, 2)]               # more outputs than inputs


@pytest.mark.parametrize("shape, output_size", ADAPTIVE, ids=ADAPTIVE_IDS)
def test_adaptive_avg_pool2d_backward_matches_finite_differences(rng, shape, output_size):
    error = check_pool_gradient(adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward,
                                rng.standard_normal(shape), rng, output_size=output_size)
    assert error < THRESHOLD


def test_adaptive_avg_pool2d_that_tiles_is_avg_pool2d(rng):
    x = rng.standard_normal((2, 3, 8, 6))
    out, cache = adaptive_avg_pool2d_forward(x, (4, 3))
    expected, avg_cache = avg_pool2d_forward(x, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(adaptive_avg_pool2d_backward(dout, cache),
                               avg_pool2d_backward(dout, avg_cache), rtol=1e-14)
    np.testing.assert_allclose(adaptive_avg_pool2d_forward(x, 1)[0],
                               global_avg_pool2d_forward(x)[0], rtol=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, output_size", ADAPTIVE, ids=ADAPTIVE_IDS)
def test_adaptive_avg_pool2d_matches_torch(torch_reference, rng, dtype, shape, output_size):
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = adaptive_avg_pool2d_forward(x, output_size)
    assert out.dtype == dtype
    dout = rng.standard_normal(out.shape).astype(dtype)
    out_t, dx_t = torch_reference(torch_adaptive_avg_pool2d, x, dout, output_size)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out, out_t, **tol)
    dx = adaptive_avg_pool2d_backward(dout, cache)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, dx_t, **tol)


@pytest.mark.parametrize("output_size, error", [
    (0, ValueError), ((2, 0), ValueError), ((1, 2, 3), ValueError), (2.5, TypeError),
    ("7", TypeError), (True, TypeError),
])
def test_adaptive_avg_pool2d_rejects_bad_output_size(output_size, error):
    with pytest.raises(error, match=r"adaptive_avg_pool2d_forward: output_size must be an int "
                                    r">= 1 or a pair of them \(None keeps the input's size\), "
                                    r"got "):
        adaptive_avg_pool2d_forward(np.zeros((1, 1, 4, 4)), output_size)


def test_adaptive_avg_pool2d_rejects_bad_input_and_dout():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d_forward: x must be 4-d"):
        adaptive_avg_pool2d_forward(np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=r"x must have H, W >= 1"):
        adaptive_avg_pool2d_forward(np.zeros((1, 1, 0, 4)), 2)
    out, cache = adaptive_avg_pool2d_forward(np.zeros((2, 3, 5, 5)), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d_backward: dout must have the "
                                         r"forward output's shape \(2, 3, 2, 2\).*got "
                                         r"\(2, 3, 3, 3\)"):
        adaptive_avg_pool2d_backward(np.zeros((2, 3, 3, 3)), cache)
    with pytest.raises(TypeError, match=r"adaptive_avg_pool2d_backward: cache must be the tuple "
                                        r"\(x_shape, output_size\)"):
        adaptive_avg_pool2d_backward(out, cache[:1])
