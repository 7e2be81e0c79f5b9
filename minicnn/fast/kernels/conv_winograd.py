"""Winograd F(2x2, 3x3) tile transforms for the 3x3, stride-1 convolution.

Winograd's minimal filtering algorithm computes a 2x2 block of outputs of a 3x3 correlation
from the 4x4 input tile under it with 16 multiplications instead of 36:

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise; g the 3x3 filter, d the tile)

    B^T = [[1, 0, -1, 0],     G = [[1,    0,   0  ],     A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],          [1/2,  1/2, 1/2],            [0, 1, -1, -1]]
           [0, -1, 1, 0],          [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]         [0,    0,   1  ]]

Summed over input channels, the 16 elementwise products become 16 matrix products, one per
position xi = 4*r + q of the 4x4 transformed tile (minicnn/fast/conv/winograd.py):

    M[xi] (C_out, T) = U[xi] (C_out, C_in) @ V[xi] (C_in, T),   T = tiles in the chunk

These kernels move between images and transformed tiles, for the tiles of a chunk: images
n0..n1-1, tile rows a0..a1-1, all ``tiles_w`` tile columns; tile (n, a, b) is column
t = ((n - n0) * (a1 - a0) + (a - a0)) * tiles_w + b. Tile (a, b) reads the input rows
2a - p_h .. 2a - p_h + 3 and columns 2b - p_w .. 2b - p_w + 3 (zero outside the image: the
padding is never materialised) and writes the outputs (2a + r, 2b + q), r, q in {0, 1}, that
lie inside (H_out, W_out).

    Numba kernel                    NumPy twin                           what it computes
    input_transform                 input_transform_numpy                V = B^T d B
    input_transform_adjoint         input_transform_adjoint_numpy        dX += B dV B^T
    output_transform                output_transform_numpy               Y = A^T M A (+ b)
    output_transform_adjoint        output_transform_adjoint_numpy       dM = A dY A^T

All kernels are serial ``@njit(cache=True, nogil=True)`` loops (see minicnn/kernels/conv.py
for why the fold kernels are serial on a shared machine): with more than one thread,
minicnn/fast/conv/winograd.py runs them on parts of the batch at once, one part per
thread, which ``nogil`` allows (minicnn/fast/parallel.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "input_transform", "input_transform_numpy",
    "input_transform_adjoint", "input_transform_adjoint_numpy",
    "output_transform", "output_transform_numpy",
    "output_transform_adjoint", "output_transform_adjoint_numpy",
    "B_T", "G", "A_T",
]

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Input tiles: V = B^T d B and its adjoint
# --------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def input_transform(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles):
    """V[4r + q, c, t] = (B^T d B)[r, q] for every tile t of the chunk and channel c.

    Image by image and channel by channel, the rows of x that the chunk's tiles read are
    copied into a zero-padded plane (so no tile needs a bounds check); then each tile's
    e = B^T d (its rows combined) and V = e B (columns combined) are straight-line code on
    16 numbers, written to the 16 rows of V.

    Parameters
    ----------
    x : (N, C_in, H, W) C-contiguous array, the unpadded input
    n0, n1, a0, a1, tiles_w : int, the chunk (see the module docstring)
    pad_h, pad_w : int, the zero padding on each side
    v_tiles : (16, C_in, T) array to fill, T = (n1 - n0) * (a1 - a0) * tiles_w
    """
    channels = x.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(x, a0, a1, tiles_w, pad_h, pad_w, 4, 2)
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            _fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w)
            t = t0
            for a in range(tile_rows):
                i = 2 * a
                for b in range(tiles_w):
                    j = 2 * b
                    # e = B^T d: column q of the tile's rows combined (e0q, e1q, e2q, e3q)
                    e00, e10, e20, e30 = _bt_column(plane, i, j)
                    e01, e11, e21, e31 = _bt_column(plane, i, j + 1)
                    e02, e12, e22, e32 = _bt_column(plane, i, j + 2)
                    e03, e13, e23, e33 = _bt_column(plane, i, j + 3)
                    # V = e B: each row r of e combined the same way
                    v_tiles[0, c, t], v_tiles[1, c, t], v_tiles[2, c, t], v_tiles[3, c, t] = \
                        e00 - e02, e01 + e02, e02 - e01, e01 - e03
                    v_tiles[4, c, t], v_tiles[5, c, t], v_tiles[6, c, t], v_tiles[7, c, t] = \
                        e10 - e12, e11 + e12, e12 - e11, e11 - e13
                    v_tiles[8, c, t], v_tiles[9, c, t], v_tiles[10, c, t], v_tiles[11, c, t] = \
                        e20 - e22, e21 + e22, e22 - e21, e21 - e23
                    v_tiles[12, c, t], v_tiles[13, c, t], v_tiles[14, c, t], v_tiles[15, c, t] = \
                        e30 - e32, e31 + e32, e32 - e31, e31 - e33
                    t += 1
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _bt_column(plane, i, j):
    """Column j of B^T d for the tile whose top row is i: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)."""
    d0, d1, d2, d3 = plane[i, j], plane[i + 1, j], plane[i + 2, j], plane[i + 3, j]
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True, nogil=True)
def _input_plane(x, a0, a1, tiles_w, pad_h, pad_w, alpha, step):
    """A zeroed plane for the input rows that the chunk's alpha x alpha tiles, ``step`` apart,
    read, and where x lands in it: (plane, top, y_lo, y_hi, copy_w);
    plane[y - top, pad_w + k] = x[.., y, k] for y_lo <= y < y_hi, k < copy_w, zero elsewhere
    (the padding). Shared with the larger tiles (minicnn/fast/kernels/conv_winograd_large.py)."""
    rows = step * (a1 - a0) + alpha - step
    row_len = step * tiles_w + alpha - step
    plane = np.zeros((rows, row_len), dtype=x.dtype)
    return (plane, *_plane_window(x.shape[2], x.shape[3], rows, row_len, a0, step, pad_h,
                                  pad_w))


@njit(cache=True, inline="always")
def _plane_window(height, width, rows, row_len, a0, step, pad_h, pad_w):
    """Where an H x W image lands in a plane of rows x row_len numbers that starts at the
    chunk's first tile row a0 (tiles ``step`` apart): (top, y_lo, y_hi, copy_w), image rows
    y_lo .. y_hi - 1 at plane rows y - top and image columns 0 .. copy_w - 1 at plane columns
    pad_w + k. Shared with the channels-last copies (minicnn/fast/kernels/conv_winograd_lanes.py)."""
    top = step * a0 - pad_h
    return top, max(0, top), min(height, top + rows), max(0, min(width, row_len - pad_w))


# Copies between an image (or its gradient) and a kernel's plane, shared by every kernel here
# and in minicnn/fast/kernels/conv_winograd_large.py. The input side's (top, y_lo, y_hi, copy_w)
# come from _input_plane; the output side's plane holds output rows step*a0 .. y_hi - 1.

@njit(cache=True, inline="always")
def _fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w):
    """plane[y - top, pad_w + k] = x[n, c, y, k], the rows the chunk's tiles read."""
    for y in range(y_lo, y_hi):
        for k in range(copy_w):
            plane[y - top, pad_w + k] = x[n, c, y, k]


@njit(cache=True, inline="always")
def _add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w):
    """dx[n, c, y, k] += plane[y - top, pad_w + k], the transpose of _fill_input_plane."""
    for y in range(y_lo, y_hi):
        for k in range(copy_w):
            dx[n, c, y, k] += plane[y - top, pad_w + k]


@njit(cache=True, inline="always")
def _write_output_plane(out, plane, n, o, first_row, y_hi):
    """out[n, o, y, :] = plane[y - first_row, :W_out] for the chunk's output rows."""
    for y in range(first_row, y_hi):
        for k in range(out.shape[3]):
            out[n, o, y, k] = plane[y - first_row, k]


@njit(cache=True, inline="always")
def _fill_output_plane(plane, dout, n, o, first_row, y_hi):
    """plane[y - first_row, :W_out] = dout[n, o, y, :], the transpose of
    _write_output_plane."""
    for y in range(first_row, y_hi):
        for k in range(dout.shape[3]):
            plane[y - first_row, k] = dout[n, o, y, k]


@njit(cache=True, nogil=True)
def input_transform_adjoint(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx):
    """dX[n, c, 2a - p_h + r, 2b - p_w + q] += (B dV B^T)[r, q] for every tile of the chunk
    (the transpose of input_transform; gradient falling on the padding is dropped).

    Image by image and channel by channel, each tile's B dV B^T is added into a zeroed plane
    (neighbouring tiles overlap by two rows and columns), whose interior is then added to dX.

    Parameters
    ----------
    dv_tiles : (16, C_in, T) array, dL/dV
    n0, n1, a0, a1, tiles_w, pad_h, pad_w : int, as for input_transform
    dx : (N, C_in, H, W) array, added into
    """
    channels = dx.shape[1]
    tile_rows = a1 - a0
    plane, top, y_lo, y_hi, copy_w = _input_plane(dx, a0, a1, tiles_w, pad_h, pad_w, 4, 2)
    t0 = 0
    for n in range(n0, n1):
        for c in range(channels):
            plane[:, :] = 0
            t = t0
            for a in range(tile_rows):
                i = 2 * a
                for b in range(tiles_w):
                    j = 2 * b
                    # e = dV B^T, row by row (the adjoint of "V = e B")
                    e00, e01, e02, e03 = _b_combine(dv_tiles[0, c, t], dv_tiles[1, c, t],
                                                    dv_tiles[2, c, t], dv_tiles[3, c, t])
                    e10, e11, e12, e13 = _b_combine(dv_tiles[4, c, t], dv_tiles[5, c, t],
                                                    dv_tiles[6, c, t], dv_tiles[7, c, t])
                    e20, e21, e22, e23 = _b_combine(dv_tiles[8, c, t], dv_tiles[9, c, t],
                                                    dv_tiles[10, c, t], dv_tiles[11, c, t])
                    e30, e31, e32, e33 = _b_combine(dv_tiles[12, c, t], dv_tiles[13, c, t],
                                                    dv_tiles[14, c, t], dv_tiles[15, c, t])
                    # dd = B e, column by column (the adjoint of "e = B^T d"), added on
                    _add_column(plane, i, j, _b_combine(e00, e10, e20, e30))
                    _add_column(plane, i, j + 1, _b_combine(e01, e11, e21, e31))
                    _add_column(plane, i, j + 2, _b_combine(e02, e12, e22, e32))
                    _add_column(plane, i, j + 3, _b_combine(e03, e13, e23, e33))
                    t += 1
            _add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w)
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _b_combine(g0, g1, g2, g3):
    """B applied to (g0, g1, g2, g3): (g0, g1 - g2 + g3, g1 + g2 - g0, -g3), the transpose of
    _bt_column's combination."""
    return g0, g1 - g2 + g3, g1 + g2 - g0, -g3


@njit(cache=True, inline="always")
def _add_column(plane, i, j, column):
    plane[i, j] += column[0]
    plane[i + 1, j] += column[1]
    plane[i + 2, j] += column[2]
    plane[i + 3, j] += column[3]


# The NumPy twins take the transform matrices as keywords (this module's F(2x2, 3x3) ones by
# default), so the same code is the reference for the larger tiles' kernels
# (minicnn/fast/kernels/conv_winograd_large.py): the tile is alpha x alpha, alpha = len(b_t), and
# covers m x m outputs, tiles m = len(a_t) apart (``step`` for the input side).

def _tiles(x_padded, tiles_h, tiles_w, alpha, step):
    """d[n, c, a, b, r, q] = X_pad[n, c, step*a + r, step*b + q], a view (alpha x alpha
    windows, step apart)."""
    windows = np.lib.stride_tricks.sliding_window_view(x_padded, (alpha, alpha), axis=(2, 3))
    return windows[:, :, ::step, ::step][:, :, :tiles_h, :tiles_w]


def _padded_for_tiles(x, a0, a1, tiles_w, pad_h, pad_w, alpha, step):
    """The input rows and columns the chunk's tiles read, zero outside x: (N, C,
    step*(a1 - a0) + alpha - step, step*tiles_w + alpha - step), element [.., y, x'] =
    X[.., step*a0 - p_h + y, x' - p_w]."""
    n_batch, channels, height, width = x.shape
    rows, cols = step * (a1 - a0) + alpha - step, step * tiles_w + alpha - step
    region = np.zeros((n_batch, channels, rows, cols), dtype=x.dtype)
    top = step * a0 - pad_h
    y_lo, y_hi = max(0, top), min(height, top + rows)
    x_hi = min(width, cols - pad_w)
    if y_hi > y_lo and x_hi > 0:
        region[:, :, y_lo - top:y_hi - top, pad_w:pad_w + x_hi] = x[:, :, y_lo:y_hi, :x_hi]
    return region


def input_transform_numpy(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles, b_t=B_T,
                          step=2):
    """NumPy twin of :func:`input_transform`: the tiles as a strided view, one einsum."""
    alpha = len(b_t)
    region = _padded_for_tiles(x[n0:n1], a0, a1, tiles_w, pad_h, pad_w, alpha, step)
    d = _tiles(region, a1 - a0, tiles_w, alpha, step)  # (nb, C, rows, tiles_w, alpha, alpha)
    v = np.einsum("ri,ncabij,qj->rqcnab", b_t, d, b_t)
    v_tiles[...] = v.reshape(alpha * alpha, x.shape[1], -1)


def input_transform_adjoint_numpy(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx,
                                  b_t=B_T, step=2):
    """NumPy twin of :func:`input_transform_adjoint`: each tile's B dV B^T added back with
    one strided slice-add per (r, q)."""
    n_batch, channels, height, width = dx.shape
    nb, rows, alpha = n1 - n0, a1 - a0, len(b_t)
    dv = dv_tiles.reshape(alpha, alpha, channels, nb, rows, tiles_w)
    dd = np.einsum("ri,rqcnab,qj->ncabij", b_t, dv, b_t)   # (nb, C, rows, tiles_w, alpha, alpha)
    region = np.zeros((nb, channels, step * rows + alpha - step,
                       step * tiles_w + alpha - step), dtype=dx.dtype)
    for r in range(alpha):
        for q in range(alpha):
            region[:, :, r:r + step * rows:step, q:q + step * tiles_w:step] += dd[..., r, q]
    top = step * a0 - pad_h
    y_lo, y_hi = max(0, top), min(height, top + region.shape[2])
    x_hi = min(width, region.shape[3] - pad_w)
    if y_hi > y_lo and x_hi > 0:
        dx[n0:n1, :, y_lo:y_hi, :x_hi] += region[:, :, y_lo - top:y_hi - top, pad_w:pad_w + x_hi]


# --------------------------------------------------------------------------------------------
# Output tiles: Y = A^T M A and its adjoint
# --------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def output_transform(m_tiles, bias, n0, n1, a0, a1, tiles_w, out):
    """out[n, o, 2a + r, 2b + q] = (A^T M A)[r, q] + b[o] for every tile of the chunk, where
    it lies inside out (the last tile row / column may hang over an odd H_out / W_out).

    Image by image and filter by filter, the tiles' 2x2 blocks are written into a plane that
    is then copied, less any overhang, into out.

    Parameters
    ----------
    m_tiles : (16, C_out, T) array, M[xi] = U[xi] @ V[xi]
    bias : (C_out,) array (zeros for no bias)
    n0, n1, a0, a1, tiles_w : int, the chunk
    out : (N, C_out, H_out, W_out) array, written
    """
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
                    # s = A^T M: column q of M's rows combined, (s0q, s1q)
                    s00, s10 = _at_column(m_tiles[0, o, t], m_tiles[4, o, t],
                                          m_tiles[8, o, t], m_tiles[12, o, t])
                    s01, s11 = _at_column(m_tiles[1, o, t], m_tiles[5, o, t],
                                          m_tiles[9, o, t], m_tiles[13, o, t])
                    s02, s12 = _at_column(m_tiles[2, o, t], m_tiles[6, o, t],
                                          m_tiles[10, o, t], m_tiles[14, o, t])
                    s03, s13 = _at_column(m_tiles[3, o, t], m_tiles[7, o, t],
                                          m_tiles[11, o, t], m_tiles[15, o, t])
                    # Y = s A: each row of s combined the same way, plus the bias
                    y00, y01 = _at_column(s00, s01, s02, s03)
                    y10, y11 = _at_column(s10, s11, s12, s13)
                    plane[2 * a, 2 * b] = y00 + bias[o]
                    plane[2 * a, 2 * b + 1] = y01 + bias[o]
                    plane[2 * a + 1, 2 * b] = y10 + bias[o]
                    plane[2 * a + 1, 2 * b + 1] = y11 + bias[o]
                    t += 1
            _write_output_plane(out, plane, n, o, 2 * a0, y_hi)
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _at_column(m0, m1, m2, m3):
    """A^T applied to (m0, m1, m2, m3): (m0 + m1 + m2, m1 - m2 - m3)."""
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True, nogil=True)
def output_transform_adjoint(dout, n0, n1, a0, a1, tiles_w, dm_tiles):
    """dM[4r + q, o, t] = (A dY A^T)[r, q] for every tile t of the chunk, dY the tile's 2x2
    block of dout (zero where it hangs over the output).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array, dL/dY
    n0, n1, a0, a1, tiles_w : int, the chunk
    dm_tiles : (16, C_out, T) array to fill
    """
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
                    g00, g01 = plane[2 * a, 2 * b], plane[2 * a, 2 * b + 1]
                    g10, g11 = plane[2 * a + 1, 2 * b], plane[2 * a + 1, 2 * b + 1]
                    # e = A g, column by column (the adjoint of "s = A^T M")
                    e00, e10, e20, e30 = _a_combine(g00, g10)
                    e01, e11, e21, e31 = _a_combine(g01, g11)
                    # dM = e A^T, row by row (the adjoint of "Y = s A")
                    dm_tiles[0, o, t], dm_tiles[1, o, t], dm_tiles[2, o, t], dm_tiles[3, o, t] = \
                        _a_combine(e00, e01)
                    dm_tiles[4, o, t], dm_tiles[5, o, t], dm_tiles[6, o, t], dm_tiles[7, o, t] = \
                        _a_combine(e10, e11)
                    dm_tiles[8, o, t], dm_tiles[9, o, t], dm_tiles[10, o, t], \
                        dm_tiles[11, o, t] = _a_combine(e20, e21)
                    dm_tiles[12, o, t], dm_tiles[13, o, t], dm_tiles[14, o, t], \
                        dm_tiles[15, o, t] = _a_combine(e30, e31)
                    t += 1
        t0 += tile_rows * tiles_w


@njit(cache=True, inline="always")
def _a_combine(g0, g1):
    """A applied to (g0, g1): (g0, g0 + g1, g0 - g1, -g1), the transpose of _at_column."""
    return g0, g0 + g1, g0 - g1, -g1


def _output_region(out_shape, a0, a1, tiles_w, m):
    """Rows [m*a0, min(H_out, m*a1)) and columns [0, min(W_out, m*tiles_w)) of the output
    (tiles of m x m outputs)."""
    return m * a0, min(out_shape[2], m * a1), min(out_shape[3], m * tiles_w)


def output_transform_numpy(m_tiles, bias, n0, n1, a0, a1, tiles_w, out, a_t=A_T):
    """NumPy twin of :func:`output_transform`: one einsum, then the tiles laid side by side."""
    out_channels = out.shape[1]
    nb, rows, (m, alpha) = n1 - n0, a1 - a0, a_t.shape
    tiles = m_tiles.reshape(alpha, alpha, out_channels, nb, rows, tiles_w)
    y = np.einsum("ri,ijonab,qj->noarbq", a_t, tiles, a_t).reshape(nb, out_channels, m * rows,
                                                                   m * tiles_w)
    y_lo, y_hi, x_hi = _output_region(out.shape, a0, a1, tiles_w, m)
    out[n0:n1, :, y_lo:y_hi, :x_hi] = y[:, :, :y_hi - y_lo, :x_hi] + bias.reshape(1, -1, 1, 1)


def output_transform_adjoint_numpy(dout, n0, n1, a0, a1, tiles_w, dm_tiles, a_t=A_T):
    """NumPy twin of :func:`output_transform_adjoint`."""
    nb, rows, out_channels, (m, alpha) = n1 - n0, a1 - a0, dout.shape[1], a_t.shape
    g = np.zeros((nb, out_channels, m * rows, m * tiles_w), dtype=dout.dtype)
    y_lo, y_hi, x_hi = _output_region(dout.shape, a0, a1, tiles_w, m)
    g[:, :, :y_hi - y_lo, :x_hi] = dout[n0:n1, :, y_lo:y_hi, :x_hi]
    g = g.reshape(nb, out_channels, rows, m, tiles_w, m)          # (n, o, a, r, b, q)
    dm = np.einsum("ri,noarbq,qj->ijonab", a_t, g, a_t)
    dm_tiles[...] = dm.reshape(alpha * alpha, out_channels, -1)
