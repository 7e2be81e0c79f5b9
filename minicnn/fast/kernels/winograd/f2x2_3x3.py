"""Winograd F(2x2, 3x3): a 2x2 block of outputs of a 3x3 filter from its 4x4 input tile.

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (matrices.py: B_T, G, A_T)

16 multiplications instead of 36. Method "fast" runs these per-plane kernels (planes.py) for
the 3x3 layers whose output size suits 2x2 tiles better than 4x4 (minicnn/fast/conv/
winograd.py). Each kernel is straight-line code on one tile (or a row of tiles):

    Numba kernel               NumPy twin                        what it computes
    input_transform            input_transform_numpy             V = B^T d B
    input_transform_adjoint    input_transform_adjoint_numpy     dX += B dV B^T
    output_transform           output_transform_numpy            Y = A^T M A (+ b)
    output_transform_adjoint   output_transform_adjoint_numpy    dM = A dY A^T

with the arguments of planes.py's kernels; V, M, dV, dM (16, C, T), position xi = 4r + q.
"""

from __future__ import annotations

from numba import njit

from minicnn.fast.kernels.winograd.matrices import A_T, B_T, apply_a, apply_a_t, apply_b, apply_b_t
from minicnn.fast.kernels.winograd.planes import (KERNEL_NAMES, per_plane_kernels,
                                                  tile_function, write_2x2)

__all__ = KERNEL_NAMES


@tile_function
def _transform_row(plane, i, step, tiles_w, rows, v_tiles, c, t):
    """V of the tiles t .. t + tiles_w - 1, whose top row is plane row i: e = B^T d (the
    tile's rows combined), then V = e B (e's columns combined), 16 numbers of straight-line
    code per tile."""
    for b in range(tiles_w):
        j = 2 * b
        # e = B^T d: column q of the tile through B^T, (e0q, e1q, e2q, e3q)
        e00, e10, e20, e30 = apply_b_t(plane[i, j], plane[i + 1, j], plane[i + 2, j],
                                       plane[i + 3, j])
        e01, e11, e21, e31 = apply_b_t(plane[i, j + 1], plane[i + 1, j + 1],
                                       plane[i + 2, j + 1], plane[i + 3, j + 1])
        e02, e12, e22, e32 = apply_b_t(plane[i, j + 2], plane[i + 1, j + 2],
                                       plane[i + 2, j + 2], plane[i + 3, j + 2])
        e03, e13, e23, e33 = apply_b_t(plane[i, j + 3], plane[i + 1, j + 3],
                                       plane[i + 2, j + 3], plane[i + 3, j + 3])
        # V = e B: each row r of e through B^T, to positions 4r .. 4r + 3
        u = t + b
        v_tiles[0, c, u], v_tiles[1, c, u], v_tiles[2, c, u], v_tiles[3, c, u] = \
            apply_b_t(e00, e01, e02, e03)
        v_tiles[4, c, u], v_tiles[5, c, u], v_tiles[6, c, u], v_tiles[7, c, u] = \
            apply_b_t(e10, e11, e12, e13)
        v_tiles[8, c, u], v_tiles[9, c, u], v_tiles[10, c, u], v_tiles[11, c, u] = \
            apply_b_t(e20, e21, e22, e23)
        v_tiles[12, c, u], v_tiles[13, c, u], v_tiles[14, c, u], v_tiles[15, c, u] = \
            apply_b_t(e30, e31, e32, e33)


@tile_function
def _add_row(dv_tiles, c, t, step, tiles_w, rows, plane, i):
    """B dV B^T of the tiles t .. t + tiles_w - 1 added into the plane from row i (tiles
    overlap by two rows and columns)."""
    for b in range(tiles_w):
        j, u = 2 * b, t + b
        # e = dV B^T, row by row (the adjoint of "V = e B")
        e00, e01, e02, e03 = apply_b(dv_tiles[0, c, u], dv_tiles[1, c, u], dv_tiles[2, c, u],
                                     dv_tiles[3, c, u])
        e10, e11, e12, e13 = apply_b(dv_tiles[4, c, u], dv_tiles[5, c, u], dv_tiles[6, c, u],
                                     dv_tiles[7, c, u])
        e20, e21, e22, e23 = apply_b(dv_tiles[8, c, u], dv_tiles[9, c, u],
                                     dv_tiles[10, c, u], dv_tiles[11, c, u])
        e30, e31, e32, e33 = apply_b(dv_tiles[12, c, u], dv_tiles[13, c, u],
                                     dv_tiles[14, c, u], dv_tiles[15, c, u])
        # dd = B e, column by column (the adjoint of "e = B^T d"), added on
        _add_column(plane, i, j, apply_b(e00, e10, e20, e30))
        _add_column(plane, i, j + 1, apply_b(e01, e11, e21, e31))
        _add_column(plane, i, j + 2, apply_b(e02, e12, e22, e32))
        _add_column(plane, i, j + 3, apply_b(e03, e13, e23, e33))


@njit(cache=True, inline="always")
def _add_column(plane, i, j, column):
    plane[i, j] += column[0]
    plane[i + 1, j] += column[1]
    plane[i + 2, j] += column[2]
    plane[i + 3, j] += column[3]


@tile_function
def _output_tile(m_tiles, o, t, bias_o, plane, i, j):
    """Y = A^T M A + b of tile t and filter o, to plane[i .. i + 1, j .. j + 1]."""
    # s = A^T M: column q of M through A^T, (s0q, s1q)
    s00, s10 = apply_a_t(m_tiles[0, o, t], m_tiles[4, o, t], m_tiles[8, o, t],
                         m_tiles[12, o, t])
    s01, s11 = apply_a_t(m_tiles[1, o, t], m_tiles[5, o, t], m_tiles[9, o, t],
                         m_tiles[13, o, t])
    s02, s12 = apply_a_t(m_tiles[2, o, t], m_tiles[6, o, t], m_tiles[10, o, t],
                         m_tiles[14, o, t])
    s03, s13 = apply_a_t(m_tiles[3, o, t], m_tiles[7, o, t], m_tiles[11, o, t],
                         m_tiles[15, o, t])
    # Y = s A: each row of s through A^T, plus the bias
    write_2x2(plane, i, j, apply_a_t(s00, s01, s02, s03), apply_a_t(s10, s11, s12, s13),
              bias_o)


@tile_function
def _output_adjoint_tile(plane, i, j, dm_tiles, o, t):
    """dM = A dY A^T of tile t and filter o, dY = plane[i .. i + 1, j .. j + 1]."""
    g00, g01 = plane[i, j], plane[i, j + 1]
    g10, g11 = plane[i + 1, j], plane[i + 1, j + 1]
    # e = A g, column by column (the adjoint of "s = A^T M")
    e00, e10, e20, e30 = apply_a(g00, g10)
    e01, e11, e21, e31 = apply_a(g01, g11)
    # dM = e A^T, row by row (the adjoint of "Y = s A")
    dm_tiles[0, o, t], dm_tiles[1, o, t], dm_tiles[2, o, t], dm_tiles[3, o, t] = \
        apply_a(e00, e01)
    dm_tiles[4, o, t], dm_tiles[5, o, t], dm_tiles[6, o, t], dm_tiles[7, o, t] = \
        apply_a(e10, e11)
    dm_tiles[8, o, t], dm_tiles[9, o, t], dm_tiles[10, o, t], dm_tiles[11, o, t] = \
        apply_a(e20, e21)
    dm_tiles[12, o, t], dm_tiles[13, o, t], dm_tiles[14, o, t], dm_tiles[15, o, t] = \
        apply_a(e30, e31)


# The per-plane kernels and their NumPy twins (planes.py)
(input_transform, input_transform_adjoint, output_transform, output_transform_adjoint,
 input_transform_numpy, input_transform_adjoint_numpy, output_transform_numpy,
 output_transform_adjoint_numpy) = per_plane_kernels(B_T, A_T, _transform_row, _add_row,
                                                     _output_tile, _output_adjoint_tile)
