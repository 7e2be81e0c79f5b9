"""Winograd F(4x4, 3x3): a 4x4 block of outputs of a 3x3 filter from its 6x6 input tile.

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (matrices.py: B_T5, G43, A_T43)

36 multiplications instead of 144; the plan of most 3x3 layers. Its input side is the 6x6
tiles' (tiles_6x6.py, tiles 4 apart). Method "fast" runs the lanes kernels; the per-plane
kernels are their reference (the same numbers to the last bit) and are held to the NumPy
twins (the names: __init__.py).

Position xi = 6r + q of the transformed tile; Y's 4x4 block at 4r + q in the lanes.
"""

from __future__ import annotations

from minicnn.fast.kernels.winograd import tiles_6x6
from minicnn.fast.kernels.winograd.lanes import LANES_KERNEL_NAMES, lanes_kernel, store_row6
from minicnn.fast.kernels.winograd.matrices import A_T43, B_T5, apply_a43, apply_a_t43
from minicnn.fast.kernels.winograd.tiles_6x6 import m_column
from minicnn.fast.kernels.winograd.planes import (KERNEL_NAMES, per_plane_kernels,
                                                  tile_function)

__all__ = [*KERNEL_NAMES, *LANES_KERNEL_NAMES]

STEP = 4           # 4x4 outputs per tile, tiles 4 apart


# --------------------------------------------------------------------------------------------
# Per plane
# --------------------------------------------------------------------------------------------

@tile_function
def _output_tile(m_tiles, o, t, bias_o, plane, i, j):
    """Y = A^T M A + b of tile t and filter o, to plane[i .. i + 3, j .. j + 3]."""
    s0 = m_column(apply_a_t43, m_tiles, o, t, 0)       # s = A^T M, column by column
    s1 = m_column(apply_a_t43, m_tiles, o, t, 1)
    s2 = m_column(apply_a_t43, m_tiles, o, t, 2)
    s3 = m_column(apply_a_t43, m_tiles, o, t, 3)
    s4 = m_column(apply_a_t43, m_tiles, o, t, 4)
    s5 = m_column(apply_a_t43, m_tiles, o, t, 5)
    for r in range(4):                          # Y = s A, row by row
        y0, y1, y2, y3 = apply_a_t43(s0[r], s1[r], s2[r], s3[r], s4[r], s5[r])
        plane[i + r, j] = y0 + bias_o
        plane[i + r, j + 1] = y1 + bias_o
        plane[i + r, j + 2] = y2 + bias_o
        plane[i + r, j + 3] = y3 + bias_o


@tile_function
def _a_of_column(plane, i, j):
    """Column j of the tile's 4x4 block of dY (top row i) through A: six numbers."""
    return apply_a43(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j])


@tile_function
def _output_adjoint_tile(plane, i, j, dm_tiles, o, t):
    """dM = A dY A^T of tile t and filter o, dY = plane[i .. i + 3, j .. j + 3]."""
    # e = A g, column by column; then dM = e A^T, row by row
    e0, e1 = _a_of_column(plane, i, j), _a_of_column(plane, i, j + 1)
    e2, e3 = _a_of_column(plane, i, j + 2), _a_of_column(plane, i, j + 3)
    for r in range(6):
        (dm_tiles[6 * r, o, t], dm_tiles[6 * r + 1, o, t], dm_tiles[6 * r + 2, o, t],
         dm_tiles[6 * r + 3, o, t], dm_tiles[6 * r + 4, o, t],
         dm_tiles[6 * r + 5, o, t]) = apply_a43(e0[r], e1[r], e2[r], e3[r])


# --------------------------------------------------------------------------------------------
# In lanes
# --------------------------------------------------------------------------------------------

@tile_function
def _output_lanes_tile(tile, y, cp, o):
    # s = A^T M: column q of M (positions q, 6 + q, .., 30 + q) through A^T
    s0 = apply_a_t43(tile[o], tile[6 * cp + o], tile[12 * cp + o], tile[18 * cp + o],
                     tile[24 * cp + o], tile[30 * cp + o])
    s1 = apply_a_t43(tile[cp + o], tile[7 * cp + o], tile[13 * cp + o], tile[19 * cp + o],
                     tile[25 * cp + o], tile[31 * cp + o])
    s2 = apply_a_t43(tile[2 * cp + o], tile[8 * cp + o], tile[14 * cp + o],
                     tile[20 * cp + o], tile[26 * cp + o], tile[32 * cp + o])
    s3 = apply_a_t43(tile[3 * cp + o], tile[9 * cp + o], tile[15 * cp + o],
                     tile[21 * cp + o], tile[27 * cp + o], tile[33 * cp + o])
    s4 = apply_a_t43(tile[4 * cp + o], tile[10 * cp + o], tile[16 * cp + o],
                     tile[22 * cp + o], tile[28 * cp + o], tile[34 * cp + o])
    s5 = apply_a_t43(tile[5 * cp + o], tile[11 * cp + o], tile[17 * cp + o],
                     tile[23 * cp + o], tile[29 * cp + o], tile[35 * cp + o])
    # Y = s A, row r to positions 4r .. 4r + 3
    y[o], y[cp + o], y[2 * cp + o], y[3 * cp + o] = apply_a_t43(s0[0], s1[0], s2[0], s3[0],
                                                                s4[0], s5[0])
    (y[4 * cp + o], y[5 * cp + o], y[6 * cp + o], y[7 * cp + o]) = apply_a_t43(
        s0[1], s1[1], s2[1], s3[1], s4[1], s5[1])
    (y[8 * cp + o], y[9 * cp + o], y[10 * cp + o], y[11 * cp + o]) = apply_a_t43(
        s0[2], s1[2], s2[2], s3[2], s4[2], s5[2])
    (y[12 * cp + o], y[13 * cp + o], y[14 * cp + o], y[15 * cp + o]) = apply_a_t43(
        s0[3], s1[3], s2[3], s3[3], s4[3], s5[3])


@tile_function
def _output_adjoint_lanes_tile(g, dm, cp, o):
    # e = A g: column q of the 4x4 block (positions q, 4 + q, 8 + q, 12 + q) through A
    e0 = apply_a43(g[o], g[4 * cp + o], g[8 * cp + o], g[12 * cp + o])
    e1 = apply_a43(g[cp + o], g[5 * cp + o], g[9 * cp + o], g[13 * cp + o])
    e2 = apply_a43(g[2 * cp + o], g[6 * cp + o], g[10 * cp + o], g[14 * cp + o])
    e3 = apply_a43(g[3 * cp + o], g[7 * cp + o], g[11 * cp + o], g[15 * cp + o])
    # dM = e A^T: row r of e through A, to positions 6r .. 6r + 5 (unrolled: a loop over r
    # here keeps the loop over the lanes from vectorising)
    store_row6(dm, 0, cp, o, apply_a43(e0[0], e1[0], e2[0], e3[0]))
    store_row6(dm, 1, cp, o, apply_a43(e0[1], e1[1], e2[1], e3[1]))
    store_row6(dm, 2, cp, o, apply_a43(e0[2], e1[2], e2[2], e3[2]))
    store_row6(dm, 3, cp, o, apply_a43(e0[3], e1[3], e2[3], e3[3]))
    store_row6(dm, 4, cp, o, apply_a43(e0[4], e1[4], e2[4], e3[4]))
    store_row6(dm, 5, cp, o, apply_a43(e0[5], e1[5], e2[5], e3[5]))


input_transform_lanes = tiles_6x6.input_transform_lanes
input_transform_adjoint_lanes = tiles_6x6.input_transform_adjoint_lanes
output_transform_lanes = lanes_kernel(
    _output_lanes_tile, "output_transform_lanes",
    """y_lanes[t, (4r + q) * C_pad + o] = (A^T M A)[r, q] for every tile t of the chunk and
    filter o, before the bias (lanes.write_channels_first adds it on the way to the output).
    Arguments (m_lanes, blocks, y_lanes): m_lanes (T, 36 * C_pad), M[6r + q] of filter o at
    m_lanes[t, (6r + q) * C_pad + o]; blocks = channel_blocks(C_out); y_lanes (T, 16 * C_pad).""")
output_transform_adjoint_lanes = lanes_kernel(
    _output_adjoint_lanes_tile, "output_transform_adjoint_lanes",
    """dm_lanes[t, (6r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 4x4 block in g_lanes
    (from lanes.read_channels_last): the transpose of output_transform_lanes. Arguments
    (g_lanes, blocks, dm_lanes): g_lanes (T, 16 * C_pad), dm_lanes (T, 36 * C_pad).""")


# The per-plane kernels and their NumPy twins (planes.py)
(input_transform, input_transform_adjoint, output_transform, output_transform_adjoint,
 input_transform_numpy, input_transform_adjoint_numpy, output_transform_numpy,
 output_transform_adjoint_numpy) = per_plane_kernels(B_T5, A_T43, tiles_6x6.transform_row,
                                                     tiles_6x6.add_row,
                                                     _output_tile, _output_adjoint_tile)
