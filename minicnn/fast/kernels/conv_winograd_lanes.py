"""Winograd's tile transforms with the channels in vector lanes: the 6x6 tiles of F(4x4, 3x3)
and F(2x2, 5x5), and the 8x8 tiles of F(2x2, 7x7).

The per-plane kernels (minicnn/fast/kernels/conv_winograd_large.py) compute, for example,

    V[6r + q, c, t] = (B^T d B)[r, q]        (d the 6x6 input tile t of channel c)

one channel plane at a time. Each tile's 36 numbers go to 36 planes of V, and a loop that
writes (or reads) that many arrays at once stays scalar: LLVM would need a run-time overlap
check for each pair of arrays it reads and writes, and gives up past 8 ("too many memory
checks needed"). Here the channel is the innermost index instead:

    image_rows[n, y, k * C_pad + c] = X_pad[n, c, y, k]          (fill_channels_last)
    v[t, (6r + q) * C_pad + c] = (B^T d B)[r, q] of channel c   (input_transform_lanes_6)

so the same straight-line code on one tile runs for C_pad channels side by side: a tile's
numbers lie at fixed offsets from a few pointers, and the loop over the channels vectorises
(16 float32 lanes on AVX-512). The offsets are fixed only if C_pad is known when Numba
compiles: the kernels take ``blocks``, a tuple with one entry per LANE channels
(channel_blocks), whose length is part of its Numba type, so each padded channel count gets
a compiled copy of its own (~6 s for all nine kernels), kept in Numba's cache like any other.
The channels C .. C_pad - 1 hold zeros, or numbers that no product reads.

    transform      lanes kernel (6x6 / 8x8)              copy beside it (scalar)
    V = B^T d B    input_transform_lanes_6 / _8          fill_channels_last (x, NCHW ->)
    Y = A^T M A    output_transform_lanes_f4 / _5 / _7   write_channels_first (-> out, + bias)
    dM = A dY A^T  output_transform_adjoint_lanes_f4     read_channels_last (dout ->)
                   / _5 / _7
    dX += B dV B^T input_transform_adjoint_lanes_6 / _8, add_channels_first (-> dx)
                   then add_tiles_channels_last (the overlapping tiles summed)

V, Y and dM are the per-plane kernels' numbers to the last bit (the same operations in the
same order, no fastmath); dX sums the tiles in another order. On chunks that fit the L2
cache, float32, 16-128 channels, the four transforms with their copies took a third to a
half of the per-plane kernels' time (49 against 135 ns per tile and channel at 14x14;
benchmarks/winograd_layout.py, benchmarks/RESULTS.md "Winograd in vector lanes").

All are serial ``@njit(cache=True, nogil=True)`` loops; the chunks and the parts of the
batch are minicnn/fast/conv/winograd.py's.
"""

from __future__ import annotations

from numba import njit

from minicnn.fast.kernels.conv_winograd import _plane_window
from minicnn.fast.kernels.conv_winograd_large import (_a5, _a7, _a43, _at5, _at7, _at43, _b5,
                                                 _b7, _bt5, _bt7)

__all__ = ["LANE", "channel_blocks", "fill_channels_last", "input_transform_lanes_6",
           "output_transform_lanes_f4", "output_transform_lanes_5", "write_channels_first",
           "read_channels_last", "output_transform_adjoint_lanes_f4",
           "output_transform_adjoint_lanes_5", "input_transform_adjoint_lanes_6",
           "input_transform_lanes_8", "output_transform_lanes_7",
           "output_transform_adjoint_lanes_7", "input_transform_adjoint_lanes_8",
           "add_tiles_channels_last", "add_channels_first"]

# Channels per entry of ``blocks``: 8 float64 or 8 float32 numbers, so a padded count is a
# whole number of AVX-512 float64 vectors and half float32 ones.
LANE = 8


def channel_blocks(channels):
    """The tuple whose length, ceil(channels / LANE), gives the kernels C_pad = LANE * length
    as a compile-time constant."""
    return (0,) * -(-channels // LANE)


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
    c_pad = LANE * len(blocks)
    channels = x.shape[1]
    top, y_lo, y_hi, copy_w = _plane_window(x.shape[2], x.shape[3], image_rows.shape[1],
                                            image_rows.shape[2] // c_pad, a0, step, pad_h, pad_w)
    image_rows[:, :, :] = 0
    whole = channels - channels % LANE               # channels copied LANE at a time
    for m in range(image_rows.shape[0]):
        image = x[n0 + m]
        for y in range(y_lo, y_hi):
            row = image_rows[m, y - top]
            for c0 in range(0, whole, LANE):
                # eight source rows, stored eight numbers apart: one run per pixel
                s0, s1, s2, s3 = (image[c0, y], image[c0 + 1, y], image[c0 + 2, y],
                                  image[c0 + 3, y])
                s4, s5, s6, s7 = (image[c0 + 4, y], image[c0 + 5, y], image[c0 + 6, y],
                                  image[c0 + 7, y])
                for k in range(copy_w):
                    d = (pad_w + k) * c_pad + c0
                    row[d], row[d + 1], row[d + 2], row[d + 3] = s0[k], s1[k], s2[k], s3[k]
                    row[d + 4], row[d + 5], row[d + 6], row[d + 7] = s4[k], s5[k], s6[k], s7[k]
            for c in range(whole, channels):
                source = image[c, y]
                for k in range(copy_w):
                    row[(pad_w + k) * c_pad + c] = source[k]


@njit(cache=True, nogil=True)
def input_transform_lanes_6(image_rows, tile_rows, tiles_w, step, blocks, v):
    """v[t, (6r + q) * C_pad + c] = (B^T d B)[r, q] for every 6x6 tile t of the chunk and
    channel c (B^T = minicnn.fast.kernels.conv_winograd_large.B_T5), tiles ``step`` apart.

    Parameters
    ----------
    image_rows : (images, rows, row_len * C_pad) array, from fill_channels_last
    tile_rows, tiles_w : int, the chunk's tile rows per image and tile columns; tile (m, a, b)
                         is t = (m * tile_rows + a) * tiles_w + b and reads rows step*a ..
                         step*a + 5 and plane columns step*b .. step*b + 5 of image m
    step : int, the tiles' distance: 4 for F(4x4, 3x3), as minicnn runs it (2 would be
           F(2x2, 5x5)'s)
    blocks : channel_blocks(C_in), as for fill_channels_last
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
                    e00, e10, e20, e30, e40, e50 = _bt5(s0[c], s1[c], s2[c], s3[c], s4[c],
                                                        s5[c])
                    k = cp + c
                    e01, e11, e21, e31, e41, e51 = _bt5(s0[k], s1[k], s2[k], s3[k], s4[k],
                                                        s5[k])
                    k = 2 * cp + c
                    e02, e12, e22, e32, e42, e52 = _bt5(s0[k], s1[k], s2[k], s3[k], s4[k],
                                                        s5[k])
                    k = 3 * cp + c
                    e03, e13, e23, e33, e43, e53 = _bt5(s0[k], s1[k], s2[k], s3[k], s4[k],
                                                        s5[k])
                    k = 4 * cp + c
                    e04, e14, e24, e34, e44, e54 = _bt5(s0[k], s1[k], s2[k], s3[k], s4[k],
                                                        s5[k])
                    k = 5 * cp + c
                    e05, e15, e25, e35, e45, e55 = _bt5(s0[k], s1[k], s2[k], s3[k], s4[k],
                                                        s5[k])
                    # V = e B: row r of e through B^T, to positions 6r .. 6r + 5
                    (out[c], out[cp + c], out[2 * cp + c], out[3 * cp + c], out[4 * cp + c],
                     out[5 * cp + c]) = _bt5(e00, e01, e02, e03, e04, e05)
                    (out[6 * cp + c], out[7 * cp + c], out[8 * cp + c], out[9 * cp + c],
                     out[10 * cp + c], out[11 * cp + c]) = _bt5(e10, e11, e12, e13, e14, e15)
                    (out[12 * cp + c], out[13 * cp + c], out[14 * cp + c], out[15 * cp + c],
                     out[16 * cp + c], out[17 * cp + c]) = _bt5(e20, e21, e22, e23, e24, e25)
                    (out[18 * cp + c], out[19 * cp + c], out[20 * cp + c], out[21 * cp + c],
                     out[22 * cp + c], out[23 * cp + c]) = _bt5(e30, e31, e32, e33, e34, e35)
                    (out[24 * cp + c], out[25 * cp + c], out[26 * cp + c], out[27 * cp + c],
                     out[28 * cp + c], out[29 * cp + c]) = _bt5(e40, e41, e42, e43, e44, e45)
                    (out[30 * cp + c], out[31 * cp + c], out[32 * cp + c], out[33 * cp + c],
                     out[34 * cp + c], out[35 * cp + c]) = _bt5(e50, e51, e52, e53, e54, e55)
                t += 1


@njit(cache=True, nogil=True)
def output_transform_lanes_f4(m_lanes, blocks, y_lanes):
    """y_lanes[t, (4r + q) * C_pad + o] = (A^T M A)[r, q] for every tile t of the chunk and
    filter o (A^T = minicnn.fast.kernels.conv_winograd_large.A_T43): F(4x4, 3x3)'s output
    transform with the filters in vector lanes, before the bias.

    Parameters
    ----------
    m_lanes : (T, 36 * C_pad) array, M[6r + q] of filter o at m_lanes[t, (6r + q) * C_pad + o]
    blocks : channel_blocks(C_out)
    y_lanes : (T, 16 * C_pad) array to fill (write_channels_first moves it to the output)
    """
    cp = LANE * len(blocks)
    for t in range(m_lanes.shape[0]):
        tile, y = m_lanes[t], y_lanes[t]
        for o in range(cp):
            # s = A^T M: column q of M (positions q, 6 + q, .., 30 + q) through A^T
            s0 = _at43(tile[o], tile[6 * cp + o], tile[12 * cp + o], tile[18 * cp + o],
                       tile[24 * cp + o], tile[30 * cp + o])
            s1 = _at43(tile[cp + o], tile[7 * cp + o], tile[13 * cp + o], tile[19 * cp + o],
                       tile[25 * cp + o], tile[31 * cp + o])
            s2 = _at43(tile[2 * cp + o], tile[8 * cp + o], tile[14 * cp + o],
                       tile[20 * cp + o], tile[26 * cp + o], tile[32 * cp + o])
            s3 = _at43(tile[3 * cp + o], tile[9 * cp + o], tile[15 * cp + o],
                       tile[21 * cp + o], tile[27 * cp + o], tile[33 * cp + o])
            s4 = _at43(tile[4 * cp + o], tile[10 * cp + o], tile[16 * cp + o],
                       tile[22 * cp + o], tile[28 * cp + o], tile[34 * cp + o])
            s5 = _at43(tile[5 * cp + o], tile[11 * cp + o], tile[17 * cp + o],
                       tile[23 * cp + o], tile[29 * cp + o], tile[35 * cp + o])
            # Y = s A, row r to positions 4r .. 4r + 3
            y[o], y[cp + o], y[2 * cp + o], y[3 * cp + o] = _at43(s0[0], s1[0], s2[0], s3[0],
                                                                  s4[0], s5[0])
            (y[4 * cp + o], y[5 * cp + o], y[6 * cp + o], y[7 * cp + o]) = _at43(
                s0[1], s1[1], s2[1], s3[1], s4[1], s5[1])
            (y[8 * cp + o], y[9 * cp + o], y[10 * cp + o], y[11 * cp + o]) = _at43(
                s0[2], s1[2], s2[2], s3[2], s4[2], s5[2])
            (y[12 * cp + o], y[13 * cp + o], y[14 * cp + o], y[15 * cp + o]) = _at43(
                s0[3], s1[3], s2[3], s3[3], s4[3], s5[3])


@njit(cache=True, nogil=True)
def write_channels_first(y_lanes, bias, n0, n1, a0, a1, tiles_w, m, blocks, out):
    """out[n, o, m*a + r, m*b + q] = y_lanes[t, (m*r + q) * C_pad + o] + bias[o] for every
    tile t = (n, a, b) of the chunk (t as in minicnn/fast/kernels/conv_winograd.py) and the
    outputs that lie inside out.

    Parameters
    ----------
    y_lanes : (T, m*m * C_pad) array, from output_transform_lanes_f4 or _5
    bias : (C_out,) array
    n0, n1, a0, a1, tiles_w : int, the chunk
    m : int, the tiles' m x m outputs: 4 (F(4x4, 3x3)) or 2 (F(2x2, 5x5))
    blocks : channel_blocks(C_out)
    out : (N, C_out, H_out, W_out) array, written
    """
    if m == 4:                      # m as a constant in each copy: 10 % of F(4x4)'s layer
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
def output_transform_lanes_5(m_lanes, blocks, y_lanes):
    """y_lanes[t, (2r + q) * C_pad + o] = (A^T M A)[r, q] for every tile t of the chunk and
    filter o (A^T = minicnn.fast.kernels.conv_winograd_large.A_T5): F(2x2, 5x5)'s output transform
    with the filters in vector lanes, before the bias (arguments as for
    output_transform_lanes_f4; y_lanes (T, 4 * C_pad))."""
    cp = LANE * len(blocks)
    for t in range(m_lanes.shape[0]):
        tile, y = m_lanes[t], y_lanes[t]
        for o in range(cp):
            # s = A^T M: column q of M (positions q, 6 + q, .., 30 + q) through A^T
            s0_0, s1_0 = _at5(tile[o], tile[6 * cp + o], tile[12 * cp + o], tile[18 * cp + o],
                              tile[24 * cp + o], tile[30 * cp + o])
            s0_1, s1_1 = _at5(tile[cp + o], tile[7 * cp + o], tile[13 * cp + o],
                              tile[19 * cp + o], tile[25 * cp + o], tile[31 * cp + o])
            s0_2, s1_2 = _at5(tile[2 * cp + o], tile[8 * cp + o], tile[14 * cp + o],
                              tile[20 * cp + o], tile[26 * cp + o], tile[32 * cp + o])
            s0_3, s1_3 = _at5(tile[3 * cp + o], tile[9 * cp + o], tile[15 * cp + o],
                              tile[21 * cp + o], tile[27 * cp + o], tile[33 * cp + o])
            s0_4, s1_4 = _at5(tile[4 * cp + o], tile[10 * cp + o], tile[16 * cp + o],
                              tile[22 * cp + o], tile[28 * cp + o], tile[34 * cp + o])
            s0_5, s1_5 = _at5(tile[5 * cp + o], tile[11 * cp + o], tile[17 * cp + o],
                              tile[23 * cp + o], tile[29 * cp + o], tile[35 * cp + o])
            # Y = s A, row by row
            y[o], y[cp + o] = _at5(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5)
            y[2 * cp + o], y[3 * cp + o] = _at5(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5)


# --------------------------------------------------------------------------------------------
# The backward pass: dM = A dY A^T and dX += B dV B^T, the filters and channels in lanes
# --------------------------------------------------------------------------------------------

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
def output_transform_adjoint_lanes_f4(g_lanes, blocks, dm_lanes):
    """dm_lanes[t, (6r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 4x4 block in
    g_lanes (the transpose of output_transform_lanes_f4; the same numbers as
    minicnn.fast.kernels.conv_winograd_large.output_transform_adjoint_f4).

    Parameters
    ----------
    g_lanes : (T, 16 * C_pad) array, from read_channels_last
    blocks : channel_blocks(C_out)
    dm_lanes : (T, 36 * C_pad) array to fill
    """
    cp = LANE * len(blocks)
    for t in range(g_lanes.shape[0]):
        g, dm = g_lanes[t], dm_lanes[t]
        for o in range(cp):
            # e = A g: column q of the 4x4 block (positions q, 4 + q, 8 + q, 12 + q) through A
            e0 = _a43(g[o], g[4 * cp + o], g[8 * cp + o], g[12 * cp + o])
            e1 = _a43(g[cp + o], g[5 * cp + o], g[9 * cp + o], g[13 * cp + o])
            e2 = _a43(g[2 * cp + o], g[6 * cp + o], g[10 * cp + o], g[14 * cp + o])
            e3 = _a43(g[3 * cp + o], g[7 * cp + o], g[11 * cp + o], g[15 * cp + o])
            # dM = e A^T: row r of e through A, to positions 6r .. 6r + 5
            _store_row6(dm, 0, cp, o, _a43(e0[0], e1[0], e2[0], e3[0]))
            _store_row6(dm, 1, cp, o, _a43(e0[1], e1[1], e2[1], e3[1]))
            _store_row6(dm, 2, cp, o, _a43(e0[2], e1[2], e2[2], e3[2]))
            _store_row6(dm, 3, cp, o, _a43(e0[3], e1[3], e2[3], e3[3]))
            _store_row6(dm, 4, cp, o, _a43(e0[4], e1[4], e2[4], e3[4]))
            _store_row6(dm, 5, cp, o, _a43(e0[5], e1[5], e2[5], e3[5]))


@njit(cache=True, nogil=True)
def output_transform_adjoint_lanes_5(g_lanes, blocks, dm_lanes):
    """dm_lanes[t, (6r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 2x2 block in
    g_lanes (A^T = A_T5; the transpose of output_transform_lanes_5, the same numbers as
    minicnn.fast.kernels.conv_winograd_large.output_transform_adjoint_5; g_lanes (T, 4 * C_pad))."""
    cp = LANE * len(blocks)
    for t in range(g_lanes.shape[0]):
        g, dm = g_lanes[t], dm_lanes[t]
        for o in range(cp):
            # e = A g, column by column (positions q and 2 + q); then dM = e A^T, row by row
            e0 = _a5(g[o], g[2 * cp + o])
            e1 = _a5(g[cp + o], g[3 * cp + o])
            _store_row6(dm, 0, cp, o, _a5(e0[0], e1[0]))
            _store_row6(dm, 1, cp, o, _a5(e0[1], e1[1]))
            _store_row6(dm, 2, cp, o, _a5(e0[2], e1[2]))
            _store_row6(dm, 3, cp, o, _a5(e0[3], e1[3]))
            _store_row6(dm, 4, cp, o, _a5(e0[4], e1[4]))
            _store_row6(dm, 5, cp, o, _a5(e0[5], e1[5]))


@njit(cache=True, inline="always")
def _store_row6(tile, r, cp, c, row):
    """tile[(6r + q) * cp + c] = row[q], q = 0 .. 5."""
    base = 6 * r * cp + c
    (tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
     tile[base + 4 * cp], tile[base + 5 * cp]) = row


@njit(cache=True, inline="always")
def _store_column6(tile, q, cp, c, column):
    """tile[(6r + q) * cp + c] = column[r], r = 0 .. 5."""
    base = q * cp + c
    (tile[base], tile[base + 6 * cp], tile[base + 12 * cp], tile[base + 18 * cp],
     tile[base + 24 * cp], tile[base + 30 * cp]) = column


@njit(cache=True, inline="always")
def _b5_row6(tile, r, cp, c):
    """Row r of the tile through B: _b5 of tile[(6r + q) * cp + c], q = 0 .. 5."""
    base = 6 * r * cp + c
    return _b5(tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
               tile[base + 4 * cp], tile[base + 5 * cp])


@njit(cache=True, nogil=True)
def input_transform_adjoint_lanes_6(dv_lanes, blocks, dd_lanes):
    """dd_lanes[t, (6r + q) * C_pad + c] = (B dV B^T)[r, q] for every tile t, the transpose of
    input_transform_lanes_6 tile by tile (add_tiles_channels_last then sums the overlapping
    tiles).

    Parameters
    ----------
    dv_lanes : (T, 36 * C_pad) array, dL/dV
    blocks : channel_blocks(C_in)
    dd_lanes : (T, 36 * C_pad) array to fill
    """
    cp = LANE * len(blocks)
    for t in range(dv_lanes.shape[0]):
        dv, dd = dv_lanes[t], dd_lanes[t]
        for c in range(cp):
            # e = dV B^T, row by row; then dd = B e, column by column
            e0, e1, e2 = _b5_row6(dv, 0, cp, c), _b5_row6(dv, 1, cp, c), _b5_row6(dv, 2, cp, c)
            e3, e4, e5 = _b5_row6(dv, 3, cp, c), _b5_row6(dv, 4, cp, c), _b5_row6(dv, 5, cp, c)
            _store_column6(dd, 0, cp, c, _b5(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0]))
            _store_column6(dd, 1, cp, c, _b5(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1]))
            _store_column6(dd, 2, cp, c, _b5(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2]))
            _store_column6(dd, 3, cp, c, _b5(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3]))
            _store_column6(dd, 4, cp, c, _b5(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4]))
            _store_column6(dd, 5, cp, c, _b5(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5]))


# --------------------------------------------------------------------------------------------
# F(2x2, 7x7): 8x8 tiles, two apart (B^T = B_T7, A^T = A_T7 of conv_winograd_large.py)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _bt7_at(flat, first, row_len, k):
    """B_T7 @ the eight numbers flat[first + y * row_len + k], y = 0 .. 7: a tile's column
    (one channel) through B^T, read from the image's rows as one 1-d array (eight row views
    would be eight pointers for LLVM to check against the stores, and it checks at most 8)."""
    return _bt7(flat[first + k], flat[first + row_len + k], flat[first + 2 * row_len + k],
                flat[first + 3 * row_len + k], flat[first + 4 * row_len + k],
                flat[first + 5 * row_len + k], flat[first + 6 * row_len + k],
                flat[first + 7 * row_len + k])


@njit(cache=True, inline="always")
def _store_row8(tile, r, cp, c, row):
    """tile[(8r + q) * cp + c] = row[q], q = 0 .. 7."""
    base = 8 * r * cp + c
    (tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
     tile[base + 4 * cp], tile[base + 5 * cp], tile[base + 6 * cp], tile[base + 7 * cp]) = row


@njit(cache=True, inline="always")
def _store_column8(tile, q, cp, c, column):
    """tile[(8r + q) * cp + c] = column[r], r = 0 .. 7."""
    base = q * cp + c
    (tile[base], tile[base + 8 * cp], tile[base + 16 * cp], tile[base + 24 * cp],
     tile[base + 32 * cp], tile[base + 40 * cp], tile[base + 48 * cp],
     tile[base + 56 * cp]) = column


@njit(cache=True, inline="always")
def _b7_row8(tile, r, cp, c):
    """Row r of the tile through B: _b7 of tile[(8r + q) * cp + c], q = 0 .. 7."""
    base = 8 * r * cp + c
    return _b7(tile[base], tile[base + cp], tile[base + 2 * cp], tile[base + 3 * cp],
               tile[base + 4 * cp], tile[base + 5 * cp], tile[base + 6 * cp],
               tile[base + 7 * cp])


@njit(cache=True, inline="always")
def _at7_column8(tile, q, cp, o):
    """Column q of the tile through A^T: _at7 of tile[(8r + q) * cp + o], r = 0 .. 7."""
    base = q * cp + o
    return _at7(tile[base], tile[base + 8 * cp], tile[base + 16 * cp], tile[base + 24 * cp],
                tile[base + 32 * cp], tile[base + 40 * cp], tile[base + 48 * cp],
                tile[base + 56 * cp])


@njit(cache=True, nogil=True)
def input_transform_lanes_8(image_rows, tile_rows, tiles_w, step, blocks, v):
    """v[t, (8r + q) * C_pad + c] = (B^T d B)[r, q] for every 8x8 tile t of the chunk and
    channel c, tiles ``step`` (2) apart: F(2x2, 7x7)'s input transform, the same numbers as
    minicnn.fast.kernels.conv_winograd_large.input_transform_7 (arguments as for
    input_transform_lanes_6; v (T, 64 * C_pad))."""
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
                    e0 = _bt7_at(flat, first, row_len, c)
                    e1 = _bt7_at(flat, first, row_len, cp + c)
                    e2 = _bt7_at(flat, first, row_len, 2 * cp + c)
                    e3 = _bt7_at(flat, first, row_len, 3 * cp + c)
                    e4 = _bt7_at(flat, first, row_len, 4 * cp + c)
                    e5 = _bt7_at(flat, first, row_len, 5 * cp + c)
                    e6 = _bt7_at(flat, first, row_len, 6 * cp + c)
                    e7 = _bt7_at(flat, first, row_len, 7 * cp + c)
                    # V = e B: row r of e through B^T
                    _store_row8(out, 0, cp, c, _bt7(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0],
                                                    e6[0], e7[0]))
                    _store_row8(out, 1, cp, c, _bt7(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1],
                                                    e6[1], e7[1]))
                    _store_row8(out, 2, cp, c, _bt7(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2],
                                                    e6[2], e7[2]))
                    _store_row8(out, 3, cp, c, _bt7(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3],
                                                    e6[3], e7[3]))
                    _store_row8(out, 4, cp, c, _bt7(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4],
                                                    e6[4], e7[4]))
                    _store_row8(out, 5, cp, c, _bt7(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5],
                                                    e6[5], e7[5]))
                    _store_row8(out, 6, cp, c, _bt7(e0[6], e1[6], e2[6], e3[6], e4[6], e5[6],
                                                    e6[6], e7[6]))
                    _store_row8(out, 7, cp, c, _bt7(e0[7], e1[7], e2[7], e3[7], e4[7], e5[7],
                                                    e6[7], e7[7]))
                t += 1


@njit(cache=True, nogil=True)
def output_transform_lanes_7(m_lanes, blocks, y_lanes):
    """y_lanes[t, (2r + q) * C_pad + o] = (A^T M A)[r, q] for every 8x8 tile t and filter o:
    F(2x2, 7x7)'s output transform, the same numbers as
    minicnn.fast.kernels.conv_winograd_large.output_transform_7 before the bias (m_lanes (T, 64 *
    C_pad), y_lanes (T, 4 * C_pad))."""
    cp = LANE * len(blocks)
    for t in range(m_lanes.shape[0]):
        tile, y = m_lanes[t], y_lanes[t]
        for o in range(cp):
            # s = A^T M, column by column; then Y = s A, row by row
            s0_0, s1_0 = _at7_column8(tile, 0, cp, o)
            s0_1, s1_1 = _at7_column8(tile, 1, cp, o)
            s0_2, s1_2 = _at7_column8(tile, 2, cp, o)
            s0_3, s1_3 = _at7_column8(tile, 3, cp, o)
            s0_4, s1_4 = _at7_column8(tile, 4, cp, o)
            s0_5, s1_5 = _at7_column8(tile, 5, cp, o)
            s0_6, s1_6 = _at7_column8(tile, 6, cp, o)
            s0_7, s1_7 = _at7_column8(tile, 7, cp, o)
            y[o], y[cp + o] = _at7(s0_0, s0_1, s0_2, s0_3, s0_4, s0_5, s0_6, s0_7)
            y[2 * cp + o], y[3 * cp + o] = _at7(s1_0, s1_1, s1_2, s1_3, s1_4, s1_5, s1_6, s1_7)


@njit(cache=True, nogil=True)
def output_transform_adjoint_lanes_7(g_lanes, blocks, dm_lanes):
    """dm_lanes[t, (8r + q) * C_pad + o] = (A dY A^T)[r, q], dY the tile's 2x2 block in
    g_lanes: the transpose of output_transform_lanes_7, the same numbers as
    minicnn.fast.kernels.conv_winograd_large.output_transform_adjoint_7 (g_lanes (T, 4 * C_pad),
    dm_lanes (T, 64 * C_pad))."""
    cp = LANE * len(blocks)
    for t in range(g_lanes.shape[0]):
        g, dm = g_lanes[t], dm_lanes[t]
        for o in range(cp):
            # e = A g, column by column (positions q and 2 + q); then dM = e A^T, row by row
            e0 = _a7(g[o], g[2 * cp + o])
            e1 = _a7(g[cp + o], g[3 * cp + o])
            _store_row8(dm, 0, cp, o, _a7(e0[0], e1[0]))
            _store_row8(dm, 1, cp, o, _a7(e0[1], e1[1]))
            _store_row8(dm, 2, cp, o, _a7(e0[2], e1[2]))
            _store_row8(dm, 3, cp, o, _a7(e0[3], e1[3]))
            _store_row8(dm, 4, cp, o, _a7(e0[4], e1[4]))
            _store_row8(dm, 5, cp, o, _a7(e0[5], e1[5]))
            _store_row8(dm, 6, cp, o, _a7(e0[6], e1[6]))
            _store_row8(dm, 7, cp, o, _a7(e0[7], e1[7]))


@njit(cache=True, nogil=True)
def input_transform_adjoint_lanes_8(dv_lanes, blocks, dd_lanes):
    """dd_lanes[t, (8r + q) * C_pad + c] = (B dV B^T)[r, q] for every 8x8 tile t, the
    transpose of input_transform_lanes_8 tile by tile (add_tiles_channels_last then sums the
    overlapping tiles; dv_lanes and dd_lanes (T, 64 * C_pad))."""
    cp = LANE * len(blocks)
    for t in range(dv_lanes.shape[0]):
        dv, dd = dv_lanes[t], dd_lanes[t]
        for c in range(cp):
            # e = dV B^T, row by row; then dd = B e, column by column
            e0, e1 = _b7_row8(dv, 0, cp, c), _b7_row8(dv, 1, cp, c)
            e2, e3 = _b7_row8(dv, 2, cp, c), _b7_row8(dv, 3, cp, c)
            e4, e5 = _b7_row8(dv, 4, cp, c), _b7_row8(dv, 5, cp, c)
            e6, e7 = _b7_row8(dv, 6, cp, c), _b7_row8(dv, 7, cp, c)
            _store_column8(dd, 0, cp, c, _b7(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0], e6[0],
                                             e7[0]))
            _store_column8(dd, 1, cp, c, _b7(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1], e6[1],
                                             e7[1]))
            _store_column8(dd, 2, cp, c, _b7(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2], e6[2],
                                             e7[2]))
            _store_column8(dd, 3, cp, c, _b7(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3], e6[3],
                                             e7[3]))
            _store_column8(dd, 4, cp, c, _b7(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4], e6[4],
                                             e7[4]))
            _store_column8(dd, 5, cp, c, _b7(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5], e6[5],
                                             e7[5]))
            _store_column8(dd, 6, cp, c, _b7(e0[6], e1[6], e2[6], e3[6], e4[6], e5[6], e6[6],
                                             e7[6]))
            _store_column8(dd, 7, cp, c, _b7(e0[7], e1[7], e2[7], e3[7], e4[7], e5[7], e6[7],
                                             e7[7]))


@njit(cache=True, nogil=True)
def add_tiles_channels_last(dd_lanes, tile_rows, tiles_w, step, blocks, image_rows):
    """image_rows[m, step*a + r, (step*b + q) * C_pad + c] = the sum of dd_lanes[t, (s*r + q)
    * C_pad + c] over the tiles t = (m, a, b) that cover that number (s x s tiles, s = 6 or 8,
    neighbouring tiles overlap by s - step rows and columns): the transpose of
    input_transform_lanes_6's or _8's reads.

    Parameters
    ----------
    dd_lanes : (T, s*s * C_pad) array, from input_transform_adjoint_lanes_6 or _8
    tile_rows, tiles_w, step, blocks : as for input_transform_lanes_6
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
    c_pad = LANE * len(blocks)
    channels = dx.shape[1]
    top, y_lo, y_hi, copy_w = _plane_window(dx.shape[2], dx.shape[3], image_rows.shape[1],
                                            image_rows.shape[2] // c_pad, a0, step, pad_h, pad_w)
    whole = channels - channels % LANE
    for m in range(image_rows.shape[0]):
        image = dx[n0 + m]
        for y in range(y_lo, y_hi):
            row = image_rows[m, y - top]
            for c0 in range(0, whole, LANE):
                d0, d1, d2, d3 = (image[c0, y], image[c0 + 1, y], image[c0 + 2, y],
                                  image[c0 + 3, y])
                d4, d5, d6, d7 = (image[c0 + 4, y], image[c0 + 5, y], image[c0 + 6, y],
                                  image[c0 + 7, y])
                for k in range(copy_w):
                    s = (pad_w + k) * c_pad + c0
                    d0[k] += row[s]
                    d1[k] += row[s + 1]
                    d2[k] += row[s + 2]
                    d3[k] += row[s + 3]
                    d4[k] += row[s + 4]
                    d5[k] += row[s + 5]
                    d6[k] += row[s + 6]
                    d7[k] += row[s + 7]
            for c in range(whole, channels):
                destination = image[c, y]
                for k in range(copy_w):
                    destination[k] += row[(pad_w + k) * c_pad + c]
