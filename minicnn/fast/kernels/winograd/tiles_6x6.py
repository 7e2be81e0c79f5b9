"""The 6x6 tiles' input side, shared by F(4x4, 3x3) (tiles 4 apart) and F(2x2, 5x5) (2 apart):
V = B^T d B and its adjoint dX += B dV B^T, B^T = matrices.B_T5, per plane and in lanes.

The two families use the same interpolation points, so the same 6x6 tiles and B^T; they
differ in the tiles' step and in their output side (f4x4_3x3.py, f2x2_5x5.py), which build
their per-plane input kernels from ``transform_row`` and ``add_row`` here:

    per plane (a row of tiles)    in lanes (lanes.py's layout)     computes
    transform_row                 input_transform_lanes            V = B^T d B
    add_row                       input_transform_adjoint_lanes    B dV B^T (then added to dX)

Position xi = 6r + q of the transformed tile.
"""

from __future__ import annotations

from numba import njit

from minicnn.fast.kernels.winograd.lanes import LANE, lanes_kernel, store_column6, store_rows6
from minicnn.fast.kernels.winograd.matrices import apply_b5, apply_b_t5
from minicnn.fast.kernels.winograd.planes import (add_row_by_columns, tile_function,
                                                  transform_row_by_columns)

__all__ = ["m_column", "transform_row", "add_row", "input_transform_lanes",
           "input_transform_adjoint_lanes"]


# --------------------------------------------------------------------------------------------
# Per plane
# --------------------------------------------------------------------------------------------

@tile_function
def _b_t_of_column(plane, i, j):
    return apply_b_t5(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j],
                      plane[i + 4, j], plane[i + 5, j])


@tile_function
def _b_t_of_row(e, r, j):
    return apply_b_t5(e[r, j], e[r, j + 1], e[r, j + 2], e[r, j + 3], e[r, j + 4], e[r, j + 5])


@tile_function
def _b_of_row(dv_tiles, c, t, r):
    x = 6 * r
    return apply_b5(dv_tiles[x, c, t], dv_tiles[x + 1, c, t], dv_tiles[x + 2, c, t],
                    dv_tiles[x + 3, c, t], dv_tiles[x + 4, c, t], dv_tiles[x + 5, c, t])


@tile_function
def _b_of_column(acc, j):
    return apply_b5(acc[0, j], acc[1, j], acc[2, j], acc[3, j], acc[4, j], acc[5, j])


@tile_function
def m_column(apply_a_t, m_tiles, o, t, q):
    """apply_a_t of column q of tile t's M (filter o), the six numbers M[6r + q], r = 0 .. 5:
    the first step of A^T M A for both families of 6x6 tiles."""
    return apply_a_t(m_tiles[q, o, t], m_tiles[6 + q, o, t], m_tiles[12 + q, o, t],
                     m_tiles[18 + q, o, t], m_tiles[24 + q, o, t], m_tiles[30 + q, o, t])


@tile_function
def transform_row(plane, i, step, tiles_w, rows, v_tiles, c, t):
    """V = B^T d B of a row of 6x6 tiles (planes.transform_row_by_columns)."""
    transform_row_by_columns(_b_t_of_column, _b_t_of_row, plane, i, step, tiles_w, rows,
                             v_tiles, c, t)


@tile_function
def add_row(dv_tiles, c, t, step, tiles_w, rows, plane, i):
    """B dV B^T of a row of 6x6 tiles added into the plane (planes.add_row_by_columns)."""
    add_row_by_columns(_b_of_row, _b_of_column, dv_tiles, c, t, step, tiles_w, rows, plane, i)


# --------------------------------------------------------------------------------------------
# In lanes
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, k):
    """B_T5 @ (s0[k], ..., s5[k]): a tile's column (one channel) through B^T."""
    return apply_b_t5(s0[k], s1[k], s2[k], s3[k], s4[k], s5[k])


@njit(cache=True, nogil=True)
def input_transform_lanes(image_rows, tile_rows, tiles_w, step, blocks, v):
    """v[t, (6r + q) * C_pad + c] = (B^T d B)[r, q] for every 6x6 tile t of the chunk and
    channel c (B^T = matrices.B_T5), tiles ``step`` apart.

    Parameters
    ----------
    image_rows : (images, rows, row_len * C_pad) array, from lanes.fill_channels_last
    tile_rows, tiles_w : int, the chunk's tile rows per image and tile columns; tile (m, a, b)
                         is t = (m * tile_rows + a) * tiles_w + b and reads rows step*a ..
                         step*a + 5 and plane columns step*b .. step*b + 5 of image m
    step : int, the tiles' distance: 4 for F(4x4, 3x3), as minicnn runs it (2 would be
           F(2x2, 5x5)'s)
    blocks : channel_blocks(C_in), as for lanes.fill_channels_last
    v : (T, 36 * C_pad) array to fill
    """
    cp = LANE * len(blocks)        # a compile-time constant: the offsets below are fixed
    t = 0
    for m in range(image_rows.shape[0]):
        image = image_rows[m]
        for a in range(tile_rows):
            i = step * a
            r0, r1, r2 = image[i], image[i + 1], image[i + 2]
            r3, r4, r5 = image[i + 3], image[i + 4], image[i + 5]
            for b in range(tiles_w):
                j = step * b * cp
                s0, s1, s2, s3, s4, s5 = r0[j:], r1[j:], r2[j:], r3[j:], r4[j:], r5[j:]
                out = v[t]
                for c in range(cp):
                    # e = B^T d: column l of the tile (its six rows combined) at offset l*cp
                    e0 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, c)
                    e1 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, cp + c)
                    e2 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, 2 * cp + c)
                    e3 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, 3 * cp + c)
                    e4 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, 4 * cp + c)
                    e5 = _b_t_of_lanes_column(s0, s1, s2, s3, s4, s5, 5 * cp + c)
                    # V = e B: row r of e through B^T, to positions 6r .. 6r + 5 (unrolled:
                    # a loop over r here can keep the loop over the lanes from vectorising)
                    store_rows6(out, cp, c, apply_b_t5(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0]),
                                apply_b_t5(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1]),
                                apply_b_t5(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2]),
                                apply_b_t5(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3]),
                                apply_b_t5(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4]),
                                apply_b_t5(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5]))
                t += 1


@tile_function
def _b_of_lanes_row(tile, r, cp, c):
    """Row r of the tile through B: apply_b5 of tile[(6r + q) * cp + c], q = 0 .. 5."""
    base = 6 * r * cp + c
    return apply_b5(tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
                    tile[base + 4 * cp], tile[base + 5 * cp])


@tile_function
def _adjoint_lanes_tile(dv, dd, cp, c):
    # e = dV B^T, row by row; then dd = B e, column by column
    e0, e1, e2 = _b_of_lanes_row(dv, 0, cp, c), _b_of_lanes_row(dv, 1, cp, c), \
        _b_of_lanes_row(dv, 2, cp, c)
    e3, e4, e5 = _b_of_lanes_row(dv, 3, cp, c), _b_of_lanes_row(dv, 4, cp, c), \
        _b_of_lanes_row(dv, 5, cp, c)
    # (unrolled: a loop over q here keeps the loop over the lanes from vectorising)
    store_column6(dd, 0, cp, c, apply_b5(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0]))
    store_column6(dd, 1, cp, c, apply_b5(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1]))
    store_column6(dd, 2, cp, c, apply_b5(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2]))
    store_column6(dd, 3, cp, c, apply_b5(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3]))
    store_column6(dd, 4, cp, c, apply_b5(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4]))
    store_column6(dd, 5, cp, c, apply_b5(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5]))


input_transform_adjoint_lanes = lanes_kernel(
    _adjoint_lanes_tile, "input_transform_adjoint_lanes",
    """dd_lanes[t, (6r + q) * C_pad + c] = (B dV B^T)[r, q] for every tile t, the transpose of
    input_transform_lanes tile by tile (lanes.add_tiles_channels_last then sums the
    overlapping tiles). Arguments (dv_lanes, blocks, dd_lanes): dv_lanes and dd_lanes
    (T, 36 * C_pad), blocks = channel_blocks(C_in).""")
