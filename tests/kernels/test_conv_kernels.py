"""Convolution kernels: each Numba kernel against its NumPy twin, and the plain-Python mode."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.gradcheck import rel_error
from minicnn.kernels.conv import (col2im, col2im_numpy, conv2d_loop_backward_input,
                                  conv2d_loop_backward_input_numpy, conv2d_loop_backward_weight,
                                  conv2d_loop_backward_weight_numpy, conv2d_loop_forward,
                                  conv2d_loop_forward_numpy, im2col, im2col_numpy)
from minicnn.kernels.output_size import output_length

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}

# (N, C, H, W, kernel (kH, kW), stride (s_h, s_w), padding (p_h, p_w)): odd, non-square shapes
SHAPES = [
    pytest.param(1, 1, 5, 5, (1, 1), (1, 1), (0, 0), id="k1"),
    pytest.param(2, 3, 7, 6, (3, 3), (1, 1), (1, 1), id="k3-s1-p1"),
    pytest.param(3, 2, 9, 7, (3, 2), (2, 3), (1, 2), id="k3x2-s2x3-p1x2"),
    pytest.param(2, 2, 11, 10, (5, 5), (3, 3), (2, 2), id="k5-s3-p2"),
    pytest.param(1, 4, 3, 8, (3, 4), (1, 2), (0, 1), id="k3x4-short"),
    pytest.param(2, 2, 1, 2, (5, 5), (1, 3), (2, 2), id="k5-on-1x2-mostly-padding"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", SHAPES)
def test_im2col_equals_numpy_twin(rng, dtype, n, c, h, w, kernel, stride, padding):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols = im2col(x, *kernel, *stride, *padding)
    expected = im2col_numpy(x, *kernel, *stride, *padding)
    out_positions = n * output_length(h, kernel[0], stride[0], padding[0]) \
        * output_length(w, kernel[1], stride[1], padding[1])
    assert cols.shape == expected.shape == (c * kernel[0] * kernel[1], out_positions)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, expected)      # pure copies: exactly equal


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", SHAPES)
def test_col2im_equals_numpy_twin(rng, dtype, n, c, h, w, kernel, stride, padding):
    rows = c * kernel[0] * kernel[1]
    positions = n * output_length(h, kernel[0], stride[0], padding[0]) \
        * output_length(w, kernel[1], stride[1], padding[1])
    dcols = rng.standard_normal((rows, positions)).astype(dtype)
    dx = col2im(dcols, n, c, h, w, *kernel, *stride, *padding)
    expected = col2im_numpy(dcols, n, c, h, w, *kernel, *stride, *padding)
    assert dx.shape == expected.shape == (n, c, h, w)
    assert dx.dtype == dtype
    assert rel_error(dx, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", SHAPES)
def test_col2im_is_the_adjoint_of_im2col(rng, n, c, h, w, kernel, stride, padding):
    # <im2col(x), y> = <x, col2im(y)> for all x, y: col2im is exactly im2col's backward pass
    x = rng.standard_normal((n, c, h, w))
    cols = im2col(x, *kernel, *stride, *padding)
    y = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * y)
    rhs = np.sum(x * col2im(y, n, c, h, w, *kernel, *stride, *padding))
    assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + abs(rhs) + 1)


def _padded(rng, n, c, h, w, padding, dtype):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    return np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", SHAPES)
def test_loop_kernels_equal_numpy_twins(rng, dtype, n, c, h, w, kernel, stride, padding):
    x_padded = _padded(rng, n, c, h, w, padding, dtype)
    weight = rng.standard_normal((3, c, *kernel)).astype(dtype)
    out = conv2d_loop_forward(x_padded, weight, *stride)
    expected = conv2d_loop_forward_numpy(x_padded, weight, *stride)
    assert out.shape == expected.shape and out.dtype == dtype
    assert rel_error(out, expected) < TOLERANCE[dtype]

    dout = rng.standard_normal(out.shape).astype(dtype)
    dx_padded = conv2d_loop_backward_input(dout, weight, *stride, *x_padded.shape[2:])
    expected = conv2d_loop_backward_input_numpy(dout, weight, *stride, *x_padded.shape[2:])
    assert dx_padded.shape == x_padded.shape and dx_padded.dtype == dtype
    assert rel_error(dx_padded, expected) < TOLERANCE[dtype]

    dweight = conv2d_loop_backward_weight(dout, x_padded, *kernel, *stride)
    expected = conv2d_loop_backward_weight_numpy(dout, x_padded, *kernel, *stride)
    assert dweight.shape == weight.shape and dweight.dtype == dtype
    assert rel_error(dweight, expected) < TOLERANCE[dtype]


def test_loop_backward_weight_with_more_images_than_batch_slices(rng):
    # the batch is split into slices with their own partial dW; 37 images do not divide evenly
    x_padded = _padded(rng, 37, 2, 5, 4, (1, 1), np.float64)
    weight = rng.standard_normal((2, 2, 3, 3))
    dout = rng.standard_normal(conv2d_loop_forward(x_padded, weight, 1, 1).shape)
    assert rel_error(conv2d_loop_backward_weight(dout, x_padded, 3, 3, 1, 1),
                      conv2d_loop_backward_weight_numpy(dout, x_padded, 3, 3, 1, 1)) < 1e-12


@st.composite
def kernel_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 9))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w, kernel, stride, padding,
            draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=25, deadline=None)
@given(case=kernel_cases())
def test_property_im2col_and_col2im_equal_numpy_twins(case):
    n, c, h, w, kernel, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    cols = im2col(x, *kernel, *stride, *padding)
    np.testing.assert_array_equal(cols, im2col_numpy(x, *kernel, *stride, *padding))
    dcols = rng.standard_normal(cols.shape)
    assert rel_error(col2im(dcols, n, c, h, w, *kernel, *stride, *padding),
                      col2im_numpy(dcols, n, c, h, w, *kernel, *stride, *padding)) < 1e-12


# Run every kernel once as plain Python (NUMBA_DISABLE_JIT=1) in a fresh interpreter and
# compare with the NumPy twins: the kernels must stay steppable in a debugger.
_PLAIN_PYTHON_SCRIPT = r"""
import json
import numpy as np
import minicnn.kernels.conv as k

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 2, 5, 4))
args = (3, 2, 2, 1, 1, 1)                        # kernel 3x2, stride 2x1, padding 1x1
cols = k.im2col(x, *args)
errors = {"im2col": float(np.abs(cols - k.im2col_numpy(x, *args)).max())}
errors["col2im"] = float(np.abs(k.col2im(cols, 2, 2, 5, 4, *args)
                                - k.col2im_numpy(cols, 2, 2, 5, 4, *args)).max())
x_padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
weight = rng.standard_normal((3, 2, 3, 2))
out = k.conv2d_loop_forward(x_padded, weight, 2, 1)
errors["forward"] = float(np.abs(out - k.conv2d_loop_forward_numpy(x_padded, weight, 2, 1)).max())
dout = rng.standard_normal(out.shape)
errors["backward_input"] = float(np.abs(
    k.conv2d_loop_backward_input(dout, weight, 2, 1, 7, 6)
    - k.conv2d_loop_backward_input_numpy(dout, weight, 2, 1, 7, 6)).max())
errors["backward_weight"] = float(np.abs(
    k.conv2d_loop_backward_weight(dout, x_padded, 3, 2, 2, 1)
    - k.conv2d_loop_backward_weight_numpy(dout, x_padded, 3, 2, 2, 1)).max())
errors["jit_disabled"] = not hasattr(k.im2col, "py_func")
print(json.dumps(errors))
"""


def test_kernels_run_as_plain_python_with_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", _PLAIN_PYTHON_SCRIPT], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert errors.pop("jit_disabled") is True
    for kernel, error in errors.items():
        assert error < 1e-12, kernel
