"""The direct 3x3 convolution's kernels with stride 2, on phase planes: each Numba kernel
against its NumPy twin, and the twins against the lecture's sums written out with NumPy
slices."""

import numpy as np
import pytest

from minicnn.fast.conv.direct import flat_planes, phase_planes, plane_geometry
from minicnn.fast.kernels.conv_direct import (correlate_3x3, correlate_3x3_numpy,
                                         input_gradient_3x3_stride2,
                                         input_gradient_3x3_stride2_numpy, weight_gradient_3x3,
                                         weight_gradient_3x3_numpy)

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-13}

# (N, C, O, H, W, images n0..n1): output channels not a multiple of 4 (a block and one
# more; one alone; odd, for dW's pairs), odd and even heights and widths, a 1x1 image, a
# range of images inside the batch
CASES = [
    pytest.param(2, 3, 5, 6, 7, (0, 2), id="odd-out-channels-even-by-odd"),
    pytest.param(3, 1, 4, 5, 5, (1, 3), id="one-channel-odd-images-1-2"),
    pytest.param(1, 2, 1, 1, 1, (0, 1), id="1x1-image"),
    pytest.param(4, 6, 9, 4, 8, (2, 3), id="even-image-one-of-four"),
]


def _geometry(h, w):
    """(H_out, W_out, pitch, image_size) of a stride-2, padding-1 layer on H x W images."""
    out_h, out_w = (h + 1) // 2, (w + 1) // 2
    return (out_h, out_w, *plane_geometry(out_h, out_w))


def _lecture(x, weight):
    """Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] X_pad[n, c, 2i + u, 2j + v]."""
    out_h, out_w = (x.shape[2] + 1) // 2, (x.shape[3] + 1) // 2
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))
    return sum(np.einsum("oc,ncij->noij", weight[:, :, u, v],
                         x_pad[:, :, u:u + 2 * out_h:2, v:v + 2 * out_w:2])
               for u in range(3) for v in range(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, h, w", [(2, 3, 5, 4), (1, 2, 4, 7), (3, 1, 1, 1), (2, 2, 6, 6),
                                        (1, 1, 2, 1)])
def test_phase_planes_hold_every_second_pixel_of_x_pad(rng, dtype, n, c, h, w):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    phases = phase_planes(x)
    out_h, out_w, pitch, image_size = _geometry(h, w)
    assert phases.shape == (4, c, n * image_size + pitch + 2) and phases.dtype == dtype
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))                 # (N, C, H + 3, W + 3)
    grid = phases[:, :, :n * image_size].reshape(2, 2, c, n, out_h + 1, pitch)
    for a in range(2):
        for b in range(2):
            expected = x_pad[:, :, a::2, b::2][:, :, :out_h + 1, :out_w + 1].transpose(1, 0, 2, 3)
            np.testing.assert_array_equal(grid[a, b], expected)
    assert not phases[:, :, n * image_size:].any()                       # the slack is zero


def test_phase_planes_of_a_strided_view_equal_those_of_its_copy(rng):
    x = rng.standard_normal((4, 3, 9, 10))[::2, :, 1:, ::-1]            # not C-contiguous
    np.testing.assert_array_equal(phase_planes(x), phase_planes(x.copy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_forward_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w, images):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    out_h, out_w, pitch, image_size = _geometry(h, w)
    phases = phase_planes(x)
    got = np.full((n, o, out_h, out_w), np.nan, dtype)
    expected = got.copy()
    correlate_3x3(phases, weight, bias, pitch, image_size, 2, *images, got)
    correlate_3x3_numpy(phases, weight, bias, pitch, image_size, 2, *images, expected)
    inside = slice(*images)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(got[inside], expected[inside], rtol=tolerance,
                               atol=tolerance * 10)
    lecture = _lecture(x, weight) + bias[:, None, None]
    np.testing.assert_allclose(expected[inside], lecture[inside], rtol=tolerance,
                               atol=tolerance * 10)
    outside = np.ones(n, bool)
    outside[inside] = False
    assert np.isnan(got[outside]).all()                   # the other images were not written


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
def test_weight_gradient_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w,
                                                              images):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    out_h, out_w, pitch, image_size = _geometry(h, w)
    dout = rng.standard_normal((n, o + o % 2, out_h, out_w)).astype(dtype)
    n0, n1 = images
    # grad as the backward pass gives it: the chunk of images n0..n1-1 only
    grad_chunk = flat_planes(dout[n0:n1])
    arguments = (pitch + 1 - n0 * image_size, pitch, 2, n0 * image_size, n1 * image_size)
    got = np.full((o + o % 2, c, 3, 3), np.nan, dtype)
    expected = got.copy()
    weight_gradient_3x3(phase_planes(x), grad_chunk, *arguments, got)
    weight_gradient_3x3_numpy(phase_planes(x), grad_chunk, *arguments, expected)
    tolerance = TOLERANCE[dtype] * 10
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, 2i + u, 2j + v]
    x_pad = np.pad(x[n0:n1], ((0, 0), (0, 0), (1, 2), (1, 2)))
    lecture = np.stack([np.einsum("noij,ncij->oc", dout[n0:n1],
                                  x_pad[:, :, u:u + 2 * out_h:2, v:v + 2 * out_w:2])
                        for u in range(3) for v in range(3)], axis=-1)
    np.testing.assert_allclose(expected, lecture.reshape(expected.shape), rtol=tolerance,
                               atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, images", CASES)
@pytest.mark.parametrize("extra_plane", [False, True], ids=["planes-O", "planes-O-plus-one"])
def test_input_gradient_matches_its_twin_and_the_lectures_sum(rng, dtype, n, c, o, h, w,
                                                             images, extra_plane):
    weight = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    out_h, out_w, pitch, image_size = _geometry(h, w)
    dout = rng.standard_normal((n, o, out_h, out_w)).astype(dtype)
    n0, n1 = images
    # the backward pass's dZ chunk: images n0..n1-1, maybe one zero plane more (dW's pairs)
    grad_chunk = flat_planes(dout[n0:n1], o + 1 if extra_plane else None)
    got = np.full((n1 - n0, c, h, w), np.nan, dtype)
    expected = got.copy()
    input_gradient_3x3_stride2(grad_chunk, weight, pitch, image_size, 0, n1 - n0, got)
    input_gradient_3x3_stride2_numpy(grad_chunk, weight, pitch, image_size, 0, n1 - n0,
                                     expected)
    tolerance = TOLERANCE[dtype] * 10
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # dL/dX_pad[n, c, 2i + u, 2j + v] += W[o, c, u, v] * dZ[n, o, i, j], padding dropped
    dx_pad = np.zeros((n1 - n0, c, 2 * out_h + 2, 2 * out_w + 2), dtype)
    for u in range(3):
        for v in range(3):
            dx_pad[:, :, u:u + 2 * out_h:2, v:v + 2 * out_w:2] += np.einsum(
                "oc,noij->ncij", weight[:, :, u, v], dout[n0:n1])
    np.testing.assert_allclose(expected, dx_pad[:, :, 1:h + 1, 1:w + 1], rtol=tolerance,
                               atol=tolerance)
