"""The direct 5x5 convolution (padding 2, stride 1) on flat padded planes, vectorised by Numba.

The lecture's sum for a 5x5 filter,

    Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] * X_pad[n, c, i + u, j + v],   u, v < 5,

on X padded by two. Each channel c is one flat plane holding the images one after another
(minicnn/fast/conv/direct.py, flat_planes with padding 2): pitch = W + 2 numbers a row,
image_size = (H + 2) * pitch an image, the image at rows and columns 2.. of its block and
zero elsewhere, so that

    X_pad[n, c, y, k] = planes[c, n * image_size + y * pitch + k],   y < H + 4, k < W + 4:

the two zero columns that open each row are the right padding of the row before and the
left padding of their own, and the two zero rows that open each image the bottom padding of
the image before and the top padding of their own (reads past the last image land on the
planes' trailing zeros). Output (n, i, j) sits at flat position
f = n * image_size + i * pitch + j, and its 25 inputs are planes[c, f + u * pitch + v].

For one filter row u, the five taps of a channel are five 1-d views of its plane, starting
u * pitch + v after the first position, and

    out[o, f] += sum_v W[o, c, u, v] * planes[c, f + u * pitch + v]

is a loop over f of straight-line code that LLVM vectorises (16 float32 lanes a step on this
machine): every read is contiguous in f. Four output channels share each loop (every input
read serves four multiply-adds), the last O % 4 in a pair and then one at a time; a loop
holds a row of taps, not all 25, so that its 20 filter numbers, five inputs and four sums
stay in registers. Positions with j >= W (the rest of each row) and the two rows between
images are computed too and thrown away (image_size / (H W) extra work for a branch-free
loop).

dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, i + u, j + v] is the same walk:
with dZ in the same flat layout (zero at the positions that are not outputs), one row of taps
and two output channels per loop, ten sums in vector registers. dL/dX for stride 1 is the
forward correlation again (dZ padded by two, the filters transposed and turned by 180
degrees: minicnn/fast/conv/direct.py).

    Numba kernel           NumPy twin                   what it computes
    correlate_5x5          correlate_5x5_numpy          out[o] = sum_c W[o, c] (*) channel c
    weight_gradient_5x5    weight_gradient_5x5_numpy    dW[o, c, u, v] = grad[o] . tap (u, v)

Both are serial ``@njit(cache=True, nogil=True)`` loops over a range of images, so
minicnn/fast/conv/direct.py can run parts of the batch on threads at once. The 3x3 kernels
(padding 1, stride 1 or 2) are in conv_direct.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from minicnn.fast.kernels.conv_direct import OUT_BLOCK, SUM_BYTES, copy_out

__all__ = ["correlate_5x5", "correlate_5x5_numpy", "weight_gradient_5x5",
           "weight_gradient_5x5_numpy"]


@njit(cache=True, inline="always")
def _tap_row(planes, c, base, pitch, u):
    """The five taps (u, 0..4) of channel c from flat position ``base`` on, as 1-d views
    indexed from 0 (which is what lets LLVM vectorise the loops over f)."""
    start = base + u * pitch
    return (planes[c, start:], planes[c, start + 1:], planes[c, start + 2:],
            planes[c, start + 3:], planes[c, start + 4:])


@njit(cache=True, inline="always")
def _filter_row(weight, o, c, u):
    """W[o, c, u, 0..4]."""
    return (weight[o, c, u, 0], weight[o, c, u, 1], weight[o, c, u, 2], weight[o, c, u, 3],
            weight[o, c, u, 4])


@njit(cache=True, nogil=True, fastmath={"contract"})
def correlate_5x5(planes, weight, bias, pitch, image_size, n0, n1, out):
    """out[n, o, i, j] = sum_c sum_(u, v) weight[o, c, u, v] * X_pad[n, c, i + u, j + v]
                         + bias[o]

    for the images n0 .. n1-1 (the other images of ``out`` are left as they were), X_pad (X
    padded by two) read from its flat planes as the module docstring says.

    A group of images at a time (about SUM_BYTES of sums for OUT_BLOCK output channels), the
    sums run over the group's flat positions in one loop per input channel and filter row,
    OUT_BLOCK output channels per loop, then a pair, then one; the positions that are
    outputs are then copied out, plus the bias.

    Parameters
    ----------
    planes : (C, L) C-contiguous array, the input channels as flat planes with padding 2,
             L >= n1 * image_size + 4 * pitch + 4
    weight : (O, C, 5, 5) C-contiguous array
    bias : (O,) array
    pitch, image_size : int, W_out + 2 and (H_out + 2) * pitch
    n0, n1 : int, the images to compute
    out : (N, O, H_out, W_out) array, written
    """
    out_channels, out_h = out.shape[1], out.shape[2]
    group = max(1, SUM_BYTES // (OUT_BLOCK * image_size * out.itemsize))
    sums = np.empty((OUT_BLOCK, min(group, n1 - n0) * image_size), dtype=out.dtype)
    for g0 in range(n0, n1, group):
        g1 = min(n1, g0 + group)
        base = g0 * image_size
        # flat positions of images g0 .. g1-1 up to the last one's last output row
        span = (g1 - g0 - 1) * image_size + out_h * pitch
        o = 0
        while o < out_channels:
            count = min(OUT_BLOCK, out_channels - o)
            if count == OUT_BLOCK:
                _sum_four(planes, weight, o, base, pitch, span, sums)
            elif count >= 2:
                count = 2
                _sum_two(planes, weight, o, base, pitch, span, sums)
            else:
                _sum_one(planes, weight, o, base, pitch, span, sums[0])
            for k in range(count):
                copy_out(sums[k], bias[o + k], pitch, image_size, g0, g1, out, o + k)
            o += count


@njit(cache=True, inline="always")
def _sum_four(planes, weight, o, base, pitch, span, sums):
    """sums[k, f] = sum_c sum_(u, v) weight[o + k, c, u, v] * planes[c, base + f + u * pitch
    + v] for k < 4 and f < span: every input read serves four multiply-adds."""
    sum0, sum1, sum2, sum3 = sums[0], sums[1], sums[2], sums[3]
    for f in range(span):
        sum0[f] = 0
        sum1[f] = 0
        sum2[f] = 0
        sum3[f] = 0
    for c in range(planes.shape[0]):
        for u in range(5):
            t0, t1, t2, t3, t4 = _tap_row(planes, c, base, pitch, u)
            a0, a1, a2, a3, a4 = _filter_row(weight, o, c, u)
            b0, b1, b2, b3, b4 = _filter_row(weight, o + 1, c, u)
            c0, c1, c2, c3, c4 = _filter_row(weight, o + 2, c, u)
            d0, d1, d2, d3, d4 = _filter_row(weight, o + 3, c, u)
            for f in range(span):
                x0, x1, x2, x3, x4 = t0[f], t1[f], t2[f], t3[f], t4[f]
                sum0[f] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3 + a4 * x4
                sum1[f] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3 + b4 * x4
                sum2[f] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3 + c4 * x4
                sum3[f] += d0 * x0 + d1 * x1 + d2 * x2 + d3 * x3 + d4 * x4


@njit(cache=True, inline="always")
def _sum_two(planes, weight, o, base, pitch, span, sums):
    """_sum_four for two output channels (LeNet-5's 1 -> 6 is a block of four and a pair,
    whose every input read then serves two multiply-adds, not one)."""
    sum0, sum1 = sums[0], sums[1]
    for f in range(span):
        sum0[f] = 0
        sum1[f] = 0
    for c in range(planes.shape[0]):
        for u in range(5):
            t0, t1, t2, t3, t4 = _tap_row(planes, c, base, pitch, u)
            a0, a1, a2, a3, a4 = _filter_row(weight, o, c, u)
            b0, b1, b2, b3, b4 = _filter_row(weight, o + 1, c, u)
            for f in range(span):
                x0, x1, x2, x3, x4 = t0[f], t1[f], t2[f], t3[f], t4[f]
                sum0[f] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3 + a4 * x4
                sum1[f] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3 + b4 * x4


@njit(cache=True, inline="always")
def _sum_one(planes, weight, o, base, pitch, span, sum0):
    """_sum_four for one output channel."""
    for f in range(span):
        sum0[f] = 0
    for c in range(planes.shape[0]):
        for u in range(5):
            t0, t1, t2, t3, t4 = _tap_row(planes, c, base, pitch, u)
            a0, a1, a2, a3, a4 = _filter_row(weight, o, c, u)
            for f in range(span):
                sum0[f] += a0 * t0[f] + a1 * t1[f] + a2 * t2[f] + a3 * t3[f] + a4 * t4[f]


def correlate_5x5_numpy(planes, weight, bias, pitch, image_size, n0, n1, out):
    """NumPy twin of :func:`correlate_5x5` (same arguments, same result): one product over
    the channels per filter tap."""
    out_channels, out_h, out_w = out.shape[1:]
    span = out_h * pitch
    for n in range(n0, n1):
        sums = np.zeros((out_channels, span), dtype=out.dtype)
        for u, v in np.ndindex(5, 5):
            start = n * image_size + u * pitch + v
            sums += weight[:, :, u, v] @ planes[:, start:start + span]
        grid = sums.reshape(out_channels, out_h, pitch)[:, :, :out_w]     # (O, H_out, W_out)
        out[n] = grid + bias[:, None, None]


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def weight_gradient_5x5(planes, grad, offset, pitch, start, stop, dweight):
    """dweight[o, c, u, v] = sum_(start <= f < stop) grad[o, offset + f]
                                                     * planes[c, f + u * pitch + v]

    the correlation of each output gradient with the input planes (dL/dW of the lecture:
    dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, i + u, j + v]) when
    grad[o, offset + f] holds dZ at the flat position f of the output (n, i, j) and zero at
    every other position of [start, stop). Two output channels and one filter row (ten sums)
    share each loop; the sums are reassociated (``fastmath``) so that they run in vector
    lanes.

    Parameters
    ----------
    planes : (C, L) C-contiguous array, as for correlate_5x5, L >= stop + 4 * pitch + 4
    grad : (O, M) C-contiguous array, M >= offset + stop; O even
    offset : int, where position f = 0 lies in grad's rows
    pitch : int, the row length of the planes
    start, stop : int, the flat positions summed over (whole images: n0 * image_size ..
                  n1 * image_size)
    dweight : (O, C, 5, 5) array, written
    """
    zero = planes.dtype.type(0)
    count = stop - start
    for o in range(0, grad.shape[0], 2):
        dz0 = grad[o, offset + start:]
        dz1 = grad[o + 1, offset + start:]
        for c in range(planes.shape[0]):
            for u in range(5):
                t0, t1, t2, t3, t4 = _tap_row(planes, c, start, pitch, u)
                a0 = a1 = a2 = a3 = a4 = zero
                b0 = b1 = b2 = b3 = b4 = zero
                for f in range(count):
                    x0, x1, x2, x3, x4 = t0[f], t1[f], t2[f], t3[f], t4[f]
                    g0 = dz0[f]
                    g1 = dz1[f]
                    a0 += g0 * x0
                    a1 += g0 * x1
                    a2 += g0 * x2
                    a3 += g0 * x3
                    a4 += g0 * x4
                    b0 += g1 * x0
                    b1 += g1 * x1
                    b2 += g1 * x2
                    b3 += g1 * x3
                    b4 += g1 * x4
                _store_row(dweight, o, c, u, a0, a1, a2, a3, a4)
                _store_row(dweight, o + 1, c, u, b0, b1, b2, b3, b4)


@njit(cache=True, inline="always")
def _store_row(dweight, o, c, u, s0, s1, s2, s3, s4):
    """dweight[o, c, u] = the five sums."""
    row = dweight[o, c, u]
    row[0], row[1], row[2], row[3], row[4] = s0, s1, s2, s3, s4


def weight_gradient_5x5_numpy(planes, grad, offset, pitch, start, stop, dweight):
    """NumPy twin of :func:`weight_gradient_5x5`: one product over the positions per tap."""
    dz = grad[:, offset + start:offset + stop]                          # (O, stop - start)
    for u, v in np.ndindex(5, 5):
        first = start + u * pitch + v
        dweight[:, :, u, v] = dz @ planes[:, first:first + stop - start].T
