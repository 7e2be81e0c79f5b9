"""The direct 3x3 convolution on flat padded planes: the lecture's sum, vectorised by Numba.

The lecture's sum for a 3x3 filter, stride 1,

    Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] * X_pad[n, c, i + u, j + v],

needs nothing but multiply-adds once X_pad is laid out so that the nine neighbours of every
output are a fixed distance apart in memory. Here each channel c is one flat plane holding
the padded images one after another, ``pitch`` numbers a row, ``image_size`` an image
(minicnn/functional/conv_direct.py, flat_planes: one zero column between neighbouring rows
and one zero row between neighbouring images serve as the padding on both sides):

    planes[c, n * image_size + y * pitch + k] = X_pad[n, c, y, k],

and output (n, i, j) sits at the same flat position f = n * image_size + i * pitch + j, so
its nine inputs are planes[c, f + u * pitch + v]. For one output channel o the sum over one
input channel c is then a single loop over f,

    out[o, f] += sum_(u, v) W[o, c, u, v] * planes[c, f + u * pitch + v],

of straight-line code that LLVM vectorises (16 float32 lanes a step on this machine) because
every read is contiguous in f. Positions with j >= W_out (the rest of each row) are computed
too and thrown away: pitch / W_out extra work for an exact, branch-free loop. Four output
channels share each loop, so every input number read serves four multiply-adds (one channel
per loop ran at 0.7 of that speed, benchmarks/RESULTS.md).

    Numba kernel            NumPy twin                   what it computes
    correlate_3x3           correlate_3x3_numpy          out[o] = sum_c W[o, c] (*) plane c
    weight_gradient_3x3     weight_gradient_3x3_numpy    dW[o, c, u, v] = grad[o] . plane c
                                                         shifted by (u, v)

The same correlation gives dL/dX (the output gradient padded the same way, the filters
transposed and turned by 180 degrees): minicnn/functional/conv_direct.py.

Both kernels are serial ``@njit(cache=True, nogil=True)`` loops over a range of images, so
minicnn/functional/conv_direct.py can run parts of the batch on threads at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["OUT_BLOCK", "SUM_BYTES", "correlate_3x3", "correlate_3x3_numpy",
           "weight_gradient_3x3", "weight_gradient_3x3_numpy"]

# Output channels computed together by correlate_3x3 (the last O % OUT_BLOCK one at a time)
OUT_BLOCK = 4
# Bytes of correlate_3x3's sums for one block of output channels: as many images at a time as
# fit, at least one (long loops over several small images; one large image stays in the L2)
SUM_BYTES = 256 << 10


@njit(cache=True, inline="always")
def _filter_rows(planes, c, base, pitch):
    """Plane c seen from each filter row u, from flat position ``base`` on: top[f],
    middle[f], bottom[f] are X_pad at (i + u, j) for u = 0, 1, 2 (1-d views, indexed from 0,
    which is what lets LLVM vectorise the loops over f)."""
    return planes[c, base:], planes[c, base + pitch:], planes[c, base + 2 * pitch:]


@njit(cache=True, inline="always")
def _filter(weight, o, c):
    """The nine taps W[o, c, u, v], row by row."""
    return (weight[o, c, 0, 0], weight[o, c, 0, 1], weight[o, c, 0, 2],
            weight[o, c, 1, 0], weight[o, c, 1, 1], weight[o, c, 1, 2],
            weight[o, c, 2, 0], weight[o, c, 2, 1], weight[o, c, 2, 2])


@njit(cache=True, nogil=True, fastmath={"contract"})
def correlate_3x3(planes, weight, bias, pitch, image_size, n0, n1, out):
    """out[n, o, i, j] = sum_c sum_(u, v) weight[o, c, u, v]
                            * planes[c, n*image_size + (i + u)*pitch + j + v] + bias[o]

    for the images n0 .. n1-1 (the other images of ``out`` are left as they were).

    A group of images at a time (about SUM_BYTES of sums for OUT_BLOCK output channels), the
    sums run over the group's flat positions in one loop per input channel, OUT_BLOCK output
    channels per loop and the last O % OUT_BLOCK one at a time; the positions that are
    outputs are then copied out, plus the bias.

    Parameters
    ----------
    planes : (C, L) C-contiguous array, the padded input channels as flat planes (see the
             module docstring), L >= n1 * image_size + 2 * pitch + 2
    weight : (O, C, 3, 3) C-contiguous array
    bias : (O,) array
    pitch, image_size : int, the padded row length and the numbers per image
    n0, n1 : int, the images to compute
    out : (N, O, H_out, W_out) array, written; W_out < pitch, H_out * pitch <= image_size
    """
    out_channels, out_h = out.shape[1], out.shape[2]
    group = max(1, SUM_BYTES // (OUT_BLOCK * image_size * out.itemsize))
    sums = np.empty((OUT_BLOCK, min(group, n1 - n0) * image_size), dtype=out.dtype)
    for g0 in range(n0, n1, group):
        g1 = min(n1, g0 + group)
        base = g0 * image_size
        # flat positions of images g0 .. g1-1 up to the last one's last output row
        span = (g1 - g0 - 1) * image_size + out_h * pitch
        for o in range(0, out_channels, OUT_BLOCK):
            count = min(OUT_BLOCK, out_channels - o)
            if count == OUT_BLOCK:
                _sum_four(planes, weight, o, base, pitch, span, sums)
            else:
                for k in range(count):
                    _sum_one(planes, weight, o + k, base, pitch, span, sums[k])
            for k in range(count):
                _copy_out(sums[k], bias[o + k], pitch, image_size, g0, g1, out, o + k)


@njit(cache=True, inline="always")
def _sum_four(planes, weight, o, base, pitch, span, sums):
    """sums[k, f] = sum_c sum_(u, v) weight[o + k, c, u, v] * planes[c, base + f + u*pitch + v]
    for k < 4 and f < span: every input read serves four multiply-adds."""
    sum0, sum1, sum2, sum3 = sums[0], sums[1], sums[2], sums[3]
    for f in range(span):
        sum0[f] = 0
        sum1[f] = 0
        sum2[f] = 0
        sum3[f] = 0
    for c in range(planes.shape[0]):
        top, middle, bottom = _filter_rows(planes, c, base, pitch)
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        b00, b01, b02, b10, b11, b12, b20, b21, b22 = _filter(weight, o + 1, c)
        c00, c01, c02, c10, c11, c12, c20, c21, c22 = _filter(weight, o + 2, c)
        d00, d01, d02, d10, d11, d12, d20, d21, d22 = _filter(weight, o + 3, c)
        for f in range(span):
            x00, x01, x02 = top[f], top[f + 1], top[f + 2]
            x10, x11, x12 = middle[f], middle[f + 1], middle[f + 2]
            x20, x21, x22 = bottom[f], bottom[f + 1], bottom[f + 2]
            sum0[f] += (a00 * x00 + a01 * x01 + a02 * x02 + a10 * x10 + a11 * x11
                        + a12 * x12 + a20 * x20 + a21 * x21 + a22 * x22)
            sum1[f] += (b00 * x00 + b01 * x01 + b02 * x02 + b10 * x10 + b11 * x11
                        + b12 * x12 + b20 * x20 + b21 * x21 + b22 * x22)
            sum2[f] += (c00 * x00 + c01 * x01 + c02 * x02 + c10 * x10 + c11 * x11
                        + c12 * x12 + c20 * x20 + c21 * x21 + c22 * x22)
            sum3[f] += (d00 * x00 + d01 * x01 + d02 * x02 + d10 * x10 + d11 * x11
                        + d12 * x12 + d20 * x20 + d21 * x21 + d22 * x22)


@njit(cache=True, inline="always")
def _sum_one(planes, weight, o, base, pitch, span, sum0):
    """sum0[f] = sum_c sum_(u, v) weight[o, c, u, v] * planes[c, base + f + u*pitch + v]
    for f < span: one output channel (the last O % OUT_BLOCK of a layer)."""
    for f in range(span):
        sum0[f] = 0
    for c in range(planes.shape[0]):
        top, middle, bottom = _filter_rows(planes, c, base, pitch)
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        for f in range(span):
            sum0[f] += (a00 * top[f] + a01 * top[f + 1] + a02 * top[f + 2]
                        + a10 * middle[f] + a11 * middle[f + 1] + a12 * middle[f + 2]
                        + a20 * bottom[f] + a21 * bottom[f + 1] + a22 * bottom[f + 2])


@njit(cache=True, inline="always")
def _copy_out(sums, shift, pitch, image_size, g0, g1, out, o):
    """out[n, o, i, j] = sums[(n - g0) * image_size + i * pitch + j] + shift for the images
    g0 .. g1-1: the positions of the flat sums that are outputs."""
    out_h, out_w = out.shape[2], out.shape[3]
    for n in range(g0, g1):
        image = out[n, o]                                            # (H_out, W_out)
        first = (n - g0) * image_size
        for i in range(out_h):
            row = sums[first + i * pitch:]
            out_row = image[i]
            for j in range(out_w):
                out_row[j] = row[j] + shift


def correlate_3x3_numpy(planes, weight, bias, pitch, image_size, n0, n1, out):
    """NumPy twin of :func:`correlate_3x3` (same arguments, same result): one product over
    the channels per filter tap."""
    out_channels, out_h, out_w = out.shape[1:]
    span = out_h * pitch
    for n in range(n0, n1):
        base = n * image_size
        sums = np.zeros((out_channels, span), dtype=out.dtype)
        for u in range(3):
            for v in range(3):
                start = base + u * pitch + v
                sums += weight[:out_channels, :, u, v] @ planes[:, start:start + span]
        grid = sums.reshape(out_channels, out_h, pitch)[:, :, :out_w]     # (O, H_out, W_out)
        out[n] = grid + bias[:, None, None]


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def weight_gradient_3x3(planes, grad, offset, pitch, start, stop, dweight):
    """dweight[o, c, u, v] = sum_(start <= f < stop) grad[o, offset + f]
                                                     * planes[c, f + u*pitch + v]

    the correlation of each output gradient with the input planes (dL/dW of the lecture:
    dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, i + u, j + v]) when
    grad[o, offset + f] holds dZ at the flat position f of the output (n, i, j) and zero at
    every other position of [start, stop). Two output channels share each loop; the sum is
    reassociated (``fastmath``) so that it runs in vector lanes.

    Parameters
    ----------
    planes : (C, L) C-contiguous array, as for correlate_3x3, L >= stop + 2 * pitch + 2
    grad : (O, M) C-contiguous array, M >= offset + stop; O even
    offset : int, where position f = 0 lies in grad's rows
    pitch : int, the padded row length
    start, stop : int, the flat positions summed over (whole images: n0 * image_size ..
                  n1 * image_size)
    dweight : (O, C, 3, 3) array, written
    """
    channels = planes.shape[0]
    zero = planes.dtype.type(0)
    count = stop - start
    for o in range(0, grad.shape[0], 2):
        dz0 = grad[o, offset + start:]
        dz1 = grad[o + 1, offset + start:]
        for c in range(channels):
            top, middle, bottom = _filter_rows(planes, c, start, pitch)
            a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = zero
            b00 = b01 = b02 = b10 = b11 = b12 = b20 = b21 = b22 = zero
            for f in range(count):
                x00, x01, x02 = top[f], top[f + 1], top[f + 2]
                x10, x11, x12 = middle[f], middle[f + 1], middle[f + 2]
                x20, x21, x22 = bottom[f], bottom[f + 1], bottom[f + 2]
                g0 = dz0[f]
                g1 = dz1[f]
                a00 += g0 * x00
                a01 += g0 * x01
                a02 += g0 * x02
                a10 += g0 * x10
                a11 += g0 * x11
                a12 += g0 * x12
                a20 += g0 * x20
                a21 += g0 * x21
                a22 += g0 * x22
                b00 += g1 * x00
                b01 += g1 * x01
                b02 += g1 * x02
                b10 += g1 * x10
                b11 += g1 * x11
                b12 += g1 * x12
                b20 += g1 * x20
                b21 += g1 * x21
                b22 += g1 * x22
            _store_filter(dweight, o, c, a00, a01, a02, a10, a11, a12, a20, a21, a22)
            _store_filter(dweight, o + 1, c, b00, b01, b02, b10, b11, b12, b20, b21, b22)


@njit(cache=True, inline="always")
def _store_filter(dweight, o, c, t00, t01, t02, t10, t11, t12, t20, t21, t22):
    """dweight[o, c] = the nine sums, row by row."""
    dweight[o, c, 0, 0], dweight[o, c, 0, 1], dweight[o, c, 0, 2] = t00, t01, t02
    dweight[o, c, 1, 0], dweight[o, c, 1, 1], dweight[o, c, 1, 2] = t10, t11, t12
    dweight[o, c, 2, 0], dweight[o, c, 2, 1], dweight[o, c, 2, 2] = t20, t21, t22


def weight_gradient_3x3_numpy(planes, grad, offset, pitch, start, stop, dweight):
    """NumPy twin of :func:`weight_gradient_3x3`: one product over the positions per tap."""
    dz = grad[:, offset + start:offset + stop]                          # (O, stop - start)
    for u in range(3):
        for v in range(3):
            first = start + u * pitch + v
            dweight[:, :, u, v] = dz @ planes[:, first:first + stop - start].T
