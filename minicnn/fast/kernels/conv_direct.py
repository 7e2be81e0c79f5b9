"""The direct 3x3 convolution on flat padded planes: the lecture's sum, vectorised by Numba.

The lecture's sum for a 3x3 filter,

    Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] * X_pad[n, c, s*i + u, s*j + v],

needs nothing but multiply-adds once X_pad is laid out so that the nine neighbours of every
output are a fixed distance apart in memory. For stride s = 1 each channel c is one flat plane
holding the padded images one after another, ``pitch`` numbers a row, ``image_size`` an image
(minicnn/fast/conv/direct.py, flat_planes: one zero column between neighbouring rows
and one zero row between neighbouring images serve as the padding on both sides):

    planes[0, c, n * image_size + y * pitch + k] = X_pad[n, c, y, k],

and output (n, i, j) sits at the same flat position f = n * image_size + i * pitch + j, so
its nine inputs are planes[0, c, f + u * pitch + v]. For stride 2, which reads every second
number, X_pad is split into its four **phase planes** (even or odd rows crossed with even or
odd columns; minicnn/fast/conv/direct.py, phase_planes), each laid out flat the same way with
pitch = W_out + 1:

    planes[2a + b, c, n * image_size + r * pitch + q] = X_pad[n, c, 2r + a, 2q + b],

and tap (u, v) of output f is planes[2 (u % 2) + v % 2, c, f + (u // 2) * pitch + v // 2]:
contiguous in f again. Either way _taps gives the nine taps of a channel as nine 1-d views,
and for one output channel o the sum over one input channel c is a single loop over f,

    out[o, f] += sum_(u, v) W[o, c, u, v] * tap_uv[f],

of straight-line code that LLVM vectorises (16 float32 lanes a step on this machine) because
every read is contiguous in f. Positions with j >= W_out (the rest of each row) are computed
too and thrown away: pitch / W_out extra work for an exact, branch-free loop. Four output
channels share each loop, so every input number read serves four multiply-adds (one channel
per loop ran at 0.7 of that speed, benchmarks/RESULTS.md).

dL/dX for stride 1 is the same correlation (the output gradient padded the same way, the
filters transposed and turned by 180 degrees: minicnn/fast/conv/direct.py). For stride 2
it is the transposed sum: pixel (y, k) of X_pad, in phase (a, b) = (y % 2, k % 2) at
(r, q) = (y // 2, k // 2), receives W[o, c, u, v] * dZ[n, o, i, j] from every tap with
u % 2 = a, v % 2 = b, i = r - u // 2, j = q - v // 2. The four phases take 4, 2, 2 and 1 of
the nine taps, all at the same four neighbours of dZ, so one loop computes the four phases of
one input channel (G: dZ in the stride-1 flat layout, with one zero row above and one zero
column left of each image, so G[f + pitch + 1] is dZ at (r, q) and G[f] at (r - 1, q - 1)):

    dX_00[f] = sum_o W[o,c,0,0] G[f + pitch + 1] + W[o,c,0,2] G[f + pitch]
                     + W[o,c,2,0] G[f + 1] + W[o,c,2,2] G[f]
    dX_01[f] = sum_o W[o,c,0,1] G[f + pitch + 1] + W[o,c,2,1] G[f + 1]
    dX_10[f] = sum_o W[o,c,1,0] G[f + pitch + 1] + W[o,c,1,2] G[f + pitch]
    dX_11[f] = sum_o W[o,c,1,1] G[f + pitch + 1]

on the phase grid (f = n * image_size + r * pitch + q), then interleaved into dL/dX.

    Numba kernel                  NumPy twin                       what it computes
    correlate_3x3                 correlate_3x3_numpy              out[o] = sum_c W[o, c] (*)
                                                                   channel c's taps
    weight_gradient_3x3           weight_gradient_3x3_numpy        dW[o, c, u, v] = grad[o] .
                                                                   tap (u, v) of channel c
    input_gradient_3x3_stride2    input_gradient_3x3_stride2_numpy dL/dX of stride 2

All are serial ``@njit(cache=True, nogil=True)`` loops over a range of images, so
minicnn/fast/conv/direct.py can run parts of the batch on threads at once. The 5x5 kernels
(padding 2, stride 1) are in conv_direct_5x5.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["OUT_BLOCK", "SUM_BYTES", "tap_offsets", "copy_out", "correlate_3x3",
           "correlate_3x3_numpy", "weight_gradient_3x3", "weight_gradient_3x3_numpy",
           "input_gradient_3x3_stride2", "input_gradient_3x3_stride2_numpy", "fill_phase_planes",
           "interleave_phases"]

# Output channels computed together by correlate_3x3 (the last O % OUT_BLOCK one at a time)
OUT_BLOCK = 4
# Bytes of correlate_3x3's sums for one block of output channels: as many images at a time as
# fit, at least one (long loops over several small images; one large image stays in the L2)
SUM_BYTES = 256 << 10


def tap_offsets(pitch, stride):
    """For each tap (u, v), row by row: (plane, flat offset) that it reads, (0, u * pitch + v)
    for stride 1 and (2 (u % 2) + v % 2, (u // 2) * pitch + v // 2) for stride 2 (the module
    docstring; the NumPy twins use it, _taps computes the same)."""
    return [((u % stride) * stride + v % stride, (u // stride) * pitch + v // stride)
            for u in range(3) for v in range(3)]


@njit(cache=True, inline="always")
def _tap(planes, c, base, pitch, stride, u, v):
    """Tap (u, v) of channel c from flat position ``base`` on, a 1-d view indexed from 0 (which
    is what lets LLVM vectorise the loops over f): the plane and offset of tap_offsets."""
    return planes[(u % stride) * stride + v % stride, c,
                  base + (u // stride) * pitch + v // stride:]


@njit(cache=True, inline="always")
def _taps(planes, c, base, pitch, stride):
    """The nine taps of channel c from flat position ``base`` on, row by row (_tap)."""
    return (_tap(planes, c, base, pitch, stride, 0, 0), _tap(planes, c, base, pitch, stride, 0, 1),
            _tap(planes, c, base, pitch, stride, 0, 2), _tap(planes, c, base, pitch, stride, 1, 0),
            _tap(planes, c, base, pitch, stride, 1, 1), _tap(planes, c, base, pitch, stride, 1, 2),
            _tap(planes, c, base, pitch, stride, 2, 0), _tap(planes, c, base, pitch, stride, 2, 1),
            _tap(planes, c, base, pitch, stride, 2, 2))


@njit(cache=True, inline="always")
def _filter(weight, o, c):
    """The nine taps W[o, c, u, v], row by row."""
    return (weight[o, c, 0, 0], weight[o, c, 0, 1], weight[o, c, 0, 2],
            weight[o, c, 1, 0], weight[o, c, 1, 1], weight[o, c, 1, 2],
            weight[o, c, 2, 0], weight[o, c, 2, 1], weight[o, c, 2, 2])


@njit(cache=True, nogil=True, fastmath={"contract"})
def correlate_3x3(planes, weight, bias, pitch, image_size, stride, n0, n1, out):
    """out[n, o, i, j] = sum_c sum_(u, v) weight[o, c, u, v] * X_pad[n, c, s*i + u, s*j + v]
                         + bias[o]

    for the images n0 .. n1-1 (the other images of ``out`` are left as they were), X_pad read
    from its flat planes (stride 1) or phase planes (stride 2) as the module docstring says.

    A group of images at a time (about SUM_BYTES of sums for OUT_BLOCK output channels), the
    sums run over the group's flat positions in one loop per input channel, OUT_BLOCK output
    channels per loop and the last O % OUT_BLOCK one at a time; the positions that are
    outputs are then copied out, plus the bias.

    Parameters
    ----------
    planes : (stride**2, C, L) C-contiguous array, the padded input channels as flat planes
             or phase planes (see the module docstring), L >= n1 * image_size + 2 * pitch + 2
             (stride 1) or n1 * image_size + pitch + 1 (stride 2)
    weight : (O, C, 3, 3) C-contiguous array
    bias : (O,) array
    pitch, image_size : int, the row length and the numbers per image of the planes
    stride : int, 1 or 2
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
                _sum_four(planes, weight, o, base, pitch, stride, span, sums)
            else:
                for k in range(count):
                    _sum_one(planes, weight, o + k, base, pitch, stride, span, sums[k])
            for k in range(count):
                copy_out(sums[k], bias[o + k], pitch, image_size, g0, g1, out, o + k)


@njit(cache=True, inline="always")
def _zero_four(sums, span):
    """sums[k, :span] = 0 for the four rows k of a kernel's sums (one loop for all four)."""
    row0, row1, row2, row3 = sums[0], sums[1], sums[2], sums[3]
    for f in range(span):
        row0[f] = 0
        row1[f] = 0
        row2[f] = 0
        row3[f] = 0


@njit(cache=True, inline="always")
def _sum_four(planes, weight, o, base, pitch, stride, span, sums):
    """sums[k, f] = sum_c sum_(u, v) weight[o + k, c, u, v] * (tap (u, v) of channel c at
    flat position base + f) for k < 4 and f < span: every input read serves four
    multiply-adds. Channel 0 writes the sums and the others add to them, so no pass zeroes
    them first (15 % of a one-channel layer's forward pass, benchmarks/HISTORY.md, "The first
    channel writes the sums")."""
    for c in range(planes.shape[1]):
        _taps_four(planes, weight, o, c, base, pitch, stride, span, sums, c > 0)


@njit(cache=True, inline="always")
def _taps_four(planes, weight, o, c, base, pitch, stride, span, sums, add):
    """Channel c's part of _sum_four, written into the sums (``add`` False) or added to them.
    The two loops are written out: a branch inside one keeps LLVM from vectorising it."""
    sum0, sum1, sum2, sum3 = sums[0], sums[1], sums[2], sums[3]
    t00, t01, t02, t10, t11, t12, t20, t21, t22 = _taps(planes, c, base, pitch, stride)
    a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
    b00, b01, b02, b10, b11, b12, b20, b21, b22 = _filter(weight, o + 1, c)
    c00, c01, c02, c10, c11, c12, c20, c21, c22 = _filter(weight, o + 2, c)
    d00, d01, d02, d10, d11, d12, d20, d21, d22 = _filter(weight, o + 3, c)
    if add:
        for f in range(span):
            x00, x01, x02 = t00[f], t01[f], t02[f]
            x10, x11, x12 = t10[f], t11[f], t12[f]
            x20, x21, x22 = t20[f], t21[f], t22[f]
            sum0[f] += (a00 * x00 + a01 * x01 + a02 * x02 + a10 * x10 + a11 * x11
                        + a12 * x12 + a20 * x20 + a21 * x21 + a22 * x22)
            sum1[f] += (b00 * x00 + b01 * x01 + b02 * x02 + b10 * x10 + b11 * x11
                        + b12 * x12 + b20 * x20 + b21 * x21 + b22 * x22)
            sum2[f] += (c00 * x00 + c01 * x01 + c02 * x02 + c10 * x10 + c11 * x11
                        + c12 * x12 + c20 * x20 + c21 * x21 + c22 * x22)
            sum3[f] += (d00 * x00 + d01 * x01 + d02 * x02 + d10 * x10 + d11 * x11
                        + d12 * x12 + d20 * x20 + d21 * x21 + d22 * x22)
    else:
        for f in range(span):
            x00, x01, x02 = t00[f], t01[f], t02[f]
            x10, x11, x12 = t10[f], t11[f], t12[f]
            x20, x21, x22 = t20[f], t21[f], t22[f]
            sum0[f] = (a00 * x00 + a01 * x01 + a02 * x02 + a10 * x10 + a11 * x11
                       + a12 * x12 + a20 * x20 + a21 * x21 + a22 * x22)
            sum1[f] = (b00 * x00 + b01 * x01 + b02 * x02 + b10 * x10 + b11 * x11
                       + b12 * x12 + b20 * x20 + b21 * x21 + b22 * x22)
            sum2[f] = (c00 * x00 + c01 * x01 + c02 * x02 + c10 * x10 + c11 * x11
                       + c12 * x12 + c20 * x20 + c21 * x21 + c22 * x22)
            sum3[f] = (d00 * x00 + d01 * x01 + d02 * x02 + d10 * x10 + d11 * x11
                       + d12 * x12 + d20 * x20 + d21 * x21 + d22 * x22)


@njit(cache=True, inline="always")
def _sum_one(planes, weight, o, base, pitch, stride, span, sum0):
    """sum0[f] = sum_c sum_(u, v) weight[o, c, u, v] * (tap (u, v) of channel c at flat
    position base + f) for f < span: one output channel (the last O % OUT_BLOCK of a layer).
    Channel 0 writes the sums, as in _sum_four."""
    for c in range(planes.shape[1]):
        t00, t01, t02, t10, t11, t12, t20, t21, t22 = _taps(planes, c, base, pitch, stride)
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        if c > 0:
            for f in range(span):
                sum0[f] += (a00 * t00[f] + a01 * t01[f] + a02 * t02[f]
                            + a10 * t10[f] + a11 * t11[f] + a12 * t12[f]
                            + a20 * t20[f] + a21 * t21[f] + a22 * t22[f])
        else:
            for f in range(span):
                sum0[f] = (a00 * t00[f] + a01 * t01[f] + a02 * t02[f]
                           + a10 * t10[f] + a11 * t11[f] + a12 * t12[f]
                           + a20 * t20[f] + a21 * t21[f] + a22 * t22[f])


@njit(cache=True, inline="always")
def copy_out(sums, shift, pitch, image_size, g0, g1, out, o):
    """out[n, o, i, j] = sums[(n - g0) * image_size + i * pitch + j] + shift for the images
    g0 .. g1-1: the positions of the flat sums that are outputs (for correlate_3x3 and
    conv_direct_5x5.correlate_5x5)."""
    out_h, out_w = out.shape[2], out.shape[3]
    for n in range(g0, g1):
        image = out[n, o]                                            # (H_out, W_out)
        first = (n - g0) * image_size
        for i in range(out_h):
            row = sums[first + i * pitch:]
            out_row = image[i]
            for j in range(out_w):
                out_row[j] = row[j] + shift


def correlate_3x3_numpy(planes, weight, bias, pitch, image_size, stride, n0, n1, out):
    """NumPy twin of :func:`correlate_3x3` (same arguments, same result): one product over
    the channels per filter tap."""
    out_channels, out_h, out_w = out.shape[1:]
    span = out_h * pitch
    for n in range(n0, n1):
        sums = np.zeros((out_channels, span), dtype=out.dtype)
        for (u, v), (plane, offset) in zip(np.ndindex(3, 3), tap_offsets(pitch, stride)):
            start = n * image_size + offset
            sums += weight[:out_channels, :, u, v] @ planes[plane, :, start:start + span]
        grid = sums.reshape(out_channels, out_h, pitch)[:, :, :out_w]     # (O, H_out, W_out)
        out[n] = grid + bias[:, None, None]


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def weight_gradient_3x3(planes, grad, offset, pitch, stride, start, stop, dweight):
    """dweight[o, c, u, v] = sum_(start <= f < stop) grad[o, offset + f]
                                                     * (tap (u, v) of channel c at f)

    the correlation of each output gradient with the input planes (dL/dW of the lecture:
    dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, s*i + u, s*j + v]) when
    grad[o, offset + f] holds dZ at the flat position f of the output (n, i, j) and zero at
    every other position of [start, stop). Two output channels share each loop; the sum is
    reassociated (``fastmath``) so that it runs in vector lanes.

    Parameters
    ----------
    planes : (stride**2, C, L) C-contiguous array, as for correlate_3x3,
             L >= stop + 2 * pitch + 2 (stride 1) or stop + pitch + 1 (stride 2)
    grad : (O, M) C-contiguous array, M >= offset + stop; O even
    offset : int, where position f = 0 lies in grad's rows
    pitch : int, the row length of the planes
    stride : int, 1 or 2
    start, stop : int, the flat positions summed over (whole images: n0 * image_size ..
                  n1 * image_size)
    dweight : (O, C, 3, 3) array, written
    """
    channels = planes.shape[1]
    zero = planes.dtype.type(0)
    count = stop - start
    for o in range(0, grad.shape[0], 2):
        dz0 = grad[o, offset + start:]
        dz1 = grad[o + 1, offset + start:]
        for c in range(channels):
            t00, t01, t02, t10, t11, t12, t20, t21, t22 = _taps(planes, c, start, pitch, stride)
            a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = zero
            b00 = b01 = b02 = b10 = b11 = b12 = b20 = b21 = b22 = zero
            for f in range(count):
                x00, x01, x02 = t00[f], t01[f], t02[f]
                x10, x11, x12 = t10[f], t11[f], t12[f]
                x20, x21, x22 = t20[f], t21[f], t22[f]
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


def weight_gradient_3x3_numpy(planes, grad, offset, pitch, stride, start, stop, dweight):
    """NumPy twin of :func:`weight_gradient_3x3`: one product over the positions per tap."""
    dz = grad[:, offset + start:offset + stop]                          # (O, stop - start)
    for (u, v), (plane, shift) in zip(np.ndindex(3, 3), tap_offsets(pitch, stride)):
        first = start + shift
        dweight[:, :, u, v] = dz @ planes[plane, :, first:first + stop - start].T


@njit(cache=True, nogil=True, fastmath={"contract"})
def input_gradient_3x3_stride2(grad, weight, pitch, image_size, n0, n1, dx):
    """dx[n, c, y, k] = sum_o sum_(u, v: 2i + u = y + 1, 2j + v = k + 1)
                        weight[o, c, u, v] * dZ[n, o, i, j]

    (dL/dX of the stride-2, padding-1 convolution) for the images n0 .. n1-1: the four
    phases of one input channel per loop over a group's flat positions (the module
    docstring), OUT_BLOCK dZ channels per loop and the rest one at a time, then interleaved
    into dx.

    Parameters
    ----------
    grad : (O', M) C-contiguous array, O' >= O, dZ as flat planes of pitch ``pitch`` and
           image_size numbers an image (minicnn/fast/conv/direct.py, flat_planes of dZ), image
           0 at 0, M >= n1 * image_size + pitch + 1; planes past O are not read
    weight : (O, C, 3, 3) C-contiguous array
    pitch, image_size : int, W_out + 1 and (H_out + 1) * pitch
    n0, n1 : int, the images to compute
    dx : (N, C, H, W) array, written; H_out = ceil(H / 2), W_out = ceil(W / 2)
    """
    group = max(1, SUM_BYTES // (4 * image_size * dx.itemsize))
    sums = np.empty((4, min(group, n1 - n0) * image_size), dtype=dx.dtype)
    rows = np.empty((2, 2 * sums.shape[1]), dtype=dx.dtype)     # _interleave_out's scratch
    for g0 in range(n0, n1, group):
        g1 = min(n1, g0 + group)
        span = (g1 - g0) * image_size
        for c in range(dx.shape[1]):
            _phase_sums(grad, weight, c, g0 * image_size, pitch, span, sums)
            _interleave_out((sums[0], sums[1], sums[2], sums[3]), rows, pitch, image_size,
                            g0, g1, dx, c)


@njit(cache=True, inline="always")
def _phase_sums(grad, weight, c, base, pitch, span, sums):
    """sums[2a + b, f] = phase (a, b) of dL/dX_pad for input channel c at phase-grid position
    base + f, f < span (the four sums of the module docstring)."""
    _zero_four(sums, span)
    s00, s01, s10, s11 = sums[0], sums[1], sums[2], sums[3]
    out_channels = weight.shape[0]                # grad may have one more (zero) plane
    blocked = out_channels - out_channels % OUT_BLOCK
    for o in range(0, blocked, OUT_BLOCK):
        # dZ of channels o .. o+3 at (r - 1, q - 1), (r - 1, q), (r, q - 1) and (r, q)
        g, h = grad[o, base:], grad[o + 1, base:]
        k, m = grad[o + 2, base:], grad[o + 3, base:]
        g_q, g_r, g_rq = g[1:], g[pitch:], g[pitch + 1:]
        h_q, h_r, h_rq = h[1:], h[pitch:], h[pitch + 1:]
        k_q, k_r, k_rq = k[1:], k[pitch:], k[pitch + 1:]
        m_q, m_r, m_rq = m[1:], m[pitch:], m[pitch + 1:]
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        b00, b01, b02, b10, b11, b12, b20, b21, b22 = _filter(weight, o + 1, c)
        c00, c01, c02, c10, c11, c12, c20, c21, c22 = _filter(weight, o + 2, c)
        d00, d01, d02, d10, d11, d12, d20, d21, d22 = _filter(weight, o + 3, c)
        for f in range(span):
            ga, gb, gc, gd = g_rq[f], g_r[f], g_q[f], g[f]
            ha, hb, hc, hd = h_rq[f], h_r[f], h_q[f], h[f]
            ka, kb, kc, kd = k_rq[f], k_r[f], k_q[f], k[f]
            ma, mb, mc, md = m_rq[f], m_r[f], m_q[f], m[f]
            s00[f] += (a00 * ga + a02 * gb + a20 * gc + a22 * gd
                       + b00 * ha + b02 * hb + b20 * hc + b22 * hd
                       + c00 * ka + c02 * kb + c20 * kc + c22 * kd
                       + d00 * ma + d02 * mb + d20 * mc + d22 * md)
            s01[f] += (a01 * ga + a21 * gc + b01 * ha + b21 * hc
                       + c01 * ka + c21 * kc + d01 * ma + d21 * mc)
            s10[f] += (a10 * ga + a12 * gb + b10 * ha + b12 * hb
                       + c10 * ka + c12 * kb + d10 * ma + d12 * mb)
            s11[f] += a11 * ga + b11 * ha + c11 * ka + d11 * ma
    for o in range(blocked, out_channels):
        g = grad[o, base:]
        g_q, g_r, g_rq = g[1:], g[pitch:], g[pitch + 1:]
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        for f in range(span):
            ga, gb, gc, gd = g_rq[f], g_r[f], g_q[f], g[f]
            s00[f] += a00 * ga + a02 * gb + a20 * gc + a22 * gd
            s01[f] += a01 * ga + a21 * gc
            s10[f] += a10 * ga + a12 * gb
            s11[f] += a11 * ga


@njit(cache=True, nogil=True)
def fill_phase_planes(images, phases, pitch, image_size):
    """phases[2a + b, c, n * image_size + r * pitch + q] = X_pad[n, c, 2r + a, 2q + b] for
    r * pitch + q < image_size, zero elsewhere: the four phase planes of the images (N, C, H,
    W) padded by one (minicnn/fast/conv/direct.py, phase_planes), every number of ``phases``
    (4, C, M) written once.

    One pass over x: image row y is row 2r + a = y + 1 of X_pad, whose even and odd columns
    go to phase rows (a, 0) and (a, 1) (_split_row). Four strided copies (one a phase) into
    zeroed planes read x four times and write the planes twice, which costs 2-5x more once
    x is out of the caches (benchmarks/RESULTS.md)."""
    n_batch, channels, height, width = images.shape
    rows = image_size // pitch                      # H_out + 1
    for c in range(channels):
        for n in range(n_batch):
            for r in range(rows):
                start = n * image_size + r * pitch
                for a in range(2):
                    to_even, to_odd = phases[2 * a, c, start:], phases[2 * a + 1, c, start:]
                    y = 2 * r + a - 1                   # the image row, or padding
                    if 0 <= y < height:
                        _split_row(images[n, c, y], to_even, to_odd, pitch)
                    else:
                        for q in range(pitch):
                            to_even[q] = 0
                            to_odd[q] = 0
        for p in range(4):                              # the slack past the last image
            plane = phases[p, c]
            for f in range(n_batch * image_size, plane.shape[0]):
                plane[f] = 0


@njit(cache=True, inline="always")
def _split_row(row, to_even, to_odd, pitch):
    """One row of X_pad to its two phases: to_even[q] = X_pad column 2q (the image's column
    2q - 1, padding at q = 0), to_odd[q] = column 2q + 1 (the image's column 2q), q < pitch,
    zero past the image."""
    width = row.shape[0]
    pairs = width // 2
    to_even[0] = 0
    for m in range(pairs):
        to_odd[m] = row[2 * m]
        to_even[m + 1] = row[2 * m + 1]
    if width % 2:
        to_odd[pairs] = row[width - 1]
    for q in range((width + 1) // 2, pitch):
        to_odd[q] = 0
    for q in range(pairs + 1, pitch):
        to_even[q] = 0


@njit(cache=True, nogil=True)
def interleave_phases(phases, pitch, image_size, n0, n1, dx):
    """dx[n, c] = the four phases phases[:, c] of dL/dX_pad of images n0 .. n1-1 interleaved
    (as input_gradient_3x3_stride2 does for one channel at a time), the phase grid of image n0
    at position 0: phases (4, C, M), M >= (n1 - n0) * image_size."""
    rows = np.empty((2, 2 * (n1 - n0) * image_size), dx.dtype)
    for c in range(dx.shape[1]):
        of_c = (phases[0, c], phases[1, c], phases[2, c], phases[3, c])
        _interleave_out(of_c, rows, pitch, image_size, 0, n1 - n0, dx[n0:n1], c)


@njit(cache=True, inline="always")
def _interleave_out(sums, rows, pitch, image_size, g0, g1, dx, c):
    """dx[n, c, y, k] = sums[2a + b][(n - g0) * image_size + r * pitch + q] with (y + 1,
    k + 1) = (2r + a, 2q + b), for the images g0 .. g1-1. ``sums``: the four phases of
    channel c, a tuple of 1-d contiguous arrays (a row of a 2-d view would be typed as of
    any layout, and its loop would not vectorise as well); ``rows``: scratch, (2, M) with M >= 2 (g1
    - g0) image_size.

    Row y of X_pad takes the columns of phase rows (a, 0) and (a, 1) in turn. A loop over
    one row's W / 2 pairs is too short to vectorise, so this interleaves
    each pair of phases whole first, one long loop that LLVM vectorises with shuffles,

        rows[a, 2f] = sums[2a + 1][f],  rows[a, 2f + 1] = sums[2a][f + 1],

    which puts row y = 2r + a - 1 of dx at rows[a, 2 (n image_size + r pitch) ...], W numbers
    in a row, and then copies those runs out (0.25 ns a number; benchmarks/RESULTS.md). The
    last f is skipped: it would read past the phases, and no row of dx reaches it (a row ends
    at 2 (f0 + W_out) - 1 for its first position f0, and f0 + W_out <= span - 1)."""
    height, width = dx.shape[2], dx.shape[3]
    span = (g1 - g0) * image_size
    for a in range(2):
        even, odd, pairs = sums[2 * a][1:], sums[2 * a + 1], rows[a]
        for f in range(span - 1):
            pairs[2 * f] = odd[f]                 # column k = 2q: phase b = 1
            pairs[2 * f + 1] = even[f]            # column k = 2q + 1: phase b = 0 at q + 1
    for n in range(g0, g1):
        image = dx[n, c]                                               # (H, W)
        first = 2 * (n - g0) * image_size
        for y in range(height):
            a, r = (y + 1) % 2, (y + 1) // 2
            row = rows[a, first + 2 * r * pitch:]
            out_row = image[y]
            for k in range(width):
                out_row[k] = row[k]


def input_gradient_3x3_stride2_numpy(grad, weight, pitch, image_size, n0, n1, dx):
    """NumPy twin of :func:`input_gradient_3x3_stride2`: the four phases as products over
    the dZ channels, then interleaved with slices."""
    height, width = dx.shape[2:]
    out_h, out_w = (height + 1) // 2, (width + 1) // 2
    # (a, b) -> [(u, v, flat offset of the dZ neighbour it reads)], as in the module docstring
    phase_taps = {(a, b): [(u, v, (1 - u // 2) * pitch + 1 - v // 2)
                           for u in range(a, 3, 2) for v in range(b, 3, 2)]
                  for a in range(2) for b in range(2)}
    for n in range(n0, n1):
        padded = np.zeros((dx.shape[1], 2 * out_h + 2, 2 * out_w + 2), dtype=dx.dtype)
        for (a, b), taps in phase_taps.items():
            phase = np.zeros((dx.shape[1], image_size), dtype=dx.dtype)
            for u, v, shift in taps:
                start = n * image_size + shift
                phase += weight[:, :, u, v].T @ grad[:len(weight), start:start + image_size]
            padded[:, a::2, b::2] = phase.reshape(-1, out_h + 1, pitch)
        dx[n] = padded[:, 1:height + 1, 1:width + 1]
