"""Winograd F(2x2, 7x7): a 2x2 block of outputs of a 7x7 filter from its 8x8 input tile.

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (matrices.py: B_T7, G7, A_T7)

64 multiplications instead of 196; tiles 2 apart. Method "fast" runs the lanes kernels; the
per-plane kernels are their reference (the same numbers to the last bit) and are held to the
NumPy twins (the names: __init__.py).

Position xi = 8r + q of the transformed tile; Y's 2x2 block at 2r + q in the lanes.
"""

from __future__ import annotations

from numba import njit

from minicnn.fast.kernels.winograd.lanes import (LANE, LANES_KERNEL_NAMES, lanes_kernel,
                                                 store_column8, store_rows8)
from minicnn.fast.kernels.winograd.matrices import (A_T7, B_T7, apply_a7, apply_a_t7, apply_b7,
                                                    apply_b_t7)
from minicnn.fast.kernels.winograd.planes import (KERNEL_NAMES, add_row_by_columns,
                                                  adjoint_tile_2x2,
                                                  per_plane_kernels, tile_function,
                                                  transform_row_by_columns, write_2x2)

__all__ = [*KERNEL_NAMES, *LANES_KERNEL_NAMES]

STEP = 2           # 2x2 outputs per tile, tiles 2 apart


# --------------------------------------------------------------------------------------------
# Per plane
# --------------------------------------------------------------------------------------------

@tile_function
def _b_t_of_column(plane, i, j):
    return apply_b_t7(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j],
                      plane[i + 4, j], plane[i + 5, j], plane[i + 6, j], plane[i + 7, j])


@tile_function
def _b_t_of_row(e, r, j):
    return apply_b_t7(e[r, j], e[r, j + 1], e[r, j + 2], e[r, j + 3], e[r, j + 4], e[r, j + 5],
                      e[r, j + 6], e[r, j + 7])


@tile_function
def _transform_row(plane, i, step, tiles_w, rows, v_tiles, c, t):
    transform_row_by_columns(_b_t_of_column, _b_t_of_row, plane, i, step, tiles_w, rows,
                             v_tiles, c, t)


@tile_function
def _b_of_row(dv_tiles, c, t, r):
    x = 8 * r
    return apply_b7(dv_tiles[x, c, t], dv_tiles[x + 1, c, t], dv_tiles[x + 2, c, t],
                    dv_tiles[x + 3, c, t], dv_tiles[x + 4, c, t], dv_tiles[x + 5, c, t],
                    dv_tiles[x + 6, c, t], dv_tiles[x + 7, c, t])


@tile_function
def _b_of_column(acc, j):
    return apply_b7(acc[0, j], acc[1, j], acc[2, j], acc[3, j], acc[4, j], acc[5, j],
                    acc[6, j], acc[7, j])


@tile_function
def _add_row(dv_tiles, c, t, step, tiles_w, rows, plane, i):
    add_row_by_columns(_b_of_row, _b_of_column, dv_tiles, c, t, step, tiles_w, rows, plane, i)


@tile_function
def _a_t_of_column(m_tiles, o, t, q):
    """Column q of M for tile t and filter o through A^T: (s0_q, s1_q)."""
    return apply_a_t7(m_tiles[q, o, t], m_tiles[8 + q, o, t], m_tiles[16 + q, o, t],
                      m_tiles[24 + q, o, t], m_tiles[32 + q, o, t], m_tiles[40 + q, o, t],
                      m_tiles[48 + q, o, t], m_tiles[56 + q, o, t])


@tile_function
def _output_tile(m_tiles, o, t, bias_o, plane, i, j):
    """Y = A^T M A + b of tile t and filter o, to plane[i .. i + 1, j .. j + 1]."""
    s0_0, s1_0 = _a_t_of_column(m_tiles, o, t, 0)
    s0_1, s1_1 = _a_t_of_column(m_tiles, o, t, 1)
    s0_2, s1_2 = _a_t_of_column(m_tiles, o, t, 2)
    s0_3, s1_3 = _a_t_of_column(m_tiles, o, t, 3)
    s0_4, s1_4 = _a_t_of_column(m_tiles, o, t, 4)
    s0_5, s1_5 = _a_t_of_column(m_tiles, o, t, 5)
    s0_6, s1_6 = _a_t_of_column(m_tiles, o, t, 6)
    s0_7, s1_7 = _a_t_of_column(m_tiles, o, t, 7)
    write_2x2(plane, i, j, apply_a_t7(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5, s0_6, s0_7),
              apply_a_t7(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5, s1_6, s1_7), bias_o)


@tile_function
def _output_adjoint_tile(plane, i, j, dm_tiles, o, t):
    """dM = A dY A^T of tile t and filter o, dY = plane[i .. i + 1, j .. j + 1]."""
    adjoint_tile_2x2(apply_a7, plane, i, j, dm_tiles, o, t)


# --------------------------------------------------------------------------------------------
# In lanes
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _b_t_at(flat, first, row_len, k):
    """B_T7 @ the eight numbers flat[first + y * row_len + k], y = 0 .. 7: a tile's column
    (one channel) through B^T, read from the image's rows as one 1-d array (eight row views
    would be eight pointers for LLVM to check against the stores, and it checks at most 8)."""
    return apply_b_t7(flat[first + k], flat[first + row_len + k], flat[first + 2 * row_len + k],
                      flat[first + 3 * row_len + k], flat[first + 4 * row_len + k],
                      flat[first + 5 * row_len + k], flat[first + 6 * row_len + k],
                      flat[first + 7 * row_len + k])


@njit(cache=True, inline="always")
def _store_rows_b_t(out, cp, c, e0, e1, e2, e3, e4, e5, e6, e7):
    """Row r of e (e_q its column q) through B^T, stored at positions 8r .. 8r + 7."""
    store_rows8(out, cp, c,
                apply_b_t7(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0], e6[0], e7[0]),
                apply_b_t7(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1], e6[1], e7[1]),
                apply_b_t7(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2], e6[2], e7[2]),
                apply_b_t7(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3], e6[3], e7[3]),
                apply_b_t7(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4], e6[4], e7[4]),
                apply_b_t7(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5], e6[5], e7[5]),
                apply_b_t7(e0[6], e1[6], e2[6], e3[6], e4[6], e5[6], e6[6], e7[6]),
                apply_b_t7(e0[7], e1[7], e2[7], e3[7], e4[7], e5[7], e6[7], e7[7]))


@njit(cache=True, nogil=True)
def input_transform_lanes(image_rows, tile_rows, tiles_w, step, blocks, v):
    """v[t, (8r + q) * C_pad + c] = (B^T d B)[r, q] for every 8x8 tile t of the chunk and
    channel c, tiles ``step`` (2) apart: the same numbers as input_transform (arguments as
    for tiles_6x6.input_transform_lanes; v (T, 64 * C_pad))."""
    cp = LANE * len(blocks)
    row_len = image_rows.shape[2]
    t = 0
    for m in range(image_rows.shape[0]):
        flat = image_rows[m].reshape(-1)
        for a in range(tile_rows):
            for b in range(tiles_w):
                first = step * a * row_len + step * b * cp
                out = v[t]
                for c in range(cp):
                    # e = B^T d, column by column (column l at offset l * cp)
                    e0 = _b_t_at(flat, first, row_len, c)
                    e1 = _b_t_at(flat, first, row_len, cp + c)
                    e2 = _b_t_at(flat, first, row_len, 2 * cp + c)
                    e3 = _b_t_at(flat, first, row_len, 3 * cp + c)
                    e4 = _b_t_at(flat, first, row_len, 4 * cp + c)
                    e5 = _b_t_at(flat, first, row_len, 5 * cp + c)
                    e6 = _b_t_at(flat, first, row_len, 6 * cp + c)
                    e7 = _b_t_at(flat, first, row_len, 7 * cp + c)
                    # V = e B: row r of e through B^T (unrolled, as above)
                    _store_rows_b_t(out, cp, c, e0, e1, e2, e3, e4, e5, e6, e7)
                t += 1


@tile_function
def _b_of_lanes_row(tile, r, cp, c):
    """Row r of the tile through B: apply_b7 of tile[(8r + q) * cp + c], q = 0 .. 7."""
    base = 8 * r * cp + c
    return apply_b7(tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
                    tile[base + 4 * cp], tile[base + 5 * cp], tile[base + 6 * cp],
                    tile[base + 7 * cp])


@tile_function
def _adjoint_lanes_tile(dv, dd, cp, c):
    # e = dV B^T, row by row; then dd = B e, column by column
    e0, e1 = _b_of_lanes_row(dv, 0, cp, c), _b_of_lanes_row(dv, 1, cp, c)
    e2, e3 = _b_of_lanes_row(dv, 2, cp, c), _b_of_lanes_row(dv, 3, cp, c)
    e4, e5 = _b_of_lanes_row(dv, 4, cp, c), _b_of_lanes_row(dv, 5, cp, c)
    e6, e7 = _b_of_lanes_row(dv, 6, cp, c), _b_of_lanes_row(dv, 7, cp, c)
    # (unrolled: a loop over q here keeps the loop over the lanes from vectorising)
    store_column8(dd, 0, cp, c, apply_b7(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0], e6[0], e7[0]))
    store_column8(dd, 1, cp, c, apply_b7(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1], e6[1], e7[1]))
    store_column8(dd, 2, cp, c, apply_b7(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2], e6[2], e7[2]))
    store_column8(dd, 3, cp, c, apply_b7(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3], e6[3], e7[3]))
    store_column8(dd, 4, cp, c, apply_b7(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4], e6[4], e7[4]))
    store_column8(dd, 5, cp, c, apply_b7(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5], e6[5], e7[5]))
    store_column8(dd, 6, cp, c, apply_b7(e0[6], e1[6], e2[6], e3[6], e4[6], e5[6], e6[6], e7[6]))
    store_column8(dd, 7, cp, c, apply_b7(e0[7], e1[7], e2[7], e3[7], e4[7], e5[7], e6[7], e7[7]))


@tile_function
def _a_t_of_lanes_column(tile, q, cp, o):
    """Column q of the tile through A^T: apply_a_t7 of tile[(8r + q) * cp + o], r = 0 .. 7."""
    base = q * cp + o
    return apply_a_t7(tile[base], tile[base + 8 * cp], tile[base + 16 * cp],
                      tile[base + 24 * cp], tile[base + 32 * cp], tile[base + 40 * cp],
                      tile[base + 48 * cp], tile[base + 56 * cp])


@tile_function
def _output_lanes_tile(tile, y, cp, o):
    # s = A^T M, column by column; then Y = s A, row by row
    s0_0, s1_0 = _a_t_of_lanes_column(tile, 0, cp, o)
    s0_1, s1_1 = _a_t_of_lanes_column(tile, 1, cp, o)
    s0_2, s1_2 = _a_t_of_lanes_column(tile, 2, cp, o)
    s0_3, s1_3 = _a_t_of_lanes_column(tile, 3, cp, o)
    s0_4, s1_4 = _a_t_of_lanes_column(tile, 4, cp, o)
    s0_5, s1_5 = _a_t_of_lanes_column(tile, 5, cp, o)
    s0_6, s1_6 = _a_t_of_lanes_column(tile, 6, cp, o)
    s0_7, s1_7 = _a_t_of_lanes_column(tile, 7, cp, o)
    y[o], y[cp + o] = apply_a_t7(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5, s0_6, s0_7)
    y[2 * cp + o], y[3 * cp + o] = apply_a_t7(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5, s1_6, s1_7)


@tile_function
def _output_adjoint_lanes_tile(g, dm, cp, o):
    # e = A g, column by column (positions q and 2 + q); then dM = e A^T, row by row
    e0 = apply_a7(g[o], g[2 * cp + o])
    e1 = apply_a7(g[cp + o], g[3 * cp + o])
    store_rows8(dm, cp, o, apply_a7(e0[0], e1[0]), apply_a7(e0[1], e1[1]),   # unrolled, so
                apply_a7(e0[2], e1[2]), apply_a7(e0[3], e1[3]),        # that the lanes
                apply_a7(e0[4], e1[4]), apply_a7(e0[5], e1[5]),        # vectorise
                apply_a7(e0[6], e1[6]), apply_a7(e0[7], e1[7]))


input_transform_adjoint_lanes = lanes_kernel(
    _adjoint_lanes_tile, "input_transform_adjoint_lanes",
    """dd_lanes[t, (8r + q) * C_pad + c] = (B dV B^T)[r, q] for every 8x8 tile t, the
    transpose of input_transform_lanes tile by tile (lanes.add_tiles_channels_last then sums
    the overlapping tiles). Arguments (dv_lanes, blocks, dd_lanes), both (T, 64 * C_pad).""")
output_transform_lanes = lanes_kernel(
    _output_lanes_tile, "output_transform_lanes",
    """y_lanes[t, (2r + q) * C_pad + o] = (A^T M A)[r, q] for every 8x8 tile t and filter o,
    before the bias. Arguments (m_lanes, blocks, y_lanes): m_lanes (T, 64 * C_pad), y_lanes
    (T, 4 * C_pad).""")
output_transform_adjoint_lanes = lanes_kernel(
    _output_adjoint_lanes_tile, "output_transform_adjoint_lanes",
    """dm_lanes[t, (8r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 2x2 block in
    g_lanes: the transpose of output_transform_lanes. Arguments (g_lanes, blocks, dm_lanes):
    g_lanes (T, 4 * C_pad), dm_lanes (T, 64 * C_pad).""")


# The per-plane kernels and their NumPy twins (planes.py)
(input_transform, input_transform_adjoint, output_transform, output_transform_adjoint,
 input_transform_numpy, input_transform_adjoint_numpy, output_transform_numpy,
 output_transform_adjoint_numpy) = per_plane_kernels(B_T7, A_T7, _transform_row, _add_row,
                                                     _output_tile, _output_adjoint_tile)
