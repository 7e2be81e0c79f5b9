"""The direct 3x3 convolution with stride 2 on flat phase planes, vectorised by Numba.

With stride 2 the lecture's sum,

    Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] * X_pad[n, c, 2i + u, 2j + v],

reads every second number of X_pad, which no loop over j can read contiguously. Splitting
X_pad into its four **phase planes** (even or odd row, even or odd column),

    P_ab[n, c, r, q] = X_pad[n, c, 2r + a, 2q + b]        (a, b in {0, 1}),

makes every tap contiguous again: tap (u, v) reads phase (u % 2, v % 2) at (i + u // 2,
j + v // 2). Each phase plane is laid out flat like the stride-1 planes
(minicnn/kernels/conv_direct.py), ``pitch`` = W_out + 1 numbers a row and ``image_size`` =
(H_out + 1) * pitch an image, so output (n, i, j) sits at flat position f = n * image_size +
i * pitch + j and its nine inputs are

    u = 0:  P_00[c, f],          P_01[c, f],          P_00[c, f + 1]
    u = 1:  P_10[c, f],          P_11[c, f],          P_10[c, f + 1]
    u = 2:  P_00[c, f + pitch],  P_01[c, f + pitch],  P_00[c, f + pitch + 1]

(minicnn/functional/conv_direct.py, phase_planes, builds them). The forward sum and dL/dW are
then the stride-1 kernels' loops with these six row views instead of three.

dL/dX is the transposed sum: pixel (y, k) of X_pad, in phase (a, b) = (y % 2, k % 2) at
(r, q) = (y // 2, k // 2), receives W[o, c, u, v] * dZ[n, o, i, j] from every tap with
u % 2 = a, v % 2 = b, i = r - u // 2, j = q - v // 2. The four phases take 4, 2, 2 and 1 of
the nine taps, and all of them read dZ at the same four neighbours, so one loop computes all
four phases of one input channel:

    dX_00[f] = sum_o W[o,c,0,0] G[f + pitch + 1] + W[o,c,0,2] G[f + pitch]
                     + W[o,c,2,0] G[f + 1] + W[o,c,2,2] G[f]
    dX_01[f] = sum_o W[o,c,0,1] G[f + pitch + 1] + W[o,c,2,1] G[f + 1]
    dX_10[f] = sum_o W[o,c,1,0] G[f + pitch + 1] + W[o,c,1,2] G[f + pitch]
    dX_11[f] = sum_o W[o,c,1,1] G[f + pitch + 1]

where G is dZ in the stride-1 flat layout (one zero row above and one zero column left of
each image, so G[f + pitch + 1] = dZ at (r, q) and G[f] = dZ at (r - 1, q - 1)), f = n *
image_size + r * pitch + q on the phase grid; the phases are then interleaved into dL/dX.

    Numba kernel                    NumPy twin                        what it computes
    correlate_3x3_stride2           correlate_3x3_stride2_numpy       the forward sum
    weight_gradient_3x3_stride2     weight_gradient_3x3_stride2_numpy dL/dW
    input_gradient_3x3_stride2      input_gradient_3x3_stride2_numpy  dL/dX

All are serial ``@njit(cache=True, nogil=True)`` loops over a range of images, so
minicnn/functional/conv_direct.py can run parts of the batch on threads at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from minicnn.kernels.conv_direct import (OUT_BLOCK, SUM_BYTES, _copy_out, _filter,
                                         _store_filter)

__all__ = ["correlate_3x3_stride2", "correlate_3x3_stride2_numpy",
           "weight_gradient_3x3_stride2", "weight_gradient_3x3_stride2_numpy",
           "input_gradient_3x3_stride2", "input_gradient_3x3_stride2_numpy", "tap_offsets"]


def tap_offsets(pitch):
    """For each tap (u, v), row by row: (phase plane 2a + b, flat offset) that it reads,
    (a, b) = (u % 2, v % 2), offset (u // 2) * pitch + v // 2 (the table of the module
    docstring, used by the NumPy twins)."""
    return [(2 * (u % 2) + v % 2, (u // 2) * pitch + v // 2) for u in range(3) for v in range(3)]


@njit(cache=True, inline="always")
def _phase_rows(phases, c, base, pitch):
    """The six row views of channel c from flat position ``base`` on (1-d, indexed from 0, so
    that LLVM vectorises the loops over f): for u = 0, 1, 2 the even and odd columns of
    X_pad's row 2i + u, i.e. tap (u, 0) at even_u[f], (u, 1) at odd_u[f], (u, 2) at
    even_u[f + 1]."""
    return (phases[0, c, base:], phases[1, c, base:],
            phases[2, c, base:], phases[3, c, base:],
            phases[0, c, base + pitch:], phases[1, c, base + pitch:])


@njit(cache=True, nogil=True, fastmath={"contract"})
def correlate_3x3_stride2(phases, weight, bias, pitch, image_size, n0, n1, out):
    """out[n, o, i, j] = sum_c sum_(u, v) weight[o, c, u, v] * X_pad[n, c, 2i + u, 2j + v]
                         + bias[o]

    for the images n0 .. n1-1, read from the phase planes (the module docstring). As
    correlate_3x3: a group of images at a time, OUT_BLOCK output channels per loop over the
    group's flat positions, the last O % OUT_BLOCK one at a time.

    Parameters
    ----------
    phases : (4, C, L) C-contiguous array, the phase planes P_00, P_01, P_10, P_11,
             L >= n1 * image_size + pitch + 1
    weight : (O, C, 3, 3) C-contiguous array
    bias : (O,) array
    pitch, image_size : int, W_out + 1 and (H_out + 1) * pitch
    n0, n1 : int, the images to compute
    out : (N, O, H_out, W_out) array, written
    """
    out_channels, out_h = out.shape[1], out.shape[2]
    group = max(1, SUM_BYTES // (OUT_BLOCK * image_size * out.itemsize))
    sums = np.empty((OUT_BLOCK, min(group, n1 - n0) * image_size), dtype=out.dtype)
    for g0 in range(n0, n1, group):
        g1 = min(n1, g0 + group)
        base = g0 * image_size
        span = (g1 - g0 - 1) * image_size + out_h * pitch
        for o in range(0, out_channels, OUT_BLOCK):
            count = min(OUT_BLOCK, out_channels - o)
            if count == OUT_BLOCK:
                _sum_four(phases, weight, o, base, pitch, span, sums)
            else:
                for k in range(count):
                    _sum_one(phases, weight, o + k, base, pitch, span, sums[k])
            for k in range(count):
                _copy_out(sums[k], bias[o + k], pitch, image_size, g0, g1, out, o + k)


@njit(cache=True, inline="always")
def _sum_four(phases, weight, o, base, pitch, span, sums):
    """sums[k, f] = the stride-2 sum of output channel o + k at flat position base + f, for
    k < 4 and f < span: every input read serves four multiply-adds."""
    sum0, sum1, sum2, sum3 = sums[0], sums[1], sums[2], sums[3]
    for f in range(span):
        sum0[f] = 0
        sum1[f] = 0
        sum2[f] = 0
        sum3[f] = 0
    for c in range(phases.shape[1]):
        even0, odd0, even1, odd1, even2, odd2 = _phase_rows(phases, c, base, pitch)
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        b00, b01, b02, b10, b11, b12, b20, b21, b22 = _filter(weight, o + 1, c)
        c00, c01, c02, c10, c11, c12, c20, c21, c22 = _filter(weight, o + 2, c)
        d00, d01, d02, d10, d11, d12, d20, d21, d22 = _filter(weight, o + 3, c)
        for f in range(span):
            x00, x01, x02 = even0[f], odd0[f], even0[f + 1]
            x10, x11, x12 = even1[f], odd1[f], even1[f + 1]
            x20, x21, x22 = even2[f], odd2[f], even2[f + 1]
            sum0[f] += (a00 * x00 + a01 * x01 + a02 * x02 + a10 * x10 + a11 * x11
                        + a12 * x12 + a20 * x20 + a21 * x21 + a22 * x22)
            sum1[f] += (b00 * x00 + b01 * x01 + b02 * x02 + b10 * x10 + b11 * x11
                        + b12 * x12 + b20 * x20 + b21 * x21 + b22 * x22)
            sum2[f] += (c00 * x00 + c01 * x01 + c02 * x02 + c10 * x10 + c11 * x11
                        + c12 * x12 + c20 * x20 + c21 * x21 + c22 * x22)
            sum3[f] += (d00 * x00 + d01 * x01 + d02 * x02 + d10 * x10 + d11 * x11
                        + d12 * x12 + d20 * x20 + d21 * x21 + d22 * x22)


@njit(cache=True, inline="always")
def _sum_one(phases, weight, o, base, pitch, span, sum0):
    """sum0[f] = the stride-2 sum of output channel o at flat position base + f, f < span."""
    for f in range(span):
        sum0[f] = 0
    for c in range(phases.shape[1]):
        even0, odd0, even1, odd1, even2, odd2 = _phase_rows(phases, c, base, pitch)
        a00, a01, a02, a10, a11, a12, a20, a21, a22 = _filter(weight, o, c)
        for f in range(span):
            sum0[f] += (a00 * even0[f] + a01 * odd0[f] + a02 * even0[f + 1]
                        + a10 * even1[f] + a11 * odd1[f] + a12 * even1[f + 1]
                        + a20 * even2[f] + a21 * odd2[f] + a22 * even2[f + 1])


def correlate_3x3_stride2_numpy(phases, weight, bias, pitch, image_size, n0, n1, out):
    """NumPy twin of :func:`correlate_3x3_stride2`: one product over the channels per tap."""
    out_channels, out_h, out_w = out.shape[1:]
    span = out_h * pitch
    for n in range(n0, n1):
        sums = np.zeros((out_channels, span), dtype=out.dtype)
        for (u, v), (phase, offset) in zip(np.ndindex(3, 3), tap_offsets(pitch)):
            start = n * image_size + offset
            sums += weight[:, :, u, v] @ phases[phase, :, start:start + span]
        out[n] = sums.reshape(out_channels, out_h, pitch)[:, :, :out_w] + bias[:, None, None]


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def weight_gradient_3x3_stride2(phases, grad, offset, pitch, start, stop, dweight):
    """dweight[o, c, u, v] = sum_(start <= f < stop) grad[o, offset + f] * (tap (u, v) of
    channel c at flat position f, read from the phase planes)

    dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] X_pad[n, c, 2i + u, 2j + v] when
    grad[o, offset + f] holds dZ at the flat position f of output (n, i, j) and zero at every
    other position of [start, stop). As weight_gradient_3x3: two output channels per loop,
    the sums reassociated so that they run in vector lanes.

    Parameters
    ----------
    phases : (4, C, L) C-contiguous array, as for correlate_3x3_stride2, L >= stop + pitch + 1
    grad : (O, M) C-contiguous array, M >= offset + stop; O even
    offset : int, where position f = 0 lies in grad's rows
    pitch : int, W_out + 1
    start, stop : int, the flat positions summed over (whole images)
    dweight : (O, C, 3, 3) array, written
    """
    zero = phases.dtype.type(0)
    count = stop - start
    for o in range(0, grad.shape[0], 2):
        dz0 = grad[o, offset + start:]
        dz1 = grad[o + 1, offset + start:]
        for c in range(phases.shape[1]):
            even0, odd0, even1, odd1, even2, odd2 = _phase_rows(phases, c, start, pitch)
            a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = zero
            b00 = b01 = b02 = b10 = b11 = b12 = b20 = b21 = b22 = zero
            for f in range(count):
                x00, x01, x02 = even0[f], odd0[f], even0[f + 1]
                x10, x11, x12 = even1[f], odd1[f], even1[f + 1]
                x20, x21, x22 = even2[f], odd2[f], even2[f + 1]
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


def weight_gradient_3x3_stride2_numpy(phases, grad, offset, pitch, start, stop, dweight):
    """NumPy twin of :func:`weight_gradient_3x3_stride2`: one product over the positions per
    tap."""
    dz = grad[:, offset + start:offset + stop]                          # (O, stop - start)
    for (u, v), (phase, shift) in zip(np.ndindex(3, 3), tap_offsets(pitch)):
        first = start + shift
        dweight[:, :, u, v] = dz @ phases[phase, :, first:first + stop - start].T


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
           image_size numbers an image (functional/conv_direct.py, flat_planes of dZ), image
           0 at 0, M >= n1 * image_size + pitch + 1; planes past O are not read
    weight : (O, C, 3, 3) C-contiguous array
    pitch, image_size : int, W_out + 1 and (H_out + 1) * pitch
    n0, n1 : int, the images to compute
    dx : (N, C, H, W) array, written; H_out = ceil(H / 2), W_out = ceil(W / 2)
    """
    group = max(1, SUM_BYTES // (4 * image_size * dx.itemsize))
    sums = np.empty((4, min(group, n1 - n0) * image_size), dtype=dx.dtype)
    for g0 in range(n0, n1, group):
        g1 = min(n1, g0 + group)
        span = (g1 - g0) * image_size
        for c in range(dx.shape[1]):
            _phase_sums(grad, weight, c, g0 * image_size, pitch, span, sums)
            _interleave_out(sums, pitch, image_size, g0, g1, dx, c)


@njit(cache=True, inline="always")
def _phase_sums(grad, weight, c, base, pitch, span, sums):
    """sums[2a + b, f] = phase (a, b) of dL/dX_pad for input channel c at phase-grid position
    base + f, f < span (the four sums of the module docstring)."""
    s00, s01, s10, s11 = sums[0], sums[1], sums[2], sums[3]
    for f in range(span):
        s00[f] = 0
        s01[f] = 0
        s10[f] = 0
        s11[f] = 0
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


@njit(cache=True, inline="always")
def _interleave_out(sums, pitch, image_size, g0, g1, dx, c):
    """dx[n, c, y, k] = sums[2a + b, (n - g0) * image_size + r * pitch + q] with (y + 1,
    k + 1) = (2r + a, 2q + b), for the images g0 .. g1-1: row y of X_pad + 1 takes the even
    and odd columns of phase row (a, r) in turn."""
    height, width = dx.shape[2], dx.shape[3]
    pairs = width // 2
    for n in range(g0, g1):
        image = dx[n, c]                                               # (H, W)
        first = (n - g0) * image_size
        for y in range(height):
            a, r = (y + 1) % 2, (y + 1) // 2
            row = first + r * pitch
            even = sums[2 * a, row + 1:]          # column k = 2q - 1: phase b = 0, q >= 1
            odd = sums[2 * a + 1, row:]           # column k = 2q: phase b = 1
            out_row = image[y]
            for m in range(pairs):
                out_row[2 * m] = odd[m]
                out_row[2 * m + 1] = even[m]
            if width % 2:
                out_row[width - 1] = odd[pairs]


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
