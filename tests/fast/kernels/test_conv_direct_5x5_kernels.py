"""The direct 5x5 convolution's kernels on flat planes padded by two: the layout, each Numba
kernel against its NumPy twin, and the twins against the lecture's sums written out with
NumPy (3x3: test_conv_direct_kernels.py)."""

import numpy as np
import pytest

from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct_5x5 import (correlate_5x5, correlate_5x5_numpy,
                                                  weight_gradient_5x5, weight_gradient_5x5_numpy)

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-13}

# (N, C, O, H, W, images n0..n1): output channels a block of four and a pair (LeNet-5's 6),
# a block and one, one alone, two blocks; one input channel, non-square images, images
# smaller than the filter, a range of images inside the batch
CASES = [
    pytest.param(2, 1, 6, 7, 8, (0, 2), id="one-channel-to-6"),
    pytest.param(3, 3, 5, 6, 5, (1, 3), id="block-and-one-images-1-2"),
    pytest.param(1, 2, 1, 2, 1, (0, 1), id="2x1-image-one-output"),
    pytest.param(4, 5, 8, 3, 9, (2, 3), id="wide-image-one-of-four"),
    pytest.param(2, 7, 3, 4, 4, (0, 2), id="4x4-image-pair-and-one"),
]


def _lecture(x, weight):
    """Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] X_pad[n, c, i + u, j + v]."""
    height, width = x.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return sum(np.einsum("oc,ncij->noij", weight[:, :, u, v],
                         x_pad[:, :, u:u + height, v:v + width])
               for u in range(5) for v in range(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, h, w", [(2, 3, 5, 4), (1, 2, 4, 7), (3, 1, 1, 1)])
def test_flat_planes_padded_by_two_hold_x_pad_row_after_row(rng, dtype, n, c, h, w):
    """X_pad[n, c, y, k] = planes[c, n * image_size + y * pitch + k] for every y < H + 4 and
    k < W + 4: the zeros opening each row and image pad both of their sides."""
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    planes = flat_planes(x, padding=2)
    pitch, image_size = plane_geometry(h, w, 2)
    assert (pitch, image_size) == (w + 2, (h + 2) * (w + 2))
    assert planes.shape == (c, n * image_size + 4 * pitch + 4) and planes.dtype == dtype
    x_pad = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    y, k = np.meshgrid(np.arange(h + 4), np.arange(w + 4), indexing="ij")
    for image in range(n):
        np.testing.assert_array_equal(planes[:, image * image_size + y * pitch + k],
                                      x_pad[image])


def test_padding_1_keeps_the_3x3_layout(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert plane_geometry(4, 5) == plane_geometry(4, 5, 1) == (6, 5 * 6)
    np.testing.assert_array_equal(flat_planes(x), flat_planes(x, padding=1))
    assert flat_planes(x).shape == (3, 2 * 30 + 2 * 6 + 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_correlate_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w, images):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c, 5, 5)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    planes = flat_planes(x, padding=2)
    pitch, image_size = plane_geometry(h, w, 2)
    got = np.full((n, o, h, w), np.nan, dtype)
    expected = got.copy()
    correlate_5x5(planes, weight, bias, pitch, image_size, *images, got)
    correlate_5x5_numpy(planes, weight, bias, pitch, image_size, *images, expected)
    inside = slice(*images)
    tolerance = TOLERANCE[dtype] * 10
    np.testing.assert_allclose(got[inside], expected[inside], rtol=tolerance, atol=tolerance)
    lecture = _lecture(x, weight) + bias[:, None, None]
    np.testing.assert_allclose(expected[inside], lecture[inside], rtol=tolerance,
                               atol=tolerance)
    outside = np.ones(n, bool)
    outside[inside] = False
    assert np.isnan(got[outside]).all()                   # the other images were not written


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_weight_gradient_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w,
                                                              images):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    dout = rng.standard_normal((n, o + o % 2, h, w)).astype(dtype)
    planes = flat_planes(x, padding=2)
    pitch, image_size = plane_geometry(h, w, 2)
    n0, n1 = images
    # grad as the backward pass gives it: the chunk of images n0..n1-1 only, so its position
    # f = 0 lies n0 images before the chunk's start, and the padding shifts it by 2 (pitch + 1)
    grad_chunk = flat_planes(dout[n0:n1], padding=2)
    arguments = (2 * (pitch + 1) - n0 * image_size, pitch, n0 * image_size, n1 * image_size)
    got = np.full((o + o % 2, c, 5, 5), np.nan, dtype)
    expected = got.copy()
    weight_gradient_5x5(planes, grad_chunk, *arguments, got)
    weight_gradient_5x5_numpy(planes, grad_chunk, *arguments, expected)
    tolerance = TOLERANCE[dtype] * 10
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, i + u, j + v]
    x_pad = np.pad(x[n0:n1], ((0, 0), (0, 0), (2, 2), (2, 2)))
    lecture = np.einsum("noij,ncuvij->ocuv", dout[n0:n1],
                        np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), axis=(2, 3)))
    np.testing.assert_allclose(expected, lecture, rtol=tolerance, atol=tolerance)
