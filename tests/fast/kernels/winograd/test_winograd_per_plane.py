"""Winograd F(2x2, 3x3), F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 7x7) per-plane tile transforms
(minicnn/fast/kernels/winograd/planes.py and the family modules): each Numba kernel against
its NumPy twin, on whole chunks and on bands of tile rows, and the transforms
against the identity they implement."""

from types import SimpleNamespace

import numpy as np
import pytest

from minicnn.fast.kernels.winograd import f2x2_3x3, f2x2_5x5, f2x2_7x7, f4x4_3x3
from minicnn.fast.kernels.winograd import matrices as mat


def _family(r, b_t, g, a_t, module):
    """One Winograd F(m x m, r x r): its matrices, and its module's four kernels and their
    NumPy twins (m = len(a_t) outputs per tile side, tiles m apart)."""
    return SimpleNamespace(r=r, step=len(a_t), planes=len(b_t) ** 2, B_T=b_t, G=g, A_T=a_t,
                           **{name: getattr(module, name) for name in module.__all__})


FAMILIES = [
    pytest.param(_family(3, mat.B_T, mat.G, mat.A_T, f2x2_3x3), id="F2-3x3"),
    pytest.param(_family(3, mat.B_T5, mat.G43, mat.A_T43, f4x4_3x3), id="F4-3x3"),
    pytest.param(_family(5, mat.B_T5, mat.G5, mat.A_T5, f2x2_5x5), id="5x5"),
    pytest.param(_family(7, mat.B_T7, mat.G7, mat.A_T7, f2x2_7x7), id="7x7"),
]

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-6, np.float64: 1e-14}

# The engine runs F(2x2, 3x3)'s per-plane kernels in both dtypes. Those of the other three
# families run nowhere in it (it runs their lanes kernels, test_winograd_lanes.py): they are the
# lanes kernels' bit-for-bit reference and benchmarks/winograd_layout.py's baseline, both in
# float32, so they are tested in float32 only (each dtype compiles each kernel afresh, seconds
# apiece, and these tests were the suite's largest compile cost).
RUN_IN_FLOAT64 = {"F2-3x3"}                 # the families whose per-plane kernels the engine runs
FAMILY_DTYPES = [pytest.param(family.values[0], dtype, id=f"{dtype.__name__}-{family.id}")
                 for family in FAMILIES for dtype in DTYPES
                 if dtype is np.float32 or family.id in RUN_IN_FLOAT64]
# the adjoint identity in float64 where the engine runs float64, else in float32
ADJOINT_DTYPES = [pytest.param(family.values[0], np.float64 if family.id in RUN_IN_FLOAT64
                               else np.float32, id=family.id) for family in FAMILIES]

# (N, C, H, W, padding (p_h, p_w), chunk (n0, n1, a0, a1)): odd and even output sizes, a chunk
# that is a band of tile rows in the middle of an image, padding 0-2, an image of one row
CASES = [
    pytest.param(2, 3, 7, 6, (1, 1), (0, 2, 0, 4), id="whole-batch-odd-height"),
    pytest.param(3, 2, 10, 9, (0, 0), (1, 3, 0, 4), id="images-1-2-no-padding"),
    pytest.param(1, 2, 12, 11, (2, 2), (0, 1, 2, 5), id="band-of-tile-rows"),
    pytest.param(2, 1, 1, 2, (1, 1), (0, 2, 0, 1), id="1x2-image-mostly-padding"),
    pytest.param(1, 4, 9, 5, (1, 2), (0, 1, 4, 5), id="last-tile-row-hangs-over"),
]


def _family_case(h, w, padding, family):
    """A CASES image and padding for this family: for an r x r filter the padding grows by
    (r - 3) / 2, and for tiles m apart the image by m / 2, so the tile grid is at least the
    3x3 F(2x2) one and every case's chunk of tile rows exists."""
    extra, scale = (family.r - 3) // 2, family.step // 2
    return h * scale, w * scale, (padding[0] + extra, padding[1] + extra)


def _grid(h, w, padding, family):
    out_h = h + 2 * padding[0] - family.r + 1
    out_w = w + 2 * padding[1] - family.r + 1
    return out_h, out_w, -(-out_h // family.step), -(-out_w // family.step)


def _count(chunk, tiles_w):
    n0, n1, a0, a1 = chunk
    return (n1 - n0) * (a1 - a0) * tiles_w


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("family, dtype", FAMILY_DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_input_transform_matches_numpy_twin(rng, family, dtype, n, c, h, w, padding, chunk):
    h, w, padding = _family_case(h, w, padding, family)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    _, _, _, tiles_w = _grid(h, w, padding, family)
    got = np.full((family.planes, c, _count(chunk, tiles_w)), np.nan, dtype)
    expected = np.full_like(got, np.nan)
    family.input_transform(x, *chunk, tiles_w, *padding, got)
    family.input_transform_numpy(x, *chunk, tiles_w, *padding, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("family, dtype", FAMILY_DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_input_transform_adjoint_matches_numpy_twin(rng, family, dtype, n, c, h, w, padding,
                                                    chunk):
    h, w, padding = _family_case(h, w, padding, family)
    _, _, _, tiles_w = _grid(h, w, padding, family)
    dv = rng.standard_normal((family.planes, c, _count(chunk, tiles_w))).astype(dtype)
    start = rng.standard_normal((n, c, h, w)).astype(dtype)     # the kernels add into dx
    got, expected = start.copy(), start.copy()
    family.input_transform_adjoint(dv, *chunk, tiles_w, *padding, got)
    family.input_transform_adjoint_numpy(dv, *chunk, tiles_w, *padding, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("family, dtype", FAMILY_DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_output_transform_matches_numpy_twin(rng, family, dtype, n, c, h, w, padding, chunk):
    h, w, padding = _family_case(h, w, padding, family)
    out_h, out_w, _, tiles_w = _grid(h, w, padding, family)
    m = rng.standard_normal((family.planes, c, _count(chunk, tiles_w))).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    got = np.full((n, c, out_h, out_w), np.nan, dtype)          # only the chunk is written
    expected = got.copy()
    family.output_transform(m, bias, *chunk, tiles_w, got)
    family.output_transform_numpy(m, bias, *chunk, tiles_w, expected)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert _rel(np.nan_to_num(got), np.nan_to_num(expected)) < TOLERANCE[dtype]


@pytest.mark.parametrize("family, dtype", FAMILY_DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_output_transform_adjoint_matches_numpy_twin(rng, family, dtype, n, c, h, w, padding,
                                                     chunk):
    h, w, padding = _family_case(h, w, padding, family)
    out_h, out_w, _, tiles_w = _grid(h, w, padding, family)
    dout = rng.standard_normal((n, c, out_h, out_w)).astype(dtype)
    got = np.full((family.planes, c, _count(chunk, tiles_w)), np.nan, dtype)
    expected = np.full_like(got, np.nan)
    family.output_transform_adjoint(dout, *chunk, tiles_w, got)
    family.output_transform_adjoint_numpy(dout, *chunk, tiles_w, expected)
    assert _rel(got, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("family, dtype", ADJOINT_DTYPES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_adjoints_are_transposes(rng, family, dtype, n, c, h, w, padding, chunk):
    """<T x, y> = <x, T^T y> for the input and output transforms. The inner products are
    summed in float64; in float32 the kernels round every number, and the two sides may
    differ by a few roundings of the terms' magnitude, not of their sum (which cancels)."""
    h, w, padding = _family_case(h, w, padding, family)
    out_h, out_w, _, tiles_w = _grid(h, w, padding, family)
    count = _count(chunk, tiles_w)

    def agree(a, b, c, d):
        """<a, b> = <c, d>: relative 1e-12 in float64; in float32 within 1e-6 of the sum
        of |terms| (a transpose that is wrong misses by the size of the terms)."""
        a, b, c, d = (array.astype(np.float64) for array in (a, b, c, d))
        if dtype == np.float64:
            return np.isclose(np.vdot(a, b), np.vdot(c, d), rtol=1e-12)
        scale = np.vdot(abs(a), abs(b)) + np.vdot(abs(c), abs(d))
        return abs(np.vdot(a, b) - np.vdot(c, d)) <= 1e-6 * scale

    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    dv = rng.standard_normal((family.planes, c, count)).astype(dtype)
    v = np.empty_like(dv)
    family.input_transform(x, *chunk, tiles_w, *padding, v)
    dx = np.zeros_like(x)
    family.input_transform_adjoint(dv, *chunk, tiles_w, *padding, dx)
    assert agree(v, dv, x, dx)

    m = rng.standard_normal((family.planes, c, count)).astype(dtype)
    out = np.zeros((n, c, out_h, out_w), dtype)
    family.output_transform(m, np.zeros(c, dtype), *chunk, tiles_w, out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dm = np.empty_like(m)
    family.output_transform_adjoint(dout, *chunk, tiles_w, dm)
    assert agree(out, dout, m, dm)


@pytest.mark.parametrize("family", FAMILIES)
def test_one_tile_is_winograds_identity(rng, family):
    """A^T [(G g G^T) * (B^T d B)] A equals the m x m correlation of the alpha x alpha tile d
    with the r x r filter g."""
    r, m, alpha = family.r, family.step, len(family.B_T)
    d = rng.standard_normal((alpha, alpha))
    g = rng.standard_normal((r, r))
    y = family.A_T @ ((family.G @ g @ family.G.T) * (family.B_T @ d @ family.B_T.T)) @ family.A_T.T
    direct = np.array([[np.sum(d[i:i + r, j:j + r] * g) for j in range(m)] for i in range(m)])
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_matrices_give_the_exact_correlation(family):
    """Winograd's identity entry by entry, for every tile and filter position (float64 sums
    of dyadic and small-denominator numbers): sum_j A^T[i, j] G[j, u] B^T[j, l] = [l == i + u]."""
    product = np.einsum("ij,ju,jl->iul", family.A_T, family.G, family.B_T)
    expected = np.zeros_like(product)
    for i in range(family.step):
        for u in range(family.r):
            expected[i, u, i + u] = 1
    np.testing.assert_allclose(product, expected, atol=1e-14)
