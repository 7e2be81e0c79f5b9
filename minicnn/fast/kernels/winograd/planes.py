"""The per-plane layout: Winograd's tile transforms one channel plane at a time, for any tile.

V, M, dV and dM hold one plane (C, T) per position xi = alpha*r + q of the alpha x alpha
transformed tile, for the tiles of a chunk: images n0..n1-1, tile rows a0..a1-1, all
``tiles_w`` tile columns; tile (n, a, b) is column t = ((n - n0) * (a1 - a0) + (a - a0)) *
tiles_w + b. Tile (a, b) reads the input rows step*a - p_h .. step*a - p_h + alpha - 1 and
the columns step*b - p_w .. (zero outside the image: the padding is never materialised), and
writes the m x m outputs (m*a + r, m*b + q) that lie inside (H_out, W_out); m = step.

    per_plane_kernels gives          and the NumPy twin                computes
    input_transform                  input_transform_numpy             V = B^T d B
    input_transform_adjoint          input_transform_adjoint_numpy     dX += B dV B^T
    output_transform                 output_transform_numpy            Y = A^T M A (+ b)
    output_transform_adjoint         output_transform_adjoint_numpy    dM = A dY A^T

per_plane_kernels returns the loops over a chunk's images, channels and tiles, with the copies
between the image and a zero-padded plane; what a tile (or a row of tiles) does is the
family's, passed in by its module (f2x2_3x3.py, f4x4_3x3.py, ...). The twins take the
family's matrices, so one twin serves every tile. All kernels are serial
``@njit(cache=True, nogil=True)`` loops; with several threads minicnn/fast/conv/winograd.py
runs them on parts of the batch at once, which ``nogil`` allows.

A tile function must be made with ``tile_function`` (numba's register_jitable, inlined): a
kernel's closure may hold it and Numba's cache still finds the kernel in the next process (a
closure holding a jitted function gets a new cache key in every process). Numba's cache
checks only the file that defines a kernel (here), so each kernel's closure also holds
SOURCE_STAMP, a hash of this package's sources: editing a family's tile function compiles
its kernels afresh.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import numpy as np
from numba import njit
from numba.extending import register_jitable

__all__ = [
    "KERNEL_NAMES", "SOURCE_STAMP", "tile_function", "per_plane_kernels", "input_plane",
    "plane_window", "fill_input_plane", "add_input_plane", "write_output_plane",
    "fill_output_plane", "write_2x2", "adjoint_tile_2x2", "transform_row_by_columns",
    "add_row_by_columns",
    "input_transform_numpy", "input_transform_adjoint_numpy", "output_transform_numpy",
    "output_transform_adjoint_numpy",
]

# Each family module's per-plane kernels and their NumPy twins
KERNEL_NAMES = ["input_transform", "input_transform_adjoint", "output_transform",
                "output_transform_adjoint", "input_transform_numpy",
                "input_transform_adjoint_numpy", "output_transform_numpy",
                "output_transform_adjoint_numpy"]


SOURCE_STAMP = int(hashlib.sha256(b"".join(
    path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()[:15], 16)


def tile_function(function):
    """``function`` (plain Python) made callable from, and inlined into, Numba kernels."""
    return register_jitable(inline="always")(function)


def _compile(kernel, name, doc):
    """The kernel made by a factory, named and documented as its family module says."""
    kernel.__name__, kernel.__qualname__, kernel.__doc__ = name, name, doc
    return njit(cache=True, nogil=True)(kernel)


# --------------------------------------------------------------------------------------------
# Copies between an image (or its gradient) and a kernel's plane
# --------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def input_plane(x, a0, a1, tiles_w, pad_h, pad_w, alpha, step):
    """A zeroed plane for the input rows that the chunk's alpha x alpha tiles, ``step`` apart,
    read, and where x lands in it: (plane, top, y_lo, y_hi, copy_w);
    plane[y - top, pad_w + k] = x[.., y, k] for y_lo <= y < y_hi, k < copy_w, zero elsewhere
    (the padding)."""
    rows = step * (a1 - a0) + alpha - step
    row_len = step * tiles_w + alpha - step
    plane = np.zeros((rows, row_len), dtype=x.dtype)
    return (plane, *plane_window(x.shape[2], x.shape[3], rows, row_len, a0, step, pad_h,
                                 pad_w))


@njit(cache=True, inline="always")
def plane_window(height, width, rows, row_len, a0, step, pad_h, pad_w):
    """Where an H x W image lands in a plane of rows x row_len numbers that starts at the
    chunk's first tile row a0 (tiles ``step`` apart): (top, y_lo, y_hi, copy_w), image rows
    y_lo .. y_hi - 1 at plane rows y - top and image columns 0 .. copy_w - 1 at plane columns
    pad_w + k. Shared with the channels-last copies (lanes.py)."""
    top = step * a0 - pad_h
    return top, max(0, top), min(height, top + rows), max(0, min(width, row_len - pad_w))


@njit(cache=True, inline="always")
def fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w):
    """plane[y - top, pad_w + k] = x[n, c, y, k], the rows the chunk's tiles read."""
    for y in range(y_lo, y_hi):
        for k in range(copy_w):
            plane[y - top, pad_w + k] = x[n, c, y, k]


@njit(cache=True, inline="always")
def add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w):
    """dx[n, c, y, k] += plane[y - top, pad_w + k], the transpose of fill_input_plane."""
    for y in range(y_lo, y_hi):
        for k in range(copy_w):
            dx[n, c, y, k] += plane[y - top, pad_w + k]


@njit(cache=True, inline="always")
def write_output_plane(out, plane, n, o, first_row, y_hi):
    """out[n, o, y, :] = plane[y - first_row, :W_out] for the chunk's output rows."""
    for y in range(first_row, y_hi):
        for k in range(out.shape[3]):
            out[n, o, y, k] = plane[y - first_row, k]


@njit(cache=True, inline="always")
def fill_output_plane(plane, dout, n, o, first_row, y_hi):
    """plane[y - first_row, :W_out] = dout[n, o, y, :], the transpose of write_output_plane."""
    for y in range(first_row, y_hi):
        for k in range(dout.shape[3]):
            plane[y - first_row, k] = dout[n, o, y, k]


@tile_function
def write_2x2(plane, i, j, top, bottom, bias_o):
    """plane[i, j .. j + 1] = top + bias_o, plane[i + 1, j .. j + 1] = bottom + bias_o: a
    tile's 2x2 outputs (rows ``top`` and ``bottom``) plus the bias."""
    plane[i, j] = top[0] + bias_o
    plane[i, j + 1] = top[1] + bias_o
    plane[i + 1, j] = bottom[0] + bias_o
    plane[i + 1, j + 1] = bottom[1] + bias_o


@tile_function
def adjoint_tile_2x2(apply_a, plane, i, j, dm_tiles, o, t):
    """dM = A dY A^T of tile t and filter o, dY = plane[i .. i + 1, j .. j + 1], for a family
    whose A^T has two rows: apply_a(g0, g1) is A @ (g0, g1), alpha numbers. e = A g column
    by column, then dM = e A^T row by row."""
    e0 = apply_a(plane[i, j], plane[i + 1, j])
    e1 = apply_a(plane[i, j + 1], plane[i + 1, j + 1])
    for r in range(len(e0)):
        row = apply_a(e0[r], e1[r])
        for q in range(len(row)):
            dm_tiles[len(row) * r + q, o, t] = row[q]


@njit(cache=True, inline="always")
def output_plane(out, a0, a1, tiles_w, m):
    """A zeroed plane for the chunk's m x m output blocks (a tile that hangs over the output
    reads zeros there), and the end of the output rows it covers: (plane, y_hi)."""
    plane = np.zeros((m * (a1 - a0), m * tiles_w), dtype=out.dtype)
    return plane, min(out.shape[2], m * a1)


# --------------------------------------------------------------------------------------------
# The kernels' loops
# --------------------------------------------------------------------------------------------

def per_plane_kernels(b_t, a_t, transform_row, add_row, transform_tile, adjoint_tile):
    """A family's four per-plane kernels and their four NumPy twins, in KERNEL_NAMES' order,
    for its matrices B^T (alpha x alpha tiles) and A^T (step x step outputs, tiles step
    apart), from what the family does to one tile or row of tiles (each made with
    tile_function; their arguments are described by the factories below)."""
    alpha, step = len(b_t), len(a_t)
    square = f"{alpha}x{alpha}"
    return (
        _input_transform_kernel(alpha, step, transform_row, "input_transform", f"""\
V[{alpha}r + q, c, t] = (B^T d B)[r, q] for every {square} tile t of the chunk (tiles {step}
apart) and channel c. Arguments (x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles): x (N,
C_in, H, W) C-contiguous, the chunk (minicnn/fast/kernels/winograd/planes.py), the padding
on each side, v_tiles ({alpha * alpha}, C_in, T) to fill."""),
        _input_transform_adjoint_kernel(alpha, step, add_row, "input_transform_adjoint", f"""\
dX[n, c, {step}a - p_h + r, {step}b - p_w + q] += (B dV B^T)[r, q] for every {square} tile of
the chunk, the transpose of input_transform (gradient on the padding is dropped). Arguments
(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx): dv_tiles ({alpha * alpha}, C_in, T),
dx (N, C_in, H, W) added into."""),
        _output_transform_kernel(step, transform_tile, "output_transform", f"""\
out[n, o, {step}a + r, {step}b + q] = (A^T M A)[r, q] + b[o] for every tile of the chunk,
where it lies inside out. Arguments (m_tiles, bias, n0, n1, a0, a1, tiles_w, out): m_tiles
({alpha * alpha}, C_out, T), bias (C_out,), out (N, C_out, H_out, W_out) written."""),
        _output_transform_adjoint_kernel(step, adjoint_tile, "output_transform_adjoint", f"""\
dM[{alpha}r + q, o, t] = (A dY A^T)[r, q], dY the tile's {step}x{step} block of dout (zero
where it hangs over the output). Arguments (dout, n0, n1, a0, a1, tiles_w, dm_tiles): dout
(N, C_out, H_out, W_out) C-contiguous, dm_tiles ({alpha * alpha}, C_out, T) to fill."""),
        partial(input_transform_numpy, b_t=b_t, step=step),
            partial(input_transform_adjoint_numpy, b_t=b_t, step=step),
            partial(output_transform_numpy, a_t=a_t),
            partial(output_transform_adjoint_numpy, a_t=a_t))


def _input_transform_kernel(alpha, step, transform_row, name, doc):
    """``input_transform(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles)``: V = B^T d B.

    transform_row(plane, i, step, tiles_w, rows, v_tiles, c, t) fills V[:, c, t .. t +
    tiles_w - 1] for the row of tiles whose top row is plane row i; ``rows`` is an (alpha,
    row_len) scratch array. x (N, C_in, H, W) C-contiguous; v_tiles (alpha^2, C_in, T)."""
    stamp = SOURCE_STAMP
    def input_transform(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles):
        stamp               # held in the closure: see the module docstring
        tile_rows = a1 - a0
        plane, top, y_lo, y_hi, copy_w = input_plane(x, a0, a1, tiles_w, pad_h, pad_w, alpha,
                                                     step)
        rows = np.empty((alpha, plane.shape[1]), dtype=x.dtype)
        for n in range(n0, n1):
            for c in range(x.shape[1]):
                fill_input_plane(plane, x, n, c, top, y_lo, y_hi, pad_w, copy_w)
                for a in range(tile_rows):
                    transform_row(plane, step * a, step, tiles_w, rows, v_tiles, c,
                                  ((n - n0) * tile_rows + a) * tiles_w)
    return _compile(input_transform, name, doc)


def _input_transform_adjoint_kernel(alpha, step, add_row, name, doc):
    """``input_transform_adjoint(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx)``:
    dX += B dV B^T tile by tile (gradient falling on the padding is dropped).

    add_row(dv_tiles, c, t, step, tiles_w, rows, plane, i) adds B dV B^T of the row of tiles
    t .. t + tiles_w - 1 into the plane from row i (neighbouring tiles overlap by alpha -
    step rows and columns); ``rows`` is an (alpha, row_len) scratch array."""
    stamp = SOURCE_STAMP
    def input_transform_adjoint(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx):
        stamp               # held in the closure: see the module docstring
        tile_rows = a1 - a0
        plane, top, y_lo, y_hi, copy_w = input_plane(dx, a0, a1, tiles_w, pad_h, pad_w,
                                                     alpha, step)
        rows = np.empty((alpha, plane.shape[1]), dtype=dx.dtype)
        for n in range(n0, n1):
            for c in range(dx.shape[1]):
                plane[:, :] = 0
                for a in range(tile_rows):
                    add_row(dv_tiles, c, ((n - n0) * tile_rows + a) * tiles_w, step, tiles_w,
                            rows, plane, step * a)
                add_input_plane(dx, plane, n, c, top, y_lo, y_hi, pad_w, copy_w)
    return _compile(input_transform_adjoint, name, doc)


def _output_transform_kernel(m, transform_tile, name, doc):
    """``output_transform(m_tiles, bias, n0, n1, a0, a1, tiles_w, out)``: out = A^T M A + b on
    the chunk's outputs that lie inside out (the last tile row / column may hang over).

    transform_tile(m_tiles, o, t, bias_o, plane, i, j) writes tile t's m x m outputs of
    filter o, plus bias_o, to plane[i .. i + m - 1, j .. j + m - 1]. m_tiles (alpha^2, C_out,
    T); out (N, C_out, H_out, W_out), written."""
    stamp = SOURCE_STAMP
    def output_transform(m_tiles, bias, n0, n1, a0, a1, tiles_w, out):
        stamp               # held in the closure: see the module docstring
        plane, y_hi = output_plane(out, a0, a1, tiles_w, m)
        for n in range(n0, n1):
            for o in range(out.shape[1]):
                t = (n - n0) * (a1 - a0) * tiles_w
                for a in range(a1 - a0):
                    for b in range(tiles_w):
                        transform_tile(m_tiles, o, t, bias[o], plane, m * a, m * b)
                        t += 1
                write_output_plane(out, plane, n, o, m * a0, y_hi)
    return _compile(output_transform, name, doc)


def _output_transform_adjoint_kernel(m, transform_tile, name, doc):
    """``output_transform_adjoint(dout, n0, n1, a0, a1, tiles_w, dm_tiles)``: dM = A dY A^T,
    dY each tile's m x m block of dout (zero where it hangs over the output).

    transform_tile(plane, i, j, dm_tiles, o, t) writes dM of tile t and filter o from the
    block plane[i .. i + m - 1, j .. j + m - 1]. dout (N, C_out, H_out, W_out)
    C-contiguous; dm_tiles (alpha^2, C_out, T)."""
    stamp = SOURCE_STAMP
    def output_transform_adjoint(dout, n0, n1, a0, a1, tiles_w, dm_tiles):
        stamp               # held in the closure: see the module docstring
        plane, y_hi = output_plane(dout, a0, a1, tiles_w, m)
        for n in range(n0, n1):
            for o in range(dout.shape[1]):
                fill_output_plane(plane, dout, n, o, m * a0, y_hi)
                t = (n - n0) * (a1 - a0) * tiles_w
                for a in range(a1 - a0):
                    for b in range(tiles_w):
                        transform_tile(plane, m * a, m * b, dm_tiles, o, t)
                        t += 1
    return _compile(output_transform_adjoint, name, doc)


# --------------------------------------------------------------------------------------------
# The NumPy twins: the tile is alpha x alpha, alpha = len(b_t), and covers m x m outputs,
# tiles m = len(a_t) apart (``step`` for the input side)
# --------------------------------------------------------------------------------------------

def _tiles(x_padded, tiles_h, tiles_w, alpha, step):
    """d[n, c, a, b, r, q] = X_pad[n, c, step*a + r, step*b + q], a view (alpha x alpha
    windows, step apart)."""
    windows = np.lib.stride_tricks.sliding_window_view(x_padded, (alpha, alpha), axis=(2, 3))
    return windows[:, :, ::step, ::step][:, :, :tiles_h, :tiles_w]


def _region_window(shape, a0, pad_h, pad_w, rows, cols, step):
    """Where the image (.., H, W) lands in the chunk's input region of rows x cols numbers:
    (top, y_lo, y_hi, x_hi), region[.., y - top, pad_w + k] = X[.., y, k]."""
    top = step * a0 - pad_h
    return top, max(0, top), min(shape[2], top + rows), min(shape[3], cols - pad_w)


def input_transform_numpy(x, n0, n1, a0, a1, tiles_w, pad_h, pad_w, v_tiles, b_t, step):
    """NumPy twin of an input transform: the tiles as a strided view, one einsum."""
    alpha = len(b_t)
    rows, cols = step * (a1 - a0) + alpha - step, step * tiles_w + alpha - step
    region = np.zeros((n1 - n0, x.shape[1], rows, cols), dtype=x.dtype)
    top, y_lo, y_hi, x_hi = _region_window(x.shape, a0, pad_h, pad_w, rows, cols, step)
    if y_hi > y_lo and x_hi > 0:
        region[:, :, y_lo - top:y_hi - top, pad_w:pad_w + x_hi] = x[n0:n1, :, y_lo:y_hi, :x_hi]
    d = _tiles(region, a1 - a0, tiles_w, alpha, step)  # (nb, C, rows, tiles_w, alpha, alpha)
    v = np.einsum("ri,ncabij,qj->rqcnab", b_t, d, b_t)
    v_tiles[...] = v.reshape(alpha * alpha, x.shape[1], -1)


def input_transform_adjoint_numpy(dv_tiles, n0, n1, a0, a1, tiles_w, pad_h, pad_w, dx, b_t,
                                  step):
    """NumPy twin of an input transform's adjoint: each tile's B dV B^T added back with one
    strided slice-add per (r, q)."""
    channels = dx.shape[1]
    nb, tile_rows, alpha = n1 - n0, a1 - a0, len(b_t)
    dv = dv_tiles.reshape(alpha, alpha, channels, nb, tile_rows, tiles_w)
    dd = np.einsum("ri,rqcnab,qj->ncabij", b_t, dv, b_t)   # (nb, C, rows, tiles_w, alpha, alpha)
    rows, cols = step * tile_rows + alpha - step, step * tiles_w + alpha - step
    region = np.zeros((nb, channels, rows, cols), dtype=dx.dtype)
    for r in range(alpha):
        for q in range(alpha):
            region[:, :, r:r + step * tile_rows:step, q:q + step * tiles_w:step] += dd[..., r, q]
    top, y_lo, y_hi, x_hi = _region_window(dx.shape, a0, pad_h, pad_w, rows, cols, step)
    if y_hi > y_lo and x_hi > 0:
        dx[n0:n1, :, y_lo:y_hi, :x_hi] += region[:, :, y_lo - top:y_hi - top, pad_w:pad_w + x_hi]


def _output_region(out_shape, a0, a1, tiles_w, m):
    """Rows [m*a0, min(H_out, m*a1)) and columns [0, min(W_out, m*tiles_w)) of the output
    (tiles of m x m outputs)."""
    return m * a0, min(out_shape[2], m * a1), min(out_shape[3], m * tiles_w)


def output_transform_numpy(m_tiles, bias, n0, n1, a0, a1, tiles_w, out, a_t):
    """NumPy twin of an output transform: one einsum, then the tiles laid side by side."""
    out_channels = out.shape[1]
    nb, rows, (m, alpha) = n1 - n0, a1 - a0, a_t.shape
    tiles = m_tiles.reshape(alpha, alpha, out_channels, nb, rows, tiles_w)
    y = np.einsum("ri,ijonab,qj->noarbq", a_t, tiles, a_t).reshape(nb, out_channels, m * rows,
                                                                   m * tiles_w)
    y_lo, y_hi, x_hi = _output_region(out.shape, a0, a1, tiles_w, m)
    out[n0:n1, :, y_lo:y_hi, :x_hi] = y[:, :, :y_hi - y_lo, :x_hi] + bias.reshape(1, -1, 1, 1)


def output_transform_adjoint_numpy(dout, n0, n1, a0, a1, tiles_w, dm_tiles, a_t):
    """NumPy twin of an output transform's adjoint."""
    nb, rows, out_channels, (m, alpha) = n1 - n0, a1 - a0, dout.shape[1], a_t.shape
    g = np.zeros((nb, out_channels, m * rows, m * tiles_w), dtype=dout.dtype)
    y_lo, y_hi, x_hi = _output_region(dout.shape, a0, a1, tiles_w, m)
    g[:, :, :y_hi - y_lo, :x_hi] = dout[n0:n1, :, y_lo:y_hi, :x_hi]
    g = g.reshape(nb, out_channels, rows, m, tiles_w, m)          # (n, o, a, r, b, q)
    dm = np.einsum("ri,noarbq,qj->ijonab", a_t, g, a_t)
    dm_tiles[...] = dm.reshape(alpha * alpha, out_channels, -1)


# --------------------------------------------------------------------------------------------
# Rows of tiles that share their columns' work (the 6x6 and 8x8 tiles)
# --------------------------------------------------------------------------------------------

@tile_function
def transform_row_by_columns(b_t_of_column, b_t_of_row, plane, i, step, tiles_w, e, v_tiles,
                             c, t):
    """V = B^T d B of the row of tiles t .. t + tiles_w - 1 whose top row is plane row i:
    e = B^T d once for every plane column under the row (neighbouring tiles share alpha -
    step of their alpha columns), then row r of each tile's e through B^T.

    b_t_of_column(plane, i, j) is B^T of plane column j from row i (alpha numbers);
    b_t_of_row(e, r, j) is B^T of e[r, j .. j + alpha - 1]; e is (alpha, row_len) scratch."""
    for j in range(e.shape[1]):
        column = b_t_of_column(plane, i, j)
        for r in range(len(column)):
            e[r, j] = column[r]
    for b in range(tiles_w):
        j = step * b
        for r in range(e.shape[0]):
            row = b_t_of_row(e, r, j)
            for q in range(len(row)):
                v_tiles[len(row) * r + q, c, t + b] = row[q]


@tile_function
def add_row_by_columns(b_of_row, b_of_column, dv_tiles, c, t, step, tiles_w, acc, plane, i):
    """B dV B^T of the row of tiles t .. t + tiles_w - 1 added into the plane from row i:
    e = dV B^T row by row; dd = B e column by column is linear, so the row's e is summed by
    plane column first (neighbouring tiles share alpha - step of their alpha columns) and B
    applied once per column.

    b_of_row(dv_tiles, c, t, r) is B of row r of tile t's dV (alpha numbers); b_of_column(acc,
    j) is B of acc's column j; acc is (alpha, row_len) scratch."""
    acc[:, :] = 0
    for b in range(tiles_w):
        j = step * b
        for r in range(acc.shape[0]):
            row = b_of_row(dv_tiles, c, t + b, r)
            for q in range(len(row)):
                acc[r, j + q] += row[q]
    for j in range(acc.shape[1]):
        column = b_of_column(acc, j)
        for r in range(len(column)):
            plane[i + r, j] += column[r]
