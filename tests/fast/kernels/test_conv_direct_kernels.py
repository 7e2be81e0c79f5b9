"""The direct 3x3 convolution's kernels on flat padded planes, stride 1: each Numba kernel
against its NumPy twin, and the twins against the lecture's sum written out for one output
(stride 2: test_conv_direct_stride2_kernels.py)."""

import numpy as np
import pytest

from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct import (correlate_3x3, correlate_3x3_numpy, weight_gradient_3x3,
                                         weight_gradient_3x3_numpy)

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-13}

# (N, C, O, H, W, images n0..n1): output channels not a multiple of OUT_BLOCK (a block and
# one more; one alone), one input channel, a 1x1 image, non-square images, a range of images
# inside the batch
CASES = [
    pytest.param(2, 3, 5, 6, 7, (0, 2), id="odd-out-channels"),
    pytest.param(3, 1, 4, 5, 5, (1, 3), id="one-channel-images-1-2"),
    pytest.param(1, 2, 1, 1, 1, (0, 1), id="1x1-image"),
    pytest.param(4, 6, 8, 3, 9, (2, 3), id="wide-image-one-of-four"),
]


def _inputs(rng, n, c, o, h, w, dtype):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    return x, weight, rng.standard_normal(o).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_correlate_matches_its_twin_and_leaves_other_images_alone(rng, dtype, n, c, o, h, w,
                                                                 images):
    x, weight, bias = _inputs(rng, n, c, o, h, w, dtype)
    planes = flat_planes(x)[None]                       # stride 1: one plane a channel
    pitch, image_size = plane_geometry(h, w)
    got = np.full((n, o, h, w), np.nan, dtype)
    expected = got.copy()
    correlate_3x3(planes, weight, bias, pitch, image_size, 1, *images, got)
    correlate_3x3_numpy(planes, weight, bias, pitch, image_size, 1, *images, expected)
    inside = slice(*images)
    np.testing.assert_allclose(got[inside], expected[inside], rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype] * 10)
    outside = np.ones(n, bool)
    outside[inside] = False
    assert np.isnan(got[outside]).all()                   # the other images were not written


@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_correlate_twin_is_the_lectures_sum(rng, n, c, o, h, w, images):
    x, weight, bias = _inputs(rng, n, c, o, h, w, np.float64)
    got = np.zeros((n, o, h, w))
    correlate_3x3_numpy(flat_planes(x)[None], weight, bias, *plane_geometry(h, w), 1, 0, n, got)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    i, j = h - 1, w // 2                                   # one output, written out
    expected = [sum(weight[q, ch, u, v] * x_pad[m, ch, i + u, j + v]
                    for ch in range(c) for u in range(3) for v in range(3)) + bias[q]
                for m in range(n) for q in range(o)]
    np.testing.assert_allclose(got[:, :, i, j].ravel(), expected, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_weight_gradient_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w,
                                                              images):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    dout = rng.standard_normal((n, o + o % 2, h, w)).astype(dtype)
    planes = flat_planes(x)[None]
    pitch, image_size = plane_geometry(h, w)
    n0, n1 = images
    # grad as the backward pass gives it: the chunk of images n0..n1-1 only, so its position
    # f = 0 lies n0 images before the chunk's start
    grad_chunk = flat_planes(dout[n0:n1])
    arguments = (pitch + 1 - n0 * image_size, pitch, 1, n0 * image_size, n1 * image_size)
    got = np.full((o + o % 2, c, 3, 3), np.nan, dtype)
    expected = got.copy()
    weight_gradient_3x3(planes, grad_chunk, *arguments, got)
    weight_gradient_3x3_numpy(planes, grad_chunk, *arguments, expected)
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    lecture = np.einsum("noij,ncuvij->ocuv", dout[n0:n1],
                        np.lib.stride_tricks.sliding_window_view(
                            x_pad[n0:n1], (h, w), axis=(2, 3)))
    np.testing.assert_allclose(expected, lecture, rtol=TOLERANCE[dtype] * 10,
                               atol=TOLERANCE[dtype] * 10)
