"""Winograd F(2x2, 5x5): a 2x2 block of outputs of a 5x5 filter from its 6x6 input tile.

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (matrices.py: B_T5, G5, A_T5)

36 multiplications instead of 100. Its input side is the 6x6 tiles' (tiles_6x6.py, tiles 2
apart). Method "fast" runs the lanes kernels; the per-plane kernels are their reference (the
same numbers to the last bit) and are held to the NumPy twins (the names: __init__.py).

Position xi = 6r + q of the transformed tile; Y's 2x2 block at 2r + q in the lanes.
"""

from __future__ import annotations

from minicnn.fast.kernels.winograd import tiles_6x6
from minicnn.fast.kernels.winograd.lanes import LANES_KERNEL_NAMES, lanes_kernel, store_rows6
from minicnn.fast.kernels.winograd.matrices import A_T5, B_T5, apply_a5, apply_a_t5
from minicnn.fast.kernels.winograd.tiles_6x6 import m_column
from minicnn.fast.kernels.winograd.planes import (KERNEL_NAMES, adjoint_tile_2x2,
                                                  per_plane_kernels, tile_function, write_2x2)

__all__ = [*KERNEL_NAMES, *LANES_KERNEL_NAMES]

STEP = 2           # 2x2 outputs per tile, tiles 2 apart


# --------------------------------------------------------------------------------------------
# Per plane
# --------------------------------------------------------------------------------------------

@tile_function
def _output_tile(m_tiles, o, t, bias_o, plane, i, j):
    """Y = A^T M A + b of tile t and filter o, to plane[i .. i + 1, j .. j + 1]."""
    s0_0, s1_0 = m_column(apply_a_t5, m_tiles, o, t, 0)      # s = A^T M, column by column
    s0_1, s1_1 = m_column(apply_a_t5, m_tiles, o, t, 1)
    s0_2, s1_2 = m_column(apply_a_t5, m_tiles, o, t, 2)
    s0_3, s1_3 = m_column(apply_a_t5, m_tiles, o, t, 3)
    s0_4, s1_4 = m_column(apply_a_t5, m_tiles, o, t, 4)
    s0_5, s1_5 = m_column(apply_a_t5, m_tiles, o, t, 5)
    write_2x2(plane, i, j, apply_a_t5(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5),    # Y = s A + b
              apply_a_t5(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5), bias_o)


@tile_function
def _output_adjoint_tile(plane, i, j, dm_tiles, o, t):
    """dM = A dY A^T of tile t and filter o, dY = plane[i .. i + 1, j .. j + 1]."""
    adjoint_tile_2x2(apply_a5, plane, i, j, dm_tiles, o, t)


# --------------------------------------------------------------------------------------------
# In lanes
# --------------------------------------------------------------------------------------------

@tile_function
def _output_lanes_tile(tile, y, cp, o):
    # s = A^T M: column q of M (positions q, 6 + q, .., 30 + q) through A^T
    s0_0, s1_0 = apply_a_t5(tile[o], tile[6 * cp + o], tile[12 * cp + o], tile[18 * cp + o],
                            tile[24 * cp + o], tile[30 * cp + o])
    s0_1, s1_1 = apply_a_t5(tile[cp + o], tile[7 * cp + o], tile[13 * cp + o],
                            tile[19 * cp + o], tile[25 * cp + o], tile[31 * cp + o])
    s0_2, s1_2 = apply_a_t5(tile[2 * cp + o], tile[8 * cp + o], tile[14 * cp + o],
                            tile[20 * cp + o], tile[26 * cp + o], tile[32 * cp + o])
    s0_3, s1_3 = apply_a_t5(tile[3 * cp + o], tile[9 * cp + o], tile[15 * cp + o],
                            tile[21 * cp + o], tile[27 * cp + o], tile[33 * cp + o])
    s0_4, s1_4 = apply_a_t5(tile[4 * cp + o], tile[10 * cp + o], tile[16 * cp + o],
                            tile[22 * cp + o], tile[28 * cp + o], tile[34 * cp + o])
    s0_5, s1_5 = apply_a_t5(tile[5 * cp + o], tile[11 * cp + o], tile[17 * cp + o],
                            tile[23 * cp + o], tile[29 * cp + o], tile[35 * cp + o])
    # Y = s A, row by row
    y[o], y[cp + o] = apply_a_t5(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5)
    y[2 * cp + o], y[3 * cp + o] = apply_a_t5(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5)


@tile_function
def _output_adjoint_lanes_tile(g, dm, cp, o):
    # e = A g, column by column (positions q and 2 + q); then dM = e A^T, row by row
    e0 = apply_a5(g[o], g[2 * cp + o])
    e1 = apply_a5(g[cp + o], g[3 * cp + o])
    store_rows6(dm, cp, o, apply_a5(e0[0], e1[0]), apply_a5(e0[1], e1[1]),   # unrolled, so
                apply_a5(e0[2], e1[2]), apply_a5(e0[3], e1[3]),        # that the lanes
                apply_a5(e0[4], e1[4]), apply_a5(e0[5], e1[5]))        # vectorise


input_transform_lanes = tiles_6x6.input_transform_lanes
input_transform_adjoint_lanes = tiles_6x6.input_transform_adjoint_lanes
output_transform_lanes = lanes_kernel(
    _output_lanes_tile, "output_transform_lanes",
    """y_lanes[t, (2r + q) * C_pad + o] = (A^T M A)[r, q] for every tile t of the chunk and
    filter o, before the bias. Arguments (m_lanes, blocks, y_lanes): m_lanes (T, 36 * C_pad),
    blocks = channel_blocks(C_out), y_lanes (T, 4 * C_pad).""")
output_transform_adjoint_lanes = lanes_kernel(
    _output_adjoint_lanes_tile, "output_transform_adjoint_lanes",
    """dm_lanes[t, (6r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 2x2 block in
    g_lanes: the transpose of output_transform_lanes. Arguments (g_lanes, blocks, dm_lanes):
    g_lanes (T, 4 * C_pad), dm_lanes (T, 36 * C_pad).""")


# The per-plane kernels and their NumPy twins (planes.py)
(input_transform, input_transform_adjoint, output_transform, output_transform_adjoint,
 input_transform_numpy, input_transform_adjoint_numpy, output_transform_numpy,
 output_transform_adjoint_numpy) = per_plane_kernels(B_T5, A_T5, tiles_6x6.transform_row,
                                                     tiles_6x6.add_row,
                                                     _output_tile, _output_adjoint_tile)
