"""Winograd tile transforms with larger tiles: F(2x2, 5x5), F(2x2, 7x7) and F(4x4, 3x3).

The same identity as F(2x2, 3x3) (minicnn/fast/kernels/conv_winograd.py), with a larger tile: an
m x m block of outputs of an r x r correlation comes from the alpha x alpha input tile under
it, alpha = m + r - 1,

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise; g the r x r filter, d the tile)

with alpha^2 multiplications instead of m^2 r^2: 36 instead of 100 for F(2x2, 5x5) (2.8x
fewer), 64 instead of 196 for F(2x2, 7x7) (3.1x fewer), 36 instead of 144 for F(4x4, 3x3)
(4x fewer; F(2x2, 3x3) saves 2.25x). The matrices below are Toom-Cook's for the
interpolation points 0, 1, -1, 2, -2 (and 1/2, -1/2 for 7x7) and infinity; F(2x2, 5x5) and
F(4x4, 3x3) use the same points, hence the same 6x6 tiles and B^T (B_T5), and differ only in
A^T and G. Larger points mean larger matrix entries, so float32 results lose more digits than
F(2x2, 3x3)'s: measured against a float64 direct sum, relative (norm) errors of ~0.6-1.2e-6
for F(4x4, 3x3), ~0.5-2e-6 for 5x5 and ~2-5e-6 for 7x7, against ~1-3e-7 for im2col and
F(2x2, 3x3) (float64: ~1e-15).

The kernels have the 3x3 kernels' arguments and chunk convention (tile (n, a, b) is column
t = ((n - n0) * (a1 - a0) + (a - a0)) * tiles_w + b, reads input rows m*a - p_h ..
m*a - p_h + alpha - 1) and position xi = alpha * r + q of the transformed tile:

    Numba kernel (5x5 / 7x7 / F(4x4, 3x3))       NumPy twin (minicnn/fast/kernels/conv_winograd.py)
    input_transform_5 / _7 / _f4                 input_transform_numpy(..., b_t=, step=)
    input_transform_adjoint_5 / _7 / _f4         input_transform_adjoint_numpy(..., b_t=, step=)
    output_transform_5 / _7 / _f4                output_transform_numpy(..., a_t=A_T5 / ...)
    output_transform_adjoint_5 / _7 / _f4        output_transform_adjoint_numpy(..., a_t=...)

Each kernel is straight-line code on one tile, through the helpers _bt*, _b*, _at*, _a* that
apply B^T, B, A^T and A to one column of numbers. They use the matrices' symmetry: the rows
for the points p and -p share their even and odd parts, (E + O, E - O). The input transform
and its adjoint also share work between neighbouring tiles, which overlap in alpha - 2 of
their alpha columns: the column transforms of a tile row are done once per plane column.
Input transform, float32, 32 channels, 14x14 images: 17 (5x5) and 37 (7x7) ns per tile and
channel; a loop over the matrix entries ran at 80-250 ns (benchmarks/RESULTS.md).

All kernels are serial ``@njit(cache=True, nogil=True)`` loops; with several threads
minicnn/fast/conv/winograd.py runs them on parts of the batch at once. Method "fast"
runs the kernels of minicnn/fast/kernels/conv_winograd_lanes.py instead, which put the channels
in vector lanes, and the kernels here are their reference (the same numbers to the last bit,
one plane at a time, tested against the NumPy twins above) and the baseline of
benchmarks/winograd_layout.py. The helpers _bt*, _b*, _at* and _a* serve both.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from minicnn.fast.kernels.conv_winograd import (_add_input_plane, _fill_input_plane,
                                           _fill_output_plane, _input_plane,
                                           _write_output_plane)

__all__ = [
    "B_T5", "G5", "A_T5", "B_T7", "G7", "A_T7",
    "input_transform_5", "input_transform_adjoint_5",
    "output_transform_5", "output_transform_adjoint_5",
    "input_transform_7", "input_transform_adjoint_7",
    "output_transform_7", "output_transform_adjoint_7",
    "G43", "A_T43", "input_transform_f4", "input_transform_adjoint_f4",
    "output_transform_f4", "output_transform_adjoint_f4",
]

# F(2, 5): points 0, 1, -1, 2, -2, infinity
B_T5 = np.array([[4, 0, -5, 0, 1, 0],
                 [0, -4, -4, 1, 1, 0],
                 [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0],
                 [0, 4, 0, -5, 0, 1]], dtype=np.float64)
G5 = np.array([[1 / 4, 0, 0, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
               [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
               [0, 0, 0, 0, 1]], dtype=np.float64)
A_T5 = np.array([[1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 1]], dtype=np.float64)

# F(2, 7): points 0, 1, -1, 2, -2, 1/2, -1/2, infinity
B_T7 = np.array([[-1, 0, 21 / 4, 0, -21 / 4, 0, 1, 0],
                 [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
                 [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0],
                 [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
                 [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0],
                 [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
                 [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0],
                 [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1]], dtype=np.float64)
G7 = np.array([[-1, 0, 0, 0, 0, 0, 0],
               [-2 / 9] * 7,
               [-2 / 9, 2 / 9, -2 / 9, 2 / 9, -2 / 9, 2 / 9, -2 / 9],
               [1 / 90, 1 / 45, 2 / 45, 4 / 45, 8 / 45, 16 / 45, 32 / 45],
               [1 / 90, -1 / 45, 2 / 45, -4 / 45, 8 / 45, -16 / 45, 32 / 45],
               [32 / 45, 16 / 45, 8 / 45, 4 / 45, 2 / 45, 1 / 45, 1 / 90],
               [32 / 45, -16 / 45, 8 / 45, -4 / 45, 2 / 45, -1 / 45, 1 / 90],
               [0, 0, 0, 0, 0, 0, 1]], dtype=np.float64)
A_T7 = np.array([[1, 1, 1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 1]], dtype=np.float64)

# F(4, 3): the same points as F(2, 5), so the same B^T (B_T5); 4x4 outputs per 6x6 tile
G43 = np.array([[1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1]], dtype=np.float64)
A_T43 = np.array([[1, 1, 1, 1, 1, 0],
                  [0, 1, -1, 2, -2, 0],
                  [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], dtype=np.float64)

for _matrix in (B_T5, G5, A_T5, B_T7, G7, A_T7, G43, A_T43):
    _matrix.setflags(write=False)


# --------------------------------------------------------------------------------------------
# One column: B^T, B, A^T and A applied to alpha (or 2) numbers
# --------------------------------------------------------------------------------------------

# The helpers' constants as float32 numbers: float32 arithmetic then stays float32 (a Python
# literal would promote it to float64), and each constant is exact, so float64 loses nothing.
F0_25, F0_5, F1_25, F2, F2_5, F4, F4_25, F5, F5_25, F8 = (
    np.float32(value) for value in (0.25, 0.5, 1.25, 2, 2.5, 4, 4.25, 5, 5.25, 8))


@njit(cache=True, inline="always")
def _bt5(d0, d1, d2, d3, d4, d5):
    """B_T5 @ (d0, ..., d5)."""
    even1, odd1 = d4 - F4 * d2, d3 - F4 * d1          # the rows of points +-1
    even2, odd2 = d4 - d2, F2 * (d3 - d1)            # the rows of points +-2
    return (F4 * d0 - F5 * d2 + d4, even1 + odd1, even1 - odd1, even2 + odd2, even2 - odd2,
            F4 * d1 - F5 * d3 + d5)


@njit(cache=True, inline="always")
def _b5(g0, g1, g2, g3, g4, g5):
    """B_T5.T @ (g0, ..., g5), the transpose of _bt5."""
    sum1, diff1 = g1 + g2, g2 - g1
    sum2, diff2 = g3 + g4, g4 - g3
    return (F4 * g0, F4 * (diff1 + g5) + F2 * diff2, -F5 * g0 - F4 * sum1 - sum2,
            -diff1 - F2 * diff2 - F5 * g5, g0 + sum1 + sum2, g5)


@njit(cache=True, inline="always")
def _at5(m0, m1, m2, m3, m4, m5):
    """A_T5 @ (m0, ..., m5): two numbers."""
    return m0 + (m1 + m2) + (m3 + m4), (m1 - m2) + F2 * (m3 - m4) + m5


@njit(cache=True, inline="always")
def _a5(g0, g1):
    """A_T5.T @ (g0, g1): six numbers, the transpose of _at5."""
    return g0, g0 + g1, g0 - g1, g0 + F2 * g1, g0 - F2 * g1, g1


@njit(cache=True, inline="always")
def _bt7(d0, d1, d2, d3, d4, d5, d6, d7):
    """B_T7 @ (d0, ..., d7)."""
    even1, odd1 = d2 - F4_25 * d4 + d6, d1 - F4_25 * d3 + d5            # points +-1
    even2, odd2 = F0_25 * d2 - F1_25 * d4 + d6, F0_5 * d1 - F2_5 * d3 + F2 * d5   # points +-2
    even3, odd3 = F4 * d2 - F5 * d4 + d6, F2 * d1 - F2_5 * d3 + F0_5 * d5  # points +-1/2
    return (d6 - d0 + F5_25 * (d2 - d4), even1 + odd1, even1 - odd1, even2 + odd2,
            even2 - odd2, even3 + odd3, even3 - odd3, d7 - d1 + F5_25 * (d3 - d5))


@njit(cache=True, inline="always")
def _b7(g0, g1, g2, g3, g4, g5, g6, g7):
    """B_T7.T @ (g0, ..., g7), the transpose of _bt7."""
    sum1, diff1 = g1 + g2, g1 - g2
    sum2, diff2 = g3 + g4, g3 - g4
    sum3, diff3 = g5 + g6, g5 - g6
    return (-g0, diff1 + F0_5 * diff2 + F2 * diff3 - g7,
            F5_25 * g0 + sum1 + F0_25 * sum2 + F4 * sum3,
            -F4_25 * diff1 - F2_5 * (diff2 + diff3) + F5_25 * g7,
            -F5_25 * g0 - F4_25 * sum1 - F1_25 * sum2 - F5 * sum3,
            diff1 + F2 * diff2 + F0_5 * diff3 - F5_25 * g7,
            g0 + sum1 + sum2 + sum3, g7)


@njit(cache=True, inline="always")
def _at7(m0, m1, m2, m3, m4, m5, m6, m7):
    """A_T7 @ (m0, ..., m7): two numbers."""
    return (m0 + (m1 + m2) + (m3 + m4) + (m5 + m6),
            (m1 - m2) + F2 * (m3 - m4) + F0_5 * (m5 - m6) + m7)


@njit(cache=True, inline="always")
def _a7(g0, g1):
    """A_T7.T @ (g0, g1): eight numbers, the transpose of _at7."""
    return g0, g0 + g1, g0 - g1, g0 + F2 * g1, g0 - F2 * g1, g0 + F0_5 * g1, g0 - F0_5 * g1, g1


@njit(cache=True, inline="always")
def _at43(m0, m1, m2, m3, m4, m5):
    """A_T43 @ (m0, ..., m5): four numbers."""
    sum1, diff1 = m1 + m2, m1 - m2
    sum2, diff2 = m3 + m4, m3 - m4
    return m0 + sum1 + sum2, diff1 + F2 * diff2, sum1 + F4 * sum2, diff1 + F8 * diff2 + m5


@njit(cache=True, inline="always")
def _a43(g0, g1, g2, g3):
    """A_T43.T @ (g0, ..., g3): six numbers, the transpose of _at43."""
    even1, odd1 = g0 + g2, g1 + g3                       # the rows of points +-1
    even2, odd2 = g0 + F4 * g2, F2 * g1 + F8 * g3        # the rows of points +-2
    return g0, even1 + odd1, even1 - odd1, even2 + odd2, even2 - odd2, g3


# --------------------------------------------------------------------------------------------
# F(2x2, 5x5): 6x6 tiles
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _plane_column6(plane, i, j):
    """Column j of B^T d for the tile whose top row is i."""
    return _bt5(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j],
                plane[i + 4, j], plane[i + 5, j])


@njit(cache=True, nogil=True)
def _input_transform_6(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, step, v_tiles):
    """V[6r + q, c, t] = (B^T d B)[r, q] for every 6x6 tile t of the chunk and channel c,
    tiles ``step`` apart (2 for F(2x2, 5x5), 4 for F(4x4, 3x3); other arguments as for
    minicnn.fast.kernels.conv_winograd.input_transform; v_tiles (36, C_in, T))."""
    channels = x.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(x, a0, a1, tiles_w, pad_h, pad_w, 6, step)
    row_len = plane.shape[1]
    e = np.empty((6, row_len), dtype=x.dtype)
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            _fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w)
            t = t0
            for a in range(tile_rows):
                i = step * a
                # e = B^T d for every plane column under this tile row (neighbouring tiles
                # share 6 - step of their 6 columns)
                for j in range(row_len):
                    (e[0, j], e[1, j], e[2, j], e[3, j], e[4, j],
                     e[5, j]) = _plane_column6(plane, i, j)
                for b in range(tiles_w):
                    j = step * b
                    # V = e B: row r of the tile's e through B^T
                    for r in range(6):
                        (v_tiles[6 * r, c, t], v_tiles[6 * r + 1, c, t],
                         v_tiles[6 * r + 2, c, t], v_tiles[6 * r + 3, c, t],
                         v_tiles[6 * r + 4, c, t], v_tiles[6 * r + 5, c, t]) = _bt5(
                            e[r, j], e[r, j + 1], e[r, j + 2], e[r, j + 3], e[r, j + 4],
                            e[r, j + 5])
                    t += 1
        t0 += tile_rows * tiles_w


@njit(cache=True, nogil=True)
def input_transform_5(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles):
    """F(2x2, 5x5)'s V = B^T d B: 6x6 tiles, 2 apart."""
    _input_transform_6(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, 2, v_tiles)


@njit(cache=True, nogil=True)
def input_transform_f4(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles):
    """F(4x4, 3x3)'s V = B^T d B: the same 6x6 tiles and B^T, 4 apart."""
    _input_transform_6(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, 4, v_tiles)


@njit(cache=True, inline="always")
def _b5_row(dv_tiles, c, t, r):
    """Row r of dV for tile t and channel c through B: row r of dV B^T."""
    x = 6 * r
    return _b5(dv_tiles[x, c, t], dv_tiles[x + 1, c, t], dv_tiles[x + 2, c, t],
               dv_tiles[x + 3, c, t], dv_tiles[x + 4, c, t], dv_tiles[x + 5, c, t])


@njit(cache=True, nogil=True)
def _input_transform_adjoint_6(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, step,
                               dx):
    """dX[n, c, step*a - p_h + r, step*b - p_w + q] += (B dV B^T)[r, q] for every 6x6 tile of
    the chunk (the transpose of _input_transform_6; gradient on the padding is dropped)."""
    channels = dx.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(dx, a0, a1, tiles_w, pad_h, pad_w, 6, step)
    row_len = plane.shape[1]
    acc = np.empty((6, row_len), dtype=dx.dtype)       # a tile row's dV B^T by plane column
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            plane[:, :] = 0
            t = t0
            for a in range(tile_rows):
                i = step * a
                acc[:, :] = 0
                for b in range(tiles_w):
                    j = step * b
                    # e = dV B^T, row by row; dd = B e column by column is linear, so the
                    # tile row's e is summed by plane column first (neighbouring tiles share
                    # 6 - step of their 6 columns) and B applied once per column below
                    for r in range(6):
                        row = _b5_row(dv_tiles, c, t, r)
                        for q in range(6):
                            acc[r, j + q] += row[q]
                    t += 1
                for j in range(row_len):
                    column = _b5(acc[0, j], acc[1, j], acc[2, j], acc[3, j], acc[4, j], acc[5, j])
                    for r in range(6):
                        plane[i + r, j] += column[r]
            _add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w)
        t0 += tile_rows * tiles_w


@njit(cache=True, nogil=True)
def input_transform_adjoint_5(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx):
    """The transpose of input_transform_5."""
    _input_transform_adjoint_6(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, 2, dx)


@njit(cache=True, nogil=True)
def input_transform_adjoint_f4(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx):
    """The transpose of input_transform_f4."""
    _input_transform_adjoint_6(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, 4, dx)


@njit(cache=True, nogil=True)
def output_transform_5(m_tiles, bias, n0, n1, a0, a1, tiles_w, out):
    """out[n, o, 2a + r, 2b + q] = (A^T M A)[r, q] + b[o] for every tile of the chunk, where
    it lies inside out (m_tiles (36, C_out, T))."""
    out_channels, out_h = out.shape[1], out.shape[2]
    tile_rows = a1 - a0
    plane = np.empty((2 * tile_rows, 2 * tiles_w), dtype=out.dtype)
    y_hi = min(out_h, 2 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    # s = A^T M: column q of M through A^T, (s0_q, s1_q)
                    s0_0, s1_0 = _at5(m_tiles[0, o, t], m_tiles[6, o, t], m_tiles[12, o, t],
                                      m_tiles[18, o, t], m_tiles[24, o, t], m_tiles[30, o, t])
                    s0_1, s1_1 = _at5(m_tiles[1, o, t], m_tiles[7, o, t], m_tiles[13, o, t],
                                      m_tiles[19, o, t], m_tiles[25, o, t], m_tiles[31, o, t])
                    s0_2, s1_2 = _at5(m_tiles[2, o, t], m_tiles[8, o, t], m_tiles[14, o, t],
                                      m_tiles[20, o, t], m_tiles[26, o, t], m_tiles[32, o, t])
                    s0_3, s1_3 = _at5(m_tiles[3, o, t], m_tiles[9, o, t], m_tiles[15, o, t],
                                      m_tiles[21, o, t], m_tiles[27, o, t], m_tiles[33, o, t])
                    s0_4, s1_4 = _at5(m_tiles[4, o, t], m_tiles[10, o, t], m_tiles[16, o, t],
                                      m_tiles[22, o, t], m_tiles[28, o, t], m_tiles[34, o, t])
                    s0_5, s1_5 = _at5(m_tiles[5, o, t], m_tiles[11, o, t], m_tiles[17, o, t],
                                      m_tiles[23, o, t], m_tiles[29, o, t], m_tiles[35, o, t])
                    # Y = s A, plus the bias
                    y00, y01 = _at5(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5)
                    y10, y11 = _at5(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5)
                    plane[2 * a, 2 * b] = y00 + bias[o]
                    plane[2 * a, 2 * b + 1] = y01 + bias[o]
                    plane[2 * a + 1, 2 * b] = y10 + bias[o]
                    plane[2 * a + 1, 2 * b + 1] = y11 + bias[o]
                    t += 1
            _write_output_plane(out, plane, n, o, 2 * a0, y_hi)
        t0 += tile_rows * tiles_w


@njit(cache=True, nogil=True)
def output_transform_adjoint_5(dout, n0, n1, a0, a1, tiles_w, dm_tiles):
    """dM[6r + q, o, t] = (A dY A^T)[r, q] for every tile t of the chunk, dY the tile's 2x2
    block of dout (zero where it hangs over the output; dm_tiles (36, C_out, T))."""
    out_channels, out_h = dout.shape[1], dout.shape[2]
    tile_rows = a1 - a0
    plane = np.zeros((2 * tile_rows, 2 * tiles_w), dtype=dout.dtype)   # overhang stays 0
    y_hi = min(out_h, 2 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            _fill_output_plane(plane, dout, n, o, 2 * a0, y_hi)
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    # e = A g, column by column; then dM = e A^T, row by row
                    e0 = _a5(plane[2 * a, 2 * b], plane[2 * a + 1, 2 * b])
                    e1 = _a5(plane[2 * a, 2 * b + 1], plane[2 * a + 1, 2 * b + 1])
                    for r in range(6):
                        (dm_tiles[6 * r, o, t], dm_tiles[6 * r + 1, o, t],
                         dm_tiles[6 * r + 2, o, t], dm_tiles[6 * r + 3, o, t],
                         dm_tiles[6 * r + 4, o, t], dm_tiles[6 * r + 5, o, t]) = _a5(e0[r], e1[r])
                    t += 1
        t0 += tile_rows * tiles_w


# --------------------------------------------------------------------------------------------
# F(2x2, 7x7): 8x8 tiles
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _plane_column8(plane, i, j):
    """Column j of B^T d for the tile whose top row is i."""
    return _bt7(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j],
                plane[i + 4, j], plane[i + 5, j], plane[i + 6, j], plane[i + 7, j])


@njit(cache=True, nogil=True)
def input_transform_7(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles):
    """V[8r + q, c, t] = (B^T d B)[r, q] for every 8x8 tile t of the chunk and channel c
    (v_tiles (64, C_in, T))."""
    channels = x.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(x, a0, a1, tiles_w, pad_h, pad_w, 8, 2)
    row_len = plane.shape[1]
    e = np.empty((8, row_len), dtype=x.dtype)
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            _fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w)
            t = t0
            for a in range(tile_rows):
                i = 2 * a
                for j in range(row_len):            # e = B^T d, shared by neighbouring tiles
                    (e[0, j], e[1, j], e[2, j], e[3, j], e[4, j], e[5, j], e[6, j],
                     e[7, j]) = _plane_column8(plane, i, j)
                for b in range(tiles_w):
                    j = 2 * b
                    for r in range(8):
                        (v_tiles[8 * r, c, t], v_tiles[8 * r + 1, c, t],
                         v_tiles[8 * r + 2, c, t], v_tiles[8 * r + 3, c, t],
                         v_tiles[8 * r + 4, c, t], v_tiles[8 * r + 5, c, t],
                         v_tiles[8 * r + 6, c, t], v_tiles[8 * r + 7, c, t]) = _bt7(
                            e[r, j], e[r, j + 1], e[r, j + 2], e[r, j + 3], e[r, j + 4],
                            e[r, j + 5], e[r, j + 6], e[r, j + 7])
                    t += 1
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _b7_row(dv_tiles, c, t, r):
    """Row r of dV for tile t and channel c through B: row r of dV B^T."""
    x = 8 * r
    return _b7(dv_tiles[x, c, t], dv_tiles[x + 1, c, t], dv_tiles[x + 2, c, t],
               dv_tiles[x + 3, c, t], dv_tiles[x + 4, c, t], dv_tiles[x + 5, c, t],
               dv_tiles[x + 6, c, t], dv_tiles[x + 7, c, t])


@njit(cache=True, nogil=True)
def input_transform_adjoint_7(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx):
    """dX += B dV B^T tile by tile, the transpose of input_transform_7."""
    channels = dx.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(dx, a0, a1, tiles_w, pad_h, pad_w, 8, 2)
    row_len = plane.shape[1]
    acc = np.empty((8, row_len), dtype=dx.dtype)       # a tile row's dV B^T by plane column
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            plane[:, :] = 0
            t = t0
            for a in range(tile_rows):
                i = 2 * a
                acc[:, :] = 0
                for b in range(tiles_w):
                    j = 2 * b
                    for r in range(8):            # e = dV B^T, summed by plane column
                        row = _b7_row(dv_tiles, c, t, r)
                        for q in range(8):
                            acc[r, j + q] += row[q]
                    t += 1
                for j in range(row_len):                  # dd = B e, once per plane column
                    column = _b7(acc[0, j], acc[1, j], acc[2, j], acc[3, j], acc[4, j],
                                 acc[5, j], acc[6, j], acc[7, j])
                    for r in range(8):
                        plane[i + r, j] += column[r]
            _add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w)
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _at7_column(m_tiles, o, t, q):
    """Column q of M for tile t and filter o through A^T: (s0_q, s1_q)."""
    return _at7(m_tiles[q, o, t], m_tiles[8 + q, o, t], m_tiles[16 + q, o, t],
                m_tiles[24 + q, o, t], m_tiles[32 + q, o, t], m_tiles[40 + q, o, t],
                m_tiles[48 + q, o, t], m_tiles[56 + q, o, t])


@njit(cache=True, nogil=True)
def output_transform_7(m_tiles, bias, n0, n1, a0, a1, tiles_w, out):
    """out[n, o, 2a + r, 2b + q] = (A^T M A)[r, q] + b[o], m_tiles (64, C_out, T)."""
    out_channels, out_h = out.shape[1], out.shape[2]
    tile_rows = a1 - a0
    plane = np.empty((2 * tile_rows, 2 * tiles_w), dtype=out.dtype)
    y_hi = min(out_h, 2 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    s0_0, s1_0 = _at7_column(m_tiles, o, t, 0)
                    s0_1, s1_1 = _at7_column(m_tiles, o, t, 1)
                    s0_2, s1_2 = _at7_column(m_tiles, o, t, 2)
                    s0_3, s1_3 = _at7_column(m_tiles, o, t, 3)
                    s0_4, s1_4 = _at7_column(m_tiles, o, t, 4)
                    s0_5, s1_5 = _at7_column(m_tiles, o, t, 5)
                    s0_6, s1_6 = _at7_column(m_tiles, o, t, 6)
                    s0_7, s1_7 = _at7_column(m_tiles, o, t, 7)
                    y00, y01 = _at7(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5, s0_6, s0_7)
                    y10, y11 = _at7(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5, s1_6, s1_7)
                    plane[2 * a, 2 * b] = y00 + bias[o]
                    plane[2 * a, 2 * b + 1] = y01 + bias[o]
                    plane[2 * a + 1, 2 * b] = y10 + bias[o]
                    plane[2 * a + 1, 2 * b + 1] = y11 + bias[o]
                    t += 1
            _write_output_plane(out, plane, n, o, 2 * a0, y_hi)
        t0 += tile_rows * tiles_w


@njit(cache=True, nogil=True)
def output_transform_adjoint_7(dout, n0, n1, a0, a1, tiles_w, dm_tiles):
    """dM[8r + q, o, t] = (A dY A^T)[r, q], dm_tiles (64, C_out, T)."""
    out_channels, out_h = dout.shape[1], dout.shape[2]
    tile_rows = a1 - a0
    plane = np.zeros((2 * tile_rows, 2 * tiles_w), dtype=dout.dtype)
    y_hi = min(out_h, 2 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            _fill_output_plane(plane, dout, n, o, 2 * a0, y_hi)
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    e0 = _a7(plane[2 * a, 2 * b], plane[2 * a + 1, 2 * b])
                    e1 = _a7(plane[2 * a, 2 * b + 1], plane[2 * a + 1, 2 * b + 1])
                    for r in range(8):
                        (dm_tiles[8 * r, o, t], dm_tiles[8 * r + 1, o, t],
                         dm_tiles[8 * r + 2, o, t], dm_tiles[8 * r + 3, o, t],
                         dm_tiles[8 * r + 4, o, t], dm_tiles[8 * r + 5, o, t],
                         dm_tiles[8 * r + 6, o, t], dm_tiles[8 * r + 7, o, t]) = _a7(e0[r], e1[r])
                    t += 1
        t0 += tile_rows * tiles_w


# --------------------------------------------------------------------------------------------
# F(4x4, 3x3): 6x6 tiles, 4x4 outputs each (the input side is _input_transform_6, step 4)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _at43_column(m_tiles, o, t, q):
    """Column q of M for tile t and filter o through A^T: four numbers."""
    return _at43(m_tiles[q, o, t], m_tiles[6 + q, o, t], m_tiles[12 + q, o, t],
                 m_tiles[18 + q, o, t], m_tiles[24 + q, o, t], m_tiles[30 + q, o, t])


@njit(cache=True, nogil=True)
def output_transform_f4(m_tiles, bias, n0, n1, a0, a1, tiles_w, out):
    """out[n, o, 4a + r, 4b + q] = (A^T M A)[r, q] + b[o] for every tile of the chunk, where
    it lies inside out (m_tiles (36, C_out, T))."""
    out_channels, out_h = out.shape[1], out.shape[2]
    tile_rows = a1 - a0
    plane = np.empty((4 * tile_rows, 4 * tiles_w), dtype=out.dtype)
    y_hi = min(out_h, 4 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    s0 = _at43_column(m_tiles, o, t, 0)       # s = A^T M, column by column
                    s1 = _at43_column(m_tiles, o, t, 1)
                    s2 = _at43_column(m_tiles, o, t, 2)
                    s3 = _at43_column(m_tiles, o, t, 3)
                    s4 = _at43_column(m_tiles, o, t, 4)
                    s5 = _at43_column(m_tiles, o, t, 5)
                    for r in range(4):                        # Y = s A, row by row
                        y0, y1, y2, y3 = _at43(s0[r], s1[r], s2[r], s3[r], s4[r], s5[r])
                        plane[4 * a + r, 4 * b] = y0 + bias[o]
                        plane[4 * a + r, 4 * b + 1] = y1 + bias[o]
                        plane[4 * a + r, 4 * b + 2] = y2 + bias[o]
                        plane[4 * a + r, 4 * b + 3] = y3 + bias[o]
                    t += 1
            _write_output_plane(out, plane, n, o, 4 * a0, y_hi)
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _a43_column(plane, i, j):
    """Column j of the tile's 4x4 block of dY (top row i) through A: six numbers."""
    return _a43(plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j])


@njit(cache=True, nogil=True)
def output_transform_adjoint_f4(dout, n0, n1, a0, a1, tiles_w, dm_tiles):
    """dM[6r + q, o, t] = (A dY A^T)[r, q] for every tile t of the chunk, dY the tile's 4x4
    block of dout (zero where it hangs over the output; dm_tiles (36, C_out, T))."""
    out_channels, out_h = dout.shape[1], dout.shape[2]
    tile_rows = a1 - a0
    plane = np.zeros((4 * tile_rows, 4 * tiles_w), dtype=dout.dtype)   # overhang stays 0
    y_hi = min(out_h, 4 * a1)
    t0 = 0
    for n in range(n0, n1):
        for o in range(out_channels):
            _fill_output_plane(plane, dout, n, o, 4 * a0, y_hi)
            t = t0
            for a in range(tile_rows):
                for b in range(tiles_w):
                    # e = A g, column by column; then dM = e A^T, row by row
                    e0 = _a43_column(plane, 4 * a, 4 * b)
                    e1 = _a43_column(plane, 4 * a, 4 * b + 1)
                    e2 = _a43_column(plane, 4 * a, 4 * b + 2)
                    e3 = _a43_column(plane, 4 * a, 4 * b + 3)
                    for r in range(6):
                        (dm_tiles[6 * r, o, t], dm_tiles[6 * r + 1, o, t],
                         dm_tiles[6 * r + 2, o, t], dm_tiles[6 * r + 3, o, t],
                         dm_tiles[6 * r + 4, o, t], dm_tiles[6 * r + 5, o, t]) = _a43(
                            e0[r], e1[r], e2[r], e3[r])
                    t += 1
        t0 += tile_rows * tiles_w
