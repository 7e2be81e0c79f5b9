"""Winograd F(2x2, 3x3) tile transforms: each Numba kernel against its NumPy twin, on whole
chunks and on bands of tile rows, and the transforms against the identity they implement."""

import numpy as np
import pytest

from minicnn.kernels import conv_winograd as k

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-6, np.float64: 1e-14}

# (N, C, H, W, padding (p_h, p_w), chunk (n0, n1, a0, a1)): odd and even output sizes, a chunk
# that is a band of tile rows in the middle of an image, padding 0-2, an image of one row
CASES = [
    pytest.param(2, 3, 7, 6, (1, 1), (0, 2, 0, 4), id="whole-batch-odd-height"),
    pytest.param(3, 2, 10, 9, (0, 0), (1, 3, 0, 4), id="images-1-2-no-padding"),
    pytest.param(1, 2, 12, 11, (2, 2), (0, 1, 2, 5), id="band-of-tile-rows"),
    pytest.param(2, 1, 1, 2, (1, 1), (0, 2, 0, 1), id="1x2-image-mostly-padding"),
    pytest.param(1, 4, 9, 5, (1, 2), (0, 1, 4, 5), id="last-tile-row-hangs-over"),
]


def _grid(h, w, padding):
    out_h, out_w = h + 2 * padding[0] - 2, w + 2 * padding[1] - 2
    return out_h, out_w, (out_h + 1) // 2, (out_w + 1) // 2


def _count(chunk, tiles_w):
    n0, n1, a0, a1 = chunk
    return (n1 - n0) * (a1 - a0) * tiles_w


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_input_transform_matches_numpy_twin(rng, dtype, n, c, h, w, padding, chunk):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    _, _, _, tiles_w = _grid(h, w, padding)
    got = np.full((16, c, _count(chunk, tiles_w)), np.nan, dtype)
    expected = np.full_like(got, np.nan)
    k.input_transform(x, *chunk, tiles_w, *padding, got)
    k.input_transform_numpy(x, *chunk, tiles_w, *padding, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_input_transform_adjoint_matches_numpy_twin(rng, dtype, n, c, h, w, padding, chunk):
    _, _, _, tiles_w = _grid(h, w, padding)
    dv = rng.standard_normal((16, c, _count(chunk, tiles_w))).astype(dtype)
    start = rng.standard_normal((n, c, h, w)).astype(dtype)     # the kernels add into dx
    got, expected = start.copy(), start.copy()
    k.input_transform_adjoint(dv, *chunk, tiles_w, *padding, got)
    k.input_transform_adjoint_numpy(dv, *chunk, tiles_w, *padding, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_output_transform_matches_numpy_twin(rng, dtype, n, c, h, w, padding, chunk):
    out_h, out_w, _, tiles_w = _grid(h, w, padding)
    m = rng.standard_normal((16, c, _count(chunk, tiles_w))).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    got = np.full((n, c, out_h, out_w), np.nan, dtype)          # only the chunk is written
    expected = got.copy()
    k.output_transform(m, bias, *chunk, tiles_w, got)
    k.output_transform_numpy(m, bias, *chunk, tiles_w, expected)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert _rel(np.nan_to_num(got), np.nan_to_num(expected)) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_output_transform_adjoint_matches_numpy_twin(rng, dtype, n, c, h, w, padding, chunk):
    out_h, out_w, _, tiles_w = _grid(h, w, padding)
    dout = rng.standard_normal((n, c, out_h, out_w)).astype(dtype)
    got = np.full((16, c, _count(chunk, tiles_w)), np.nan, dtype)
    expected = np.full_like(got, np.nan)
    k.output_transform_adjoint(dout, *chunk, tiles_w, got)
    k.output_transform_adjoint_numpy(dout, *chunk, tiles_w, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_adjoints_are_transposes(rng, n, c, h, w, padding, chunk):
    """<T x, y> = <x, T^T y> for the input and output transforms (float64)."""
    out_h, out_w, _, tiles_w = _grid(h, w, padding)
    count = _count(chunk, tiles_w)
    x = rng.standard_normal((n, c, h, w))
    dv = rng.standard_normal((16, c, count))
    v = np.empty_like(dv)
    k.input_transform(x, *chunk, tiles_w, *padding, v)
    dx = np.zeros_like(x)
    k.input_transform_adjoint(dv, *chunk, tiles_w, *padding, dx)
    assert np.isclose(np.vdot(v, dv), np.vdot(x, dx), rtol=1e-12)

    m = rng.standard_normal((16, c, count))
    out = np.zeros((n, c, out_h, out_w))
    k.output_transform(m, np.zeros(c), *chunk, tiles_w, out)
    dout = rng.standard_normal(out.shape)
    dm = np.empty_like(m)
    k.output_transform_adjoint(dout, *chunk, tiles_w, dm)
    assert np.isclose(np.vdot(out, dout), np.vdot(m, dm), rtol=1e-12)


def test_one_tile_is_winograds_identity(rng):
    """A^T [(G g G^T) * (B^T d B)] A equals the 2x2 correlation of the 4x4 tile d with g."""
    d = rng.standard_normal((4, 4))
    g = rng.standard_normal((3, 3))
    y = k.A_T @ ((k.G @ g @ k.G.T) * (k.B_T @ d @ k.B_T.T)) @ k.A_T.T
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)
