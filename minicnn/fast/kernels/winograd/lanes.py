"""The lanes layout: Winograd's tiles with the channels innermost, in vector lanes.

The per-plane kernels (planes.py) compute, for example,

    V[6r + q, c, t] = (B^T d B)[r, q]        (d the 6x6 input tile t of channel c)

one channel plane at a time. Each tile's 36 numbers go to 36 planes of V, and a loop that
writes (or reads) that many arrays at once stays scalar: LLVM would need a run-time overlap
check for each pair of arrays it reads and writes, and gives up past 8 ("too many memory
checks needed"). In this layout the channel is the innermost index instead:

    image_rows[n, y, k * C_pad + c] = X_pad[n, c, y, k]          (fill_channels_last)
    v[t, (6r + q) * C_pad + c] = (B^T d B)[r, q] of channel c   (an input_transform_lanes)

so the same straight-line code on one tile runs for C_pad channels side by side: a tile's
numbers lie at fixed offsets from a few pointers, and the loop over the channels vectorises
(16 float32 lanes on AVX-512). The offsets are fixed only if C_pad is known when Numba
compiles: the kernels take ``blocks``, a tuple with one entry per LANE channels
(channel_blocks), whose length is part of its Numba type, so each padded channel count gets
a compiled copy of its own, kept in Numba's cache like any other. The channels C .. C_pad - 1
hold zeros, or numbers that no product reads.

This module holds the layout: the copies between (N, C, H, W) and channels-last, the loads
and stores of a tile's rows and columns, and ``lanes_kernel``, the loop over tiles and
channels that most lanes transforms share. The transforms are their families' (f4x4_3x3.py,
f2x2_5x5.py, f2x2_7x7.py; the 6x6 input side in tiles_6x6.py):

    transform      lanes kernel                  copy beside it (here)
    V = B^T d B    input_transform_lanes         fill_channels_last (x, NCHW ->)
    Y = A^T M A    output_transform_lanes        write_channels_first (-> out, + bias)
    dM = A dY A^T  output_transform_adjoint_lanes  read_channels_last (dout ->)
    dX += B dV B^T input_transform_adjoint_lanes, add_channels_first (-> dx)
                   then add_tiles_channels_last (the overlapping tiles summed)

V, Y and dM are the per-plane kernels' numbers to the last bit (the same operations in the
same order, no fastmath); dX sums the tiles in another order. Why this layout pays:
benchmarks/winograd_layout.py, benchmarks/HISTORY.md "Winograd in vector lanes".

All are serial ``@njit(cache=True, nogil=True)`` loops; the chunks and the parts of the
batch are minicnn/fast/conv/winograd.py's.
"""

from __future__ import annotations

from numba import njit

from minicnn.fast.kernels.winograd.planes import SOURCE_STAMP, plane_window

__all__ = ["LANE", "LANES_KERNEL_NAMES", "channel_blocks", "lanes_kernel", "fill_channels_last",
           "write_channels_first", "read_channels_last", "add_tiles_channels_last",
           "add_channels_first", "store_row6", "store_column6", "store_row8", "store_column8",
           "store_rows6", "store_rows8"]

# Each family module's lanes kernels (f4x4_3x3.py, f2x2_5x5.py, f2x2_7x7.py)
LANES_KERNEL_NAMES = ["input_transform_lanes", "input_transform_adjoint_lanes",
                      "output_transform_lanes", "output_transform_adjoint_lanes"]

# Channels per entry of ``blocks``: 8 float64 or 8 float32 numbers, so a padded count is a
# whole number of AVX-512 float64 vectors and half float32 ones.
LANE = 8


def channel_blocks(channels):
    """The tuple whose length, ceil(channels / LANE), gives the kernels C_pad = LANE * length
    as a compile-time constant."""
    return (0,) * -(-channels // LANE)


def lanes_kernel(transform_tile, name, doc):
    """``kernel(source, blocks, destination)``: for every tile t and channel c < C_pad,
    transform_tile(source[t], destination[t], C_pad, c), C_pad = LANE * len(blocks) a
    compile-time constant (so the offsets k * C_pad + c are fixed and the loop over c
    vectorises). transform_tile must be made with planes.tile_function."""
    stamp = SOURCE_STAMP

    def kernel(source, blocks, destination):
        stamp               # held in the closure: see planes.py's docstring
        cp = LANE * len(blocks)
        for t in range(source.shape[0]):
            tile, result = source[t], destination[t]
            for c in range(cp):
                transform_tile(tile, result, cp, c)
    kernel.__name__, kernel.__qualname__, kernel.__doc__ = name, name, doc
    return njit(cache=True, nogil=True)(kernel)


@njit(cache=True, nogil=True)
def fill_channels_last(x, n0, a0, step, pad_h, pad_w, blocks, image_rows):
    """image_rows[n - n0, y - top, (pad_w + k) * C_pad + c] = x[n, c, y, k], zero elsewhere
    (the padding, the rows outside the image, the channels past C_in).

    Parameters
    ----------
    x : (N, C_in, H, W) array
    n0 : int, the chunk's first image (image_rows holds images n0 .. n0 + len(image_rows) - 1)
    a0 : int, the chunk's first tile row; its tiles start at input row top = step*a0 - pad_h
    step : int, the tiles' distance (4 for F(4x4, 3x3), 2 for F(2x2, 5x5))
    pad_h, pad_w : int, the zero padding on each side
    blocks : channel_blocks(C_in)
    image_rows : (images, rows, row_len * C_pad) array to fill, row_len the plane columns
    """
    image_rows[:, :, :] = 0
    _copy_channels(x, image_rows, n0, a0, step, pad_h, pad_w, blocks, True)


@njit(cache=True, inline="always")
def _copy_channels(images, image_rows, n0, a0, step, pad_h, pad_w, blocks, to_rows):
    """image_rows[n - n0, y - top, (pad_w + k) * C_pad + c] = images[n, c, y, k] if to_rows,
    else images[n, c, y, k] += that number, for the numbers inside the image (to_rows is a
    constant where this is inlined, so each copy compiles to its own loop)."""
    c_pad = LANE * len(blocks)
    channels = images.shape[1]
    top, y_lo, y_hi, copy_w = plane_window(images.shape[2], images.shape[3],
                                           image_rows.shape[1], image_rows.shape[2] // c_pad,
                                           a0, step, pad_h, pad_w)
    whole = channels - channels % LANE               # channels copied LANE at a time
    for m in range(image_rows.shape[0]):
        image = images[n0 + m]
        for y in range(y_lo, y_hi):
            row = image_rows[m, y - top]
            for c0 in range(0, whole, LANE):
                # eight image rows, stored eight numbers apart in the row: one run per pixel
                p0, p1, p2, p3 = (image[c0, y], image[c0 + 1, y], image[c0 + 2, y],
                                  image[c0 + 3, y])
                p4, p5, p6, p7 = (image[c0 + 4, y], image[c0 + 5, y], image[c0 + 6, y],
                                  image[c0 + 7, y])
                for k in range(copy_w):
                    d = (pad_w + k) * c_pad + c0
                    if to_rows:
                        row[d], row[d + 1], row[d + 2], row[d + 3] = p0[k], p1[k], p2[k], p3[k]
                        row[d + 4], row[d + 5], row[d + 6], row[d + 7] = (p4[k], p5[k], p6[k],
                                                                          p7[k])
                    else:
                        p0[k] += row[d]
                        p1[k] += row[d + 1]
                        p2[k] += row[d + 2]
                        p3[k] += row[d + 3]
                        p4[k] += row[d + 4]
                        p5[k] += row[d + 5]
                        p6[k] += row[d + 6]
                        p7[k] += row[d + 7]
            for c in range(whole, channels):
                pixels = image[c, y]
                for k in range(copy_w):
                    if to_rows:
                        row[(pad_w + k) * c_pad + c] = pixels[k]
                    else:
                        pixels[k] += row[(pad_w + k) * c_pad + c]


@njit(cache=True, nogil=True)
def write_channels_first(y_lanes, bias, n0, n1, a0, a1, tiles_w, m, blocks, out):
    """out[n, o, m*a + r, m*b + q] = y_lanes[t, (m*r + q) * C_pad + o] + bias[o] for every
    tile t = (n, a, b) of the chunk (t as in planes.py) and the outputs that lie inside
    out.

    Parameters
    ----------
    y_lanes : (T, m*m * C_pad) array, from an output_transform_lanes
    bias : (C_out,) array
    n0, n1, a0, a1, tiles_w : int, the chunk
    m : int, the tiles' m x m outputs: 4 (F(4x4, 3x3)) or 2 (F(2x2, 5x5))
    blocks : channel_blocks(C_out)
    out : (N, C_out, H_out, W_out) array, written
    """
    if m == 4:                      # m as a constant in each copy: a faster loop
        _copy_blocks(y_lanes, bias, n0, n1, a0, a1, tiles_w, 4, blocks, out, True)
    elif m == 2:
        _copy_blocks(y_lanes, bias, n0, n1, a0, a1, tiles_w, 2, blocks, out, True)
    else:
        raise ValueError("write_channels_first: m must be 2 or 4")


@njit(cache=True, inline="always")
def _copy_blocks(lanes_tiles, bias, n0, n1, a0, a1, tiles_w, m, blocks, images, to_images):
    """images[n, o, m*a + r, m*b + q] = lanes_tiles[t, (m*r + q) * C_pad + o] + bias[o] if
    to_images, else the other way round without the bias, for the chunk's tiles and the
    positions inside images (to_images and m are constants where this is inlined, so each
    copy compiles to its own loop)."""
    c_pad = LANE * len(blocks)
    channels, height, width = images.shape[1], images.shape[2], images.shape[3]
    t = 0
    for n in range(n0, n1):
        for a in range(a0, a1):
            rows = min(m, height - m * a)
            for b in range(tiles_w):
                cols = min(m, width - m * b)
                tile = lanes_tiles[t]
                for o in range(channels):
                    block = images[n, o]
                    for r in range(rows):
                        for q in range(cols):
                            if to_images:
                                block[m * a + r, m * b + q] = (tile[(m * r + q) * c_pad + o]
                                                               + bias[o])
                            else:
                                tile[(m * r + q) * c_pad + o] = block[m * a + r, m * b + q]
                t += 1


@njit(cache=True, nogil=True)
def read_channels_last(dout, n0, n1, a0, a1, tiles_w, m, blocks, g_lanes):
    """g_lanes[t, (m*r + q) * C_pad + o] = dout[n, o, m*a + r, m*b + q] for every tile t =
    (n, a, b) of the chunk, zero where the tile hangs over the output or o >= C_out (the
    transpose of write_channels_first, without the bias).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) array
    n0, n1, a0, a1, tiles_w : int, the chunk
    m : int, the tiles' m x m outputs: 4 or 2
    blocks : channel_blocks(C_out)
    g_lanes : (T, m*m * C_pad) array to fill
    """
    g_lanes[:, :] = 0
    no_bias = g_lanes[0, :0]        # _copy_blocks adds the bias only on the way to NCHW
    if m == 4:                      # m as a constant in each copy, as in write_channels_first
        _copy_blocks(g_lanes, no_bias, n0, n1, a0, a1, tiles_w, 4, blocks, dout, False)
    elif m == 2:
        _copy_blocks(g_lanes, no_bias, n0, n1, a0, a1, tiles_w, 2, blocks, dout, False)
    else:
        raise ValueError("read_channels_last: m must be 2 or 4")


@njit(cache=True, nogil=True)
def add_tiles_channels_last(dd_lanes, tile_rows, tiles_w, step, blocks, image_rows):
    """image_rows[m, step*a + r, (step*b + q) * C_pad + c] = the sum of dd_lanes[t, (s*r + q)
    * C_pad + c] over the tiles t = (m, a, b) that cover that number (s x s tiles, s = 6 or 8,
    neighbouring tiles overlap by s - step rows and columns): the transpose of
    an input_transform_lanes' reads (tiles_6x6.py, f2x2_7x7.py).

    Parameters
    ----------
    dd_lanes : (T, s*s * C_pad) array, from an input_transform_adjoint_lanes
    tile_rows, tiles_w, step, blocks : as for the input_transform_lanes
    image_rows : (images, rows, row_len * C_pad) array, overwritten (add_channels_first adds
                 it to dX)
    """
    cp = LANE * len(blocks)
    size = 6 if dd_lanes.shape[1] == 36 * cp else 8
    image_rows[:, :, :] = 0
    t = 0
    for m in range(image_rows.shape[0]):
        for a in range(tile_rows):
            for b in range(tiles_w):
                tile = dd_lanes[t]
                for r in range(size):
                    # a tile row's s * C_pad numbers onto the image row's, one run
                    row = image_rows[m, step * a + r, step * b * cp:]
                    source = tile[size * r * cp:]
                    for k in range(size * cp):
                        row[k] += source[k]
                t += 1


@njit(cache=True, nogil=True)
def add_channels_first(image_rows, n0, a0, step, pad_h, pad_w, blocks, dx):
    """dx[n, c, y, k] += image_rows[n - n0, y - top, (pad_w + k) * C_pad + c] for the numbers
    inside the image (the transpose of fill_channels_last: gradient on the padding is
    dropped; arguments as there).

    Parameters
    ----------
    image_rows : (images, rows, row_len * C_pad) array, from add_tiles_channels_last
    n0, a0, step, pad_h, pad_w, blocks : as for fill_channels_last
    dx : (N, C_in, H, W) array, added into
    """
    _copy_channels(dx, image_rows, n0, a0, step, pad_h, pad_w, blocks, False)


# --------------------------------------------------------------------------------------------
# A tile's rows and columns: the s x s numbers of one channel at tile[(s*r + q) * cp + c]
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def store_row6(tile, r, cp, c, row):
    """tile[(6r + q) * cp + c] = row[q], q = 0 .. 5."""
    base = 6 * r * cp + c
    (tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
     tile[base + 4 * cp], tile[base + 5 * cp]) = row


@njit(cache=True, inline="always")
def store_column6(tile, q, cp, c, column):
    """tile[(6r + q) * cp + c] = column[r], r = 0 .. 5."""
    base = q * cp + c
    (tile[base], tile[base + 6 * cp], tile[base + 12 * cp], tile[base + 18 * cp],
     tile[base + 24 * cp], tile[base + 30 * cp]) = column


@njit(cache=True, inline="always")
def store_row8(tile, r, cp, c, row):
    """tile[(8r + q) * cp + c] = row[q], q = 0 .. 7."""
    base = 8 * r * cp + c
    (tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
     tile[base + 4 * cp], tile[base + 5 * cp], tile[base + 6 * cp], tile[base + 7 * cp]) = row


@njit(cache=True, inline="always")
def store_column8(tile, q, cp, c, column):
    """tile[(8r + q) * cp + c] = column[r], r = 0 .. 7."""
    base = q * cp + c
    (tile[base], tile[base + 8 * cp], tile[base + 16 * cp], tile[base + 24 * cp],
     tile[base + 32 * cp], tile[base + 40 * cp], tile[base + 48 * cp],
     tile[base + 56 * cp]) = column


@njit(cache=True, inline="always")
def store_rows6(tile, cp, c, row0, row1, row2, row3, row4, row5):
    """The six rows of a 6x6 tile: tile[(6r + q) * cp + c] = row_r[q]."""
    store_row6(tile, 0, cp, c, row0)
    store_row6(tile, 1, cp, c, row1)
    store_row6(tile, 2, cp, c, row2)
    store_row6(tile, 3, cp, c, row3)
    store_row6(tile, 4, cp, c, row4)
    store_row6(tile, 5, cp, c, row5)


@njit(cache=True, inline="always")
def store_rows8(tile, cp, c, row0, row1, row2, row3, row4, row5, row6, row7):
    """The eight rows of an 8x8 tile: tile[(8r + q) * cp + c] = row_r[q]."""
    store_row8(tile, 0, cp, c, row0)
    store_row8(tile, 1, cp, c, row1)
    store_row8(tile, 2, cp, c, row2)
    store_row8(tile, 3, cp, c, row3)
    store_row8(tile, 4, cp, c, row4)
    store_row8(tile, 5, cp, c, row5)
    store_row8(tile, 6, cp, c, row6)
    store_row8(tile, 7, cp, c, row7)
