"""conv2d: gradient checks, every method against the naive reference, PyTorch, bad input."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.conv import (CONV_METHODS, DEFAULT_METHOD, conv2d_backward,
                                     conv2d_forward)
from minicnn.gradcheck import numerical_gradient, rel_error

FAST_METHODS = ("loop", "im2col")

# (N, C_in, H, W, C_out, kernel (kH, kW), stride, padding): kernels 1/2/3/5 and non-square,
# strides 1/2/3, paddings 0/1/2, non-square inputs, batch 1, one and several channels,
# overlapping windows (k=3, s=1 and k=3, s=2) and windows that skip pixels (k=2, s=3).
GRID = [
    pytest.param(1, 1, 5, 5, 1, (1, 1), 1, 0, id="k1-s1-p0-batch1-channels1"),
    pytest.param(2, 2, 6, 5, 3, (2, 2), 2, 0, id="k2-s2-p0-nonsquare"),
    pytest.param(2, 3, 7, 6, 2, (3, 3), 1, 1, id="k3-s1-p1"),
    pytest.param(1, 2, 8, 7, 2, (3, 3), 2, 1, id="k3-s2-p1-overlap"),
    pytest.param(2, 1, 9, 8, 2, (5, 5), 1, 2, id="k5-s1-p2"),
    pytest.param(1, 2, 10, 8, 2, (3, 3), 3, 2, id="k3-s3-p2"),
    pytest.param(2, 2, 7, 8, 2, (2, 2), 3, 0, id="k2-s3-skips-pixels"),
    pytest.param(2, 2, 6, 7, 3, (3, 1), (1, 2), (2, 0), id="k3x1-s1x2-p2x0"),
    pytest.param(1, 3, 5, 9, 2, (2, 4), (2, 3), (1, 2), id="k2x4-s2x3-p1x2"),
    pytest.param(2, 2, 1, 2, 2, (5, 5), 1, 2, id="k5-on-1x2-mostly-padding"),
]


def make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding, dtype=np.float64):
    """Random x, weight, bias and an upstream gradient dout of the right output shape."""
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    out_shape = (n, c_out, (h - kernel[0] + 2 * p_h) // s_h + 1,
                 (w - kernel[1] + 2 * p_w) // s_w + 1)
    dout = rng.standard_normal(out_shape).astype(dtype)
    return x, weight, bias, dout


# --------------------------------------------------------------------------------------------
# Gradient checks against central finite differences (float64)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", CONV_METHODS)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_gradients_match_finite_differences(rng, method, n, c_in, h, w, c_out, kernel,
                                            stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding)
    out, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    assert out.shape == dout.shape
    dx, dweight, dbias = conv2d_backward(dout, cache)

    def f():
        return conv2d_forward(x, weight, bias, stride, padding, method=method)[0]

    for name, analytic, array in (("dx", dx, x), ("dweight", dweight, weight),
                                  ("dbias", dbias, bias)):
        numeric = numerical_gradient(f, array, dout)
        error = rel_error(analytic, numeric)
        assert error < 1e-7, f"{method} {name}: relative error {error:.2e}"


# --------------------------------------------------------------------------------------------
# Fast paths against the naive reference, same inputs
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_fast_method_equals_naive(rng, method, dtype, tolerance, n, c_in, h, w, c_out, kernel,
                                  stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        dtype)
    expected_out, expected_cache = conv2d_forward(x, weight, bias, stride, padding,
                                                  method="naive")
    out, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    assert rel_error(out, expected_out) < tolerance
    for name, got, expected in zip(("dx", "dweight", "dbias"), conv2d_backward(dout, cache),
                                   conv2d_backward(dout, expected_cache)):
        assert got.shape == expected.shape, name
        assert rel_error(got, expected) < tolerance, name


@pytest.mark.parametrize("method", CONV_METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_and_gradients_keep_the_input_dtype(rng, method, dtype):
    x, weight, bias, dout = make_inputs(rng, 2, 2, 5, 6, 3, (3, 3), 1, 1, dtype)
    out, cache = conv2d_forward(x, weight, bias, 1, 1, method=method)
    assert out.dtype == dtype
    assert all(grad.dtype == dtype for grad in conv2d_backward(dout, cache))


@pytest.mark.parametrize("method", CONV_METHODS)
def test_no_bias_gives_dbias_none_and_the_zero_bias_output(rng, method):
    x, weight, bias, dout = make_inputs(rng, 2, 2, 6, 5, 3, (3, 3), 2, 1)
    out, cache = conv2d_forward(x, weight, None, 2, 1, method=method)
    expected, _ = conv2d_forward(x, weight, np.zeros_like(bias), 2, 1, method=method)
    np.testing.assert_array_equal(out, expected)
    dx, dweight, dbias = conv2d_backward(dout, cache)
    assert dbias is None
    assert dx.shape == x.shape and dweight.shape == weight.shape


@pytest.mark.parametrize("method", CONV_METHODS)
def test_noncontiguous_input_and_weight(rng, method):
    x, weight, bias, dout = make_inputs(rng, 2, 3, 7, 6, 2, (3, 3), 1, 1)
    x_view = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)          # same values, F-ish order
    weight_view = np.swapaxes(np.swapaxes(weight, 0, 1).copy(), 0, 1)
    assert not x_view.flags.c_contiguous and not weight_view.flags.c_contiguous
    out, cache = conv2d_forward(x_view, weight_view, bias, 1, 1, method=method)
    expected, expected_cache = conv2d_forward(x, weight, bias, 1, 1, method="naive")
    assert rel_error(out, expected) < 1e-12
    for got, want in zip(conv2d_backward(dout, cache), conv2d_backward(dout, expected_cache)):
        assert rel_error(got, want) < 1e-12


def test_output_is_c_contiguous(rng):
    x, weight, bias, dout = make_inputs(rng, 2, 2, 6, 6, 3, (3, 3), 1, 1, np.float32)
    for method in CONV_METHODS:
        out, cache = conv2d_forward(x, weight, bias, 1, 1, method=method)
        assert out.flags.c_contiguous, method
        dx, dweight, _ = conv2d_backward(dout, cache)
        assert dx.flags.c_contiguous and dweight.flags.c_contiguous, method


# --------------------------------------------------------------------------------------------
# The cache: plain data that records the method
# --------------------------------------------------------------------------------------------

def _is_plain(value):
    if isinstance(value, tuple):
        return all(_is_plain(item) for item in value)
    return isinstance(value, (np.ndarray, str, int, bool))


@pytest.mark.parametrize("method", CONV_METHODS)
def test_cache_is_plain_data_recording_the_method(rng, method):
    x, weight, bias, dout = make_inputs(rng, 1, 2, 5, 5, 2, (3, 3), 1, 1)
    _, cache = conv2d_forward(x, weight, bias, 1, 1, method=method)
    assert isinstance(cache, tuple) and _is_plain(cache)
    assert cache[0] == method
    # plain data survives a round trip through pickle and still drives the backward pass
    restored = pickle.loads(pickle.dumps(cache))
    for got, want in zip(conv2d_backward(dout, restored), conv2d_backward(dout, cache)):
        np.testing.assert_array_equal(got, want)


def test_method_none_means_the_default(rng):
    assert DEFAULT_METHOD in CONV_METHODS
    x, weight, bias, _ = make_inputs(rng, 1, 1, 4, 4, 1, (3, 3), 1, 0)
    _, cache = conv2d_forward(x, weight, bias)
    assert cache[0] == DEFAULT_METHOD


def test_stride_and_padding_accept_ints_and_pairs(rng):
    x, weight, bias, _ = make_inputs(rng, 1, 2, 7, 7, 2, (3, 3), 2, 1)
    as_ints, _ = conv2d_forward(x, weight, bias, 2, 1)
    as_pairs, _ = conv2d_forward(x, weight, bias, (2, 2), [1, 1])
    np.testing.assert_array_equal(as_ints, as_pairs)


# --------------------------------------------------------------------------------------------
# Property tests over random valid shapes
# --------------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # any input at least as large as the kernel after padding is valid
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 8))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 8))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w, draw(st.integers(1, 3)),
            kernel, stride, padding, draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=25, deadline=None)
@given(case=conv_cases(), method=st.sampled_from(FAST_METHODS))
def test_property_fast_methods_equal_naive_on_random_shapes(case, method):
    *shape, seed = case
    x, weight, bias, dout = make_inputs(np.random.default_rng(seed), *shape)
    stride, padding = shape[-2], shape[-1]
    out, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    expected, expected_cache = conv2d_forward(x, weight, bias, stride, padding, method="naive")
    assert out.shape == expected.shape == dout.shape
    assert rel_error(out, expected) < 1e-12
    for got, want in zip(conv2d_backward(dout, cache), conv2d_backward(dout, expected_cache)):
        assert rel_error(got, want) < 1e-12


@settings(max_examples=25, deadline=None)
@given(case=conv_cases())
def test_property_im2col_gradients_match_finite_differences(case):
    *shape, seed = case
    rng = np.random.default_rng(seed)
    x, weight, bias, dout = make_inputs(rng, *shape)
    stride, padding = shape[-2], shape[-1]
    _, cache = conv2d_forward(x, weight, bias, stride, padding, method="im2col")
    dx, dweight, _ = conv2d_backward(dout, cache)

    def f():
        return conv2d_forward(x, weight, bias, stride, padding, method="im2col")[0]

    assert rel_error(dx, numerical_gradient(f, x, dout)) < 1e-7
    assert rel_error(dweight, numerical_gradient(f, weight, dout)) < 1e-7


# --------------------------------------------------------------------------------------------
# PyTorch cross-check (float64)
# --------------------------------------------------------------------------------------------

def torch_conv2d(torch, x, weight, bias, dout, stride, padding):
    """PyTorch's conv2d output and its gradients (dx, dweight, dbias) for upstream dout."""
    x_t, weight_t, bias_t = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    out_t = torch.nn.functional.conv2d(x_t, weight_t, bias_t, stride=stride, padding=padding)
    out_t.backward(torch.tensor(dout))
    return out_t, x_t.grad, weight_t.grad, bias_t.grad


@pytest.mark.torch
@pytest.mark.parametrize("method", CONV_METHODS)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_matches_torch_forward_and_backward(rng, torch_reference, method, n, c_in, h, w, c_out,
                                            kernel, stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding)
    out_t, *grads_t = torch_reference(torch_conv2d, x, weight, bias, dout, stride, padding)

    out, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    assert rel_error(out, out_t) < 1e-12
    for name, got, expected in zip(("dx", "dweight", "dbias"), conv2d_backward(dout, cache),
                                   grads_t):
        assert rel_error(got, expected) < 1e-12, name


# --------------------------------------------------------------------------------------------
# Bad input: early errors that name conv2d and the shapes
# --------------------------------------------------------------------------------------------

def _good(dtype=np.float32):
    return (np.zeros((2, 3, 8, 8), dtype), np.zeros((4, 3, 3, 3), dtype), np.zeros(4, dtype))


def test_error_x_wrong_rank():
    x, weight, bias = _good()
    with pytest.raises(ValueError, match=r"conv2d: x must be 4-d .*\(3, 8, 8\).*x\[None\]"):
        conv2d_forward(x[0], weight, bias)


def test_error_weight_wrong_rank():
    x, weight, bias = _good()
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-d .*got shape \(4, 27\)"):
        conv2d_forward(x, weight.reshape(4, 27), bias)


def test_error_channel_mismatch_names_both_shapes():
    x, _, bias = _good()
    weight = np.zeros((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 1 "
                                         r"\(weight shape \(4, 1, 3, 3\), x shape "
                                         r"\(2, 3, 8, 8\)\)"):
        conv2d_forward(x, weight, bias)


def test_error_bias_shape_mismatch():
    x, weight, _ = _good()
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(C_out,\) = \(4,\) "
                                         r"for weight shape \(4, 3, 3, 3\), got shape \(3,\)"):
        conv2d_forward(x, weight, np.zeros(3, np.float32))


def test_error_kernel_larger_than_padded_input():
    x, _, bias = _good()
    weight = np.zeros((4, 3, 11, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: kernel 11 is larger than the padded input "
                                         r"along H \(H=8 \+ 2\*padding 1 = 10\)"):
        conv2d_forward(x, weight, bias, padding=1)


def test_error_dtype_mismatch_between_x_and_weight():
    x, weight, bias = _good()
    with pytest.raises(TypeError, match=r"conv2d: x is float64 but weight is float32"):
        conv2d_forward(x.astype(np.float64), weight, bias)


def test_error_bias_dtype_mismatch():
    x, weight, bias = _good()
    with pytest.raises(TypeError, match=r"conv2d: bias is float64 but x and weight are float32"):
        conv2d_forward(x, weight, bias.astype(np.float64))


def test_error_integer_input():
    x, weight, bias = _good()
    with pytest.raises(TypeError, match=r"conv2d: x must be float32 or float64, got dtype int"):
        conv2d_forward(x.astype(np.int64), weight, bias)


def test_error_unknown_method_lists_the_valid_ones():
    x, weight, bias = _good()
    with pytest.raises(ValueError, match=r"conv2d: unknown method 'fft'; valid methods are "
                                         r"'naive', 'loop', 'im2col'"):
        conv2d_forward(x, weight, bias, method="fft")


@pytest.mark.parametrize("argument, value, error", [("stride", 0, ValueError),
                                                    ("padding", -1, ValueError),
                                                    ("stride", (1, 2, 3), ValueError),
                                                    ("stride", 1.5, TypeError)])
def test_error_bad_stride_or_padding(argument, value, error):
    x, weight, bias = _good()
    with pytest.raises(error, match=rf"conv2d: {argument} must be"):
        conv2d_forward(x, weight, bias, **{argument: value})


def test_error_backward_dout_shape_mismatch():
    x, weight, bias = _good()
    _, cache = conv2d_forward(x, weight, bias, padding=1)
    with pytest.raises(ValueError, match=r"conv2d_backward: dout has shape \(2, 4, 6, 6\) but "
                                         r"the forward output had shape \(2, 4, 8, 8\)"):
        conv2d_backward(np.zeros((2, 4, 6, 6), np.float32), cache)


def test_error_backward_bad_cache():
    with pytest.raises(TypeError, match=r"conv2d_backward: cache must be the tuple returned by "
                                        r"conv2d_forward"):
        conv2d_backward(np.zeros((2, 4, 8, 8), np.float32), ("fft", None))
