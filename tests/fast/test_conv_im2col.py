"""The engine's im2col (minicnn/fast/conv/im2col.py) against the lecture's im2col and naive loops."""

import numpy as np
import pytest

import minicnn.fast.conv.im2col as engine_im2col
from minicnn.fast.conv.im2col import conv2d_im2col_backward, conv2d_im2col_forward
from minicnn.functional.conv import conv2d_backward, conv2d_forward
from minicnn.gradcheck import rel_error

# (N, C_in, H, W, C_out, kernel, stride, padding): overlapping windows, stride > 1, padding,
# non-square inputs and kernels, a batch of 1, kernel 1 and 5
GRID = [
    pytest.param(1, 1, 5, 5, 1, (1, 1), (1, 1), (0, 0), id="k1-s1-p0-batch1"),
    pytest.param(2, 3, 7, 6, 2, (3, 3), (1, 1), (1, 1), id="k3-s1-p1"),
    pytest.param(1, 2, 8, 7, 2, (3, 3), (2, 2), (1, 1), id="k3-s2-p1-overlap"),
    pytest.param(2, 1, 9, 8, 2, (5, 5), (1, 1), (2, 2), id="k5-s1-p2"),
    pytest.param(2, 2, 6, 7, 3, (3, 1), (1, 2), (2, 0), id="k3x1-s1x2-p2x0"),
    pytest.param(1, 3, 5, 9, 2, (2, 4), (2, 3), (1, 2), id="k2x4-s2x3-p1x2"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("products", ["per_image", "whole_batch"])
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_engine_im2col_equals_the_lectures_im2col_and_naive(rng, monkeypatch, products, dtype,
                                                           n, c_in, h, w, c_out, kernel,
                                                           stride, padding):
    # small layers multiply image by image, large ones once for the batch: test both branches
    monkeypatch.setattr(engine_im2col, "_PER_IMAGE_MAX_PRODUCT",
                        2**62 if products == "per_image" else 0)
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    lecture_out, lecture_cache = conv2d_forward(x, weight, bias, stride, padding, method="im2col")
    naive_out, naive_cache = conv2d_forward(x, weight, bias, stride, padding, method="naive")
    out, cols = conv2d_im2col_forward(x, weight, bias, stride, padding)
    assert out.flags.c_contiguous and out.dtype == dtype
    np.testing.assert_array_equal(cols, lecture_cache[1])       # the same columns, bit for bit
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert rel_error(out, naive_out) < tolerance

    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = conv2d_im2col_backward(dout, cols, weight, stride, padding, x.shape)
    for name, got, lecture, naive in zip(("dx", "dweight", "dbias"), grads,
                                         conv2d_backward(dout, lecture_cache),
                                         conv2d_backward(dout, naive_cache)):
        assert got.shape == naive.shape and got.dtype == dtype, name
        assert rel_error(got, naive) < tolerance, name
        assert rel_error(got, lecture) < tolerance, name
