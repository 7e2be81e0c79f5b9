"""The Winograd kernels with the channels in vector lanes (minicnn/fast/kernels/winograd/lanes.py
and the family modules) for the 6x6 tiles of F(4x4, 3x3) and F(2x2, 5x5) and the 8x8 tiles
of F(2x2, 7x7): the channels-last copy against NumPy's padded transpose, and the four
transforms against the per-plane kernels (to the last bit) and their NumPy twins, on whole
chunks and bands of tile rows, for channel counts below, at and past a block of LANE.

Each dtype and block count compiles every lanes kernel afresh (seconds each: these tests were
the suite's largest compile cost), so float32 runs every case and float64 the cases of two
blocks (a whole block and a part, or two whole ones), against the NumPy twins: the per-plane
kernels of these families, the bit-for-bit reference, run nowhere in the engine and are
compiled in float32 only (test_winograd_per_plane.py)."""

from types import SimpleNamespace

import numpy as np
import pytest

from minicnn.fast.kernels.winograd import f2x2_5x5, f2x2_7x7, f4x4_3x3, lanes

DTYPES = [np.float32, np.float64]

# (N, C, H, W, padding, chunk (n0, n1, a0, a1)) for F(4x4, 3x3): 3 channels (one part-filled
# block), 8 (one whole block), 13 (a whole block and a part), 16 (two whole blocks); a band of
# tile rows; a last tile row and column that hang over the output; no padding; an image of
# mostly padding. Two block counts only: each count and dtype compiles every kernel afresh.
CASES = [
    pytest.param(2, 3, 10, 9, (1, 1), (0, 2, 0, 3), id="3ch-whole-batch"),
    pytest.param(3, 8, 9, 12, (0, 0), (1, 3, 0, 2), id="8ch-images-1-2-no-padding"),
    pytest.param(1, 13, 22, 11, (2, 1), (0, 1, 2, 5), id="13ch-band-of-tile-rows"),
    pytest.param(2, 13, 2, 3, (1, 1), (0, 2, 0, 1), id="13ch-2x3-image-mostly-padding"),
    pytest.param(1, 16, 14, 14, (1, 1), (0, 1, 3, 4), id="16ch-last-tile-row-hangs-over"),
]


# float32 on every case, float64 on those of two blocks (see the module docstring)
TWO_BLOCK_CASES = [case for case in CASES if case.values[1] > lanes.LANE]
CASE_DTYPES = [pytest.param(*case.values, dtype, id=f"{case.id}-{dtype.__name__}")
               for dtype, cases in ((np.float32, CASES), (np.float64, TWO_BLOCK_CASES))
               for case in cases]


# The three plans in lanes: their lanes kernels, their per-plane kernels (the reference) and
# NumPy twins, the tiles' side and step, and the filter size (whose padding grows the CASES'
# by (r - 3) / 2, so that every case's chunk exists in the tile grid)
def _family(r, step, size, module):
    return SimpleNamespace(
        r=r, step=step, size=size, input=module.input_transform_lanes,
        input_adjoint=module.input_transform_adjoint_lanes, output=module.output_transform_lanes,
        output_adjoint=module.output_transform_adjoint_lanes,
        planes_input=module.input_transform, planes_output=module.output_transform,
        planes_output_adjoint=module.output_transform_adjoint, twins=module)


FAMILIES = [
    pytest.param(_family(3, 4, 6, f4x4_3x3), id="F4-3x3"),
    pytest.param(_family(5, 2, 6, f2x2_5x5), id="5x5"),
    pytest.param(_family(7, 2, 8, f2x2_7x7), id="7x7"),
]


def _case(family, h, w, padding):
    """The case's padding for this family's filter, and its output and tile grid."""
    extra = (family.r - 3) // 2
    padding = (padding[0] + extra, padding[1] + extra)
    out_h, out_w = h + 2 * padding[0] - family.r + 1, w + 2 * padding[1] - family.r + 1
    return padding, out_h, out_w, -(-out_h // family.step), -(-out_w // family.step)


def _grid(h, w, padding, r=3, step=4):
    out_h, out_w = h + 2 * padding[0] - r + 1, w + 2 * padding[1] - r + 1
    return out_h, out_w, -(-out_h // step), -(-out_w // step)


def _count(chunk, tiles_w):
    n0, n1, a0, a1 = chunk
    return (n1 - n0) * (a1 - a0) * tiles_w


def _image_rows(x, chunk, tiles_w, padding, step, alpha=6, fill=np.nan):
    """A buffer for fill_channels_last, full of ``fill`` (so an unwritten number shows)."""
    n0, n1, a0, a1 = chunk
    c_pad = lanes.LANE * len(lanes.channel_blocks(x.shape[1]))
    rows, row_len = step * (a1 - a0) + alpha - step, step * tiles_w + alpha - step
    return np.full((n1 - n0, rows, row_len * c_pad), fill, x.dtype), c_pad


@pytest.mark.parametrize("channels, length", [(1, 1), (8, 1), (9, 2), (16, 2), (17, 3),
                                             (256, 32)])
def test_channel_blocks_cover_the_channels_in_lanes(channels, length):
    assert lanes.channel_blocks(channels) == (0,) * length


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("step", [4, 2])
@pytest.mark.parametrize("n, c, h, w, padding, chunk", CASES)
def test_fill_channels_last_is_the_padded_transpose(rng, dtype, step, n, c, h, w, padding,
                                                    chunk):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    _, _, _, tiles_w = _grid(h, w, padding)
    image_rows, c_pad = _image_rows(x, chunk, tiles_w, padding, step)
    blocks = lanes.channel_blocks(c)
    lanes.fill_channels_last(x, chunk[0], chunk[2], step, *padding, blocks, image_rows)

    n0, n1, a0, _ = chunk
    rows, row_len = image_rows.shape[1], image_rows.shape[2] // c_pad
    padded = np.zeros((n, c_pad, h + 2 * padding[0] + 4 * rows, w + 2 * padding[1] + row_len),
                      dtype)                          # room for tiles past the image
    padded[:, :c, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    top = step * a0                                   # row of the padded image
    expected = padded[n0:n1, :, top:top + rows, :row_len].transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(image_rows, expected.reshape(image_rows.shape))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk, dtype", CASE_DTYPES)
def test_input_transform_in_lanes_is_the_per_plane_kernels(rng, family, dtype, n, c, h, w,
                                                           padding, chunk):
    """The same V to the last bit as the per-plane kernel (the same operations in the same
    order; float32), the NumPy twin's within rounding, and the padded channels zero."""
    padding, _, _, _, tiles_w = _case(family, h, w, padding)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    count, planes = _count(chunk, tiles_w), family.size ** 2
    image_rows, c_pad = _image_rows(x, chunk, tiles_w, padding, family.step, family.size)
    blocks = lanes.channel_blocks(c)
    lanes.fill_channels_last(x, chunk[0], chunk[2], family.step, *padding, blocks, image_rows)
    v_lanes = np.full((count, planes * c_pad), np.nan, dtype)
    family.input(image_rows, chunk[3] - chunk[2], tiles_w, family.step, blocks, v_lanes)

    got = v_lanes.reshape(count, planes, c_pad)
    v = got[:, :, :c].transpose(1, 2, 0)
    if dtype == np.float32:
        per_plane = np.full((planes, c, count), np.nan, dtype)
        family.planes_input(x, *chunk, tiles_w, *padding, per_plane)
        np.testing.assert_array_equal(v, per_plane)
    assert not got[:, :, c:].any()
    twin = np.empty_like(v)
    family.twins.input_transform_numpy(x, *chunk, tiles_w, *padding, twin)
    np.testing.assert_allclose(v, twin, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk, dtype", CASE_DTYPES)
def test_output_transform_in_lanes_matches_numpy_twin(rng, family, dtype, n, c, h, w, padding,
                                                      chunk):
    """Y = A^T M A + b on the chunk's outputs inside the image, nothing written elsewhere;
    the same numbers as the per-plane kernel to the last bit (float32)."""
    padding, out_h, out_w, _, tiles_w = _case(family, h, w, padding)
    count = _count(chunk, tiles_w)
    blocks = lanes.channel_blocks(c)
    c_pad = lanes.LANE * len(blocks)
    m = rng.standard_normal((family.size ** 2, c, count)).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    m_lanes = np.zeros((count, family.size ** 2, c_pad), dtype)
    m_lanes[:, :, :c] = m.transpose(2, 0, 1)
    y_lanes = np.full((count, family.step ** 2 * c_pad), np.nan, dtype)
    family.output(m_lanes.reshape(count, -1), blocks, y_lanes)
    got = np.full((n, c, out_h, out_w), np.nan, dtype)
    lanes.write_channels_first(y_lanes, bias, *chunk, tiles_w, family.step, blocks, got)

    if dtype == np.float32:
        per_plane = np.full_like(got, np.nan)
        family.planes_output(m, bias, *chunk, tiles_w, per_plane)
        np.testing.assert_array_equal(got, per_plane)     # NaN where neither writes
    twin = np.full_like(got, np.nan)
    family.twins.output_transform_numpy(m, bias, *chunk, tiles_w, twin)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(twin))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(twin),
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk, dtype", CASE_DTYPES)
def test_output_transform_adjoint_in_lanes_is_the_per_plane_kernels(rng, family, dtype, n, c,
                                                                    h, w, padding, chunk):
    """dM = A dY A^T, zero where the tile hangs over the output: the same numbers as the
    per-plane kernel to the last bit (float32), the NumPy twin's within rounding, and the
    padded filters zero."""
    padding, out_h, out_w, _, tiles_w = _case(family, h, w, padding)
    count = _count(chunk, tiles_w)
    blocks = lanes.channel_blocks(c)
    c_pad = lanes.LANE * len(blocks)
    dout = rng.standard_normal((n, c, out_h, out_w)).astype(dtype)
    g_lanes = np.full((count, family.step ** 2 * c_pad), np.nan, dtype)
    lanes.read_channels_last(dout, *chunk, tiles_w, family.step, blocks, g_lanes)
    dm_lanes = np.full((count, family.size ** 2 * c_pad), np.nan, dtype)
    family.output_adjoint(g_lanes, blocks, dm_lanes)

    got = dm_lanes.reshape(count, family.size ** 2, c_pad)
    dm = got[:, :, :c].transpose(1, 2, 0)
    if dtype == np.float32:
        per_plane = np.full((family.size ** 2, c, count), np.nan, dtype)
        family.planes_output_adjoint(dout, *chunk, tiles_w, per_plane)
        np.testing.assert_array_equal(dm, per_plane)
    assert not got[:, :, c:].any()
    twin = np.empty_like(dm)
    family.twins.output_transform_adjoint_numpy(dout, *chunk, tiles_w, twin)
    np.testing.assert_allclose(dm, twin, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def _input_adjoint_in_lanes(family, dv, chunk, tiles_w, padding, dx):
    """dX += B dV B^T through the three lanes kernels; dv (s^2, C, T) as the per-plane
    kernels take it."""
    (planes, channels, count), step = dv.shape, family.step
    blocks = lanes.channel_blocks(channels)
    c_pad = lanes.LANE * len(blocks)
    dv_lanes = np.zeros((count, planes, c_pad), dv.dtype)
    dv_lanes[:, :, :channels] = dv.transpose(2, 0, 1)
    dd_lanes = np.full((count, planes * c_pad), np.nan, dv.dtype)
    family.input_adjoint(dv_lanes.reshape(count, -1), blocks, dd_lanes)
    image_rows, _ = _image_rows(dx, chunk, tiles_w, padding, step, family.size)   # NaN: all
    lanes.add_tiles_channels_last(dd_lanes, chunk[3] - chunk[2], tiles_w, step, blocks,  # set
                                  image_rows)
    lanes.add_channels_first(image_rows, chunk[0], chunk[2], step, *padding, blocks, dx)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk, dtype", CASE_DTYPES)
def test_input_transform_adjoint_in_lanes_matches_numpy_twin(rng, family, dtype, n, c, h, w,
                                                             padding, chunk):
    """dX += B dV B^T tile by tile, the overlapping tiles summed, the padding dropped, and
    nothing outside the chunk's input rows touched."""
    padding, _, _, _, tiles_w = _case(family, h, w, padding)
    dv = rng.standard_normal((family.size ** 2, c, _count(chunk, tiles_w))).astype(dtype)
    start = rng.standard_normal((n, c, h, w)).astype(dtype)           # the kernels add into dx
    got, expected = start.copy(), start.copy()
    _input_adjoint_in_lanes(family, dv, chunk, tiles_w, padding, got)
    family.twins.input_transform_adjoint_numpy(dv, *chunk, tiles_w, *padding, expected)
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n, c, h, w, padding, chunk", TWO_BLOCK_CASES)
def test_lanes_adjoints_are_transposes(rng, family, n, c, h, w, padding, chunk):
    """<T x, y> = <x, T^T y> for the lanes input and output transforms (float64, so the cases
    of two blocks)."""
    padding, out_h, out_w, _, tiles_w = _case(family, h, w, padding)
    step, count = family.step, _count(chunk, tiles_w)
    blocks = lanes.channel_blocks(c)
    c_pad = lanes.LANE * len(blocks)
    planes = family.size ** 2
    x = rng.standard_normal((n, c, h, w))
    image_rows, _ = _image_rows(x, chunk, tiles_w, padding, step, family.size)
    lanes.fill_channels_last(x, chunk[0], chunk[2], step, *padding, blocks, image_rows)
    v_lanes = np.empty((count, planes * c_pad))
    family.input(image_rows, chunk[3] - chunk[2], tiles_w, step, blocks, v_lanes)
    v = v_lanes.reshape(count, planes, c_pad)[:, :, :c].transpose(1, 2, 0)
    dv = rng.standard_normal(v.shape)
    dx = np.zeros_like(x)
    _input_adjoint_in_lanes(family, dv, chunk, tiles_w, padding, dx)
    assert np.isclose(np.vdot(v, dv), np.vdot(x, dx), rtol=1e-12)

    m_lanes = np.zeros((count, planes, c_pad))
    m_lanes[:, :, :c] = rng.standard_normal((count, planes, c))
    y_lanes = np.empty((count, step ** 2 * c_pad))
    family.output(m_lanes.reshape(count, -1), blocks, y_lanes)
    out = np.zeros((n, c, out_h, out_w))
    lanes.write_channels_first(y_lanes, np.zeros(c), *chunk, tiles_w, step, blocks, out)
    dout = rng.standard_normal(out.shape)
    g_lanes = np.empty((count, step ** 2 * c_pad))
    lanes.read_channels_last(dout, *chunk, tiles_w, step, blocks, g_lanes)
    dm_lanes = np.empty((count, planes * c_pad))
    family.output_adjoint(g_lanes, blocks, dm_lanes)
    dm = dm_lanes.reshape(count, planes, c_pad)
    assert np.isclose(np.vdot(out, dout), np.vdot(m_lanes[:, :, :c], dm[:, :, :c]),
                      rtol=1e-12)
