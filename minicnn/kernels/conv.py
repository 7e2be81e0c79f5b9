"""Convolution kernels: im2col / col2im and the direct ("loop") convolution.

Each Numba kernel has a NumPy twin with the same signature that the tests hold it to:

    Numba kernel                    NumPy twin
    im2col                          im2col_numpy
    col2im                          col2im_numpy
    conv2d_loop_forward             conv2d_loop_forward_numpy
    conv2d_loop_backward_input      conv2d_loop_backward_input_numpy
    conv2d_loop_backward_weight     conv2d_loop_backward_weight_numpy

The column layout used by im2col / col2im puts one row per weight entry and one column per
output position of every image in the batch:

    cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]
    cols shape (C_in*kH*kW, N*H_out*W_out), row index (c*kH + u)*kW + v,
    column index (n*H_out + i)*W_out + j

so that the whole convolution is ONE matrix product, weight.reshape(C_out, -1) @ cols, whose
(C_out, N*H_out*W_out) result is the output with the batch axis second. The im2col kernels
read the unpadded input and write zeros where the window hangs over the border, so no padded
copy of the input is ever made; col2im likewise drops the gradient that falls on the padding.

The direct kernels take an already padded input X_pad (N, C_in, H + 2*p_h, W + 2*p_w).

All kernels are ``@njit(cache=True)``; set ``NUMBA_DISABLE_JIT=1`` to run them as plain Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.lib.stride_tricks import sliding_window_view

from minicnn.kernels.output_size import output_length

__all__ = [
    "im2col", "im2col_numpy", "col2im", "col2im_numpy",
    "conv2d_loop_forward", "conv2d_loop_forward_numpy",
    "conv2d_loop_backward_input", "conv2d_loop_backward_input_numpy",
    "conv2d_loop_backward_weight", "conv2d_loop_backward_weight_numpy",
]


# Let the compiler reorder floating-point sums (so a dot product becomes SIMD code) without
# the other fast-math licences: NaN and infinity still propagate as usual.
_REASSOC = {"reassoc", "contract"}

# conv2d_loop_backward_weight splits the batch into this many slices, each with its own partial
# dW (a constant rather than the thread count, so the compiled kernel can be cached on disk).
_BATCH_SLICES = 16


def _windows(x_padded, kernel_h, kernel_w, stride_h, stride_w):
    """windows[n, c, i, j, u, v] = X_pad[n, c, i*s_h + u, j*s_w + v]: a read-only view of
    shape (N, C, H_out, W_out, kH, kW), one (kH, kW) window per output position (i, j)."""
    windows = sliding_window_view(x_padded, (kernel_h, kernel_w), axis=(2, 3))
    return windows[:, :, ::stride_h, ::stride_w]


# --------------------------------------------------------------------------------------------
# im2col: every receptive field becomes one column
# --------------------------------------------------------------------------------------------

@njit(cache=True)
def _inside(v, stride, pad, size, out_size):
    """The range [lo, hi) of output positions j whose input index j*stride + v - pad lies in
    [0, size), i.e. whose kernel offset v does not land on the zero padding."""
    lo = 0 if v >= pad else (pad - v + stride - 1) // stride   # ceil((pad - v) / stride)
    lo = min(lo, out_size)             # a window may hang over the padding at every position
    hi = min(out_size, (size - 1 + pad - v) // stride + 1)
    return lo, max(lo, hi)


@njit(cache=True)
def im2col(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w):
    """Unfold every (C_in, kH, kW) window of the zero-padded ``x`` into one column.

    cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]

    Loops run in the order of ``cols``' memory, row (c, u, v) by row, so every write is
    sequential and the innermost loop (stride 1) is a contiguous copy. Serial: see col2im.

    Parameters
    ----------
    x : (N, C_in, H, W) array, unpadded; X_pad is ``x`` with p_h / p_w zeros on each side
    kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w : int

    Returns
    -------
    cols : (C_in*kH*kW, N*H_out*W_out) array of x's dtype
    """
    n_batch, channels, height, width = x.shape
    out_h = output_length(height, kernel_h, stride_h, pad_h)
    out_w = output_length(width, kernel_w, stride_w, pad_w)
    positions = out_h * out_w
    cols = np.empty((channels * kernel_h * kernel_w, n_batch * positions), dtype=x.dtype)
    zero = x.dtype.type(0)
    for c in range(channels):
        for u in range(kernel_h):
            for v in range(kernel_w):
                row = (c * kernel_h + u) * kernel_w + v
                # output columns j whose pixel j*s_w + v - p_w lies inside x: [j_lo, j_hi)
                j_lo, j_hi = _inside(v, stride_w, pad_w, width, out_w)
                shift = v - pad_w
                for n in range(n_batch):
                    for i in range(out_h):
                        y = i * stride_h + u - pad_h  # row of x under (i, u); outside = padding
                        start = n * positions + i * out_w
                        if y < 0 or y >= height:
                            for j in range(out_w):
                                cols[row, start + j] = zero
                            continue
                        for j in range(j_lo):
                            cols[row, start + j] = zero
                        if stride_w == 1:         # a contiguous run of x
                            for j in range(j_lo, j_hi):
                                cols[row, start + j] = x[n, c, y, j + shift]
                        else:
                            for j in range(j_lo, j_hi):
                                cols[row, start + j] = x[n, c, y, j * stride_w + shift]
                        for j in range(j_hi, out_w):
                            cols[row, start + j] = zero
    return cols


def im2col_numpy(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w):
    """NumPy twin of :func:`im2col` (same arguments, same result), built from stride tricks.

    cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]
    """
    n_batch, channels, height, width = x.shape
    # X_pad: one zeroed buffer and one copy (cheaper than np.pad)
    x_padded = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w), x.dtype)
    x_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = x
    # windows[n, c, i, j, u, v] = X_pad[n, c, i*s_h + u, j*s_w + v]: a view, nothing copied yet
    windows = _windows(x_padded, kernel_h, kernel_w, stride_h, stride_w)
    out_h, out_w = windows.shape[2:4]                         # (N, C, H_out, W_out, kH, kW)
    # (C, kH, kW, N, H_out, W_out): reshape copies the view into the contiguous column matrix
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(
        channels * kernel_h * kernel_w, n_batch * out_h * out_w)


# --------------------------------------------------------------------------------------------
# col2im: the adjoint of im2col, every column's gradient added back where it was read from
# --------------------------------------------------------------------------------------------

@njit(cache=True)
def col2im(cols, n_batch, channels, height, width, kernel_h, kernel_w, stride_h, stride_w,
           pad_h, pad_w):
    """Scatter-add column gradients back onto the input (the transpose of :func:`im2col`).

    dX_pad[n, c, i*s_h + u, j*s_w + v] += dcols[(c, u, v), (n, i, j)]   for every (u, v, i, j)

    then dX = dX_pad without its padding (gradient that lands on the zero padding is dropped).

    Loops run row (c, u, v) by row of ``cols``, so ``cols`` is read sequentially, once; the
    kH*kW rows of one channel c all add into dX[:, c] (N*H*W numbers, 50 KB for the lecture's
    conv2), which stays in cache. With stride 1 the innermost loop is a contiguous add.
    Serial: on the shared 2-core machine a ``prange`` over the batch made this kernel 5-100x
    slower whenever the other core was busy (figures in minicnn/functional/conv.py).

    Parameters
    ----------
    cols : (C_in*kH*kW, N*H_out*W_out) array, the gradient with respect to im2col's output
    n_batch, channels, height, width : int, the shape (N, C_in, H, W) of the unpadded input
    kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w : int

    Returns
    -------
    dx : (N, C_in, H, W) array of cols' dtype
    """
    out_h = output_length(height, kernel_h, stride_h, pad_h)
    out_w = output_length(width, kernel_w, stride_w, pad_w)
    positions = out_h * out_w
    dx = np.zeros((n_batch, channels, height, width), dtype=cols.dtype)
    for c in range(channels):
        for u in range(kernel_h):
            for v in range(kernel_w):
                row = (c * kernel_h + u) * kernel_w + v
                j_lo, j_hi = _inside(v, stride_w, pad_w, width, out_w)
                shift = v - pad_w
                for n in range(n_batch):
                    for i in range(out_h):
                        y = i * stride_h + u - pad_h
                        if y < 0 or y >= height:
                            continue                 # this row of X_pad is padding
                        start = n * positions + i * out_w
                        if stride_w == 1:         # a contiguous run of dx
                            for j in range(j_lo, j_hi):
                                dx[n, c, y, j + shift] += cols[row, start + j]
                        else:
                            for j in range(j_lo, j_hi):
                                dx[n, c, y, j * stride_w + shift] += cols[row, start + j]
    return dx


def col2im_numpy(cols, n_batch, channels, height, width, kernel_h, kernel_w, stride_h,
                 stride_w, pad_h, pad_w):
    """NumPy twin of :func:`col2im`: one strided slice-add per kernel offset (u, v)."""
    dx_padded = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w),
                         dtype=cols.dtype)
    # the grid of window positions, hence (H_out, W_out), is that of im2col_numpy
    out_h, out_w = _windows(dx_padded, kernel_h, kernel_w, stride_h, stride_w).shape[2:4]
    # dcols[c, u, v, n, i, j] is the gradient of X_pad[n, c, i*s_h + u, j*s_w + v]
    dcols = cols.reshape(channels, kernel_h, kernel_w, n_batch, out_h, out_w)
    for u in range(kernel_h):
        for v in range(kernel_w):
            # the positions (i*s_h + u, j*s_w + v) for all (i, j): one strided slice
            dx_padded[:, :, u:u + stride_h * out_h:stride_h, v:v + stride_w * out_w:stride_w] \
                += dcols[:, u, v].transpose(1, 0, 2, 3)      # (N, C, H_out, W_out)
    return dx_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width].copy()


# --------------------------------------------------------------------------------------------
# Direct ("loop") convolution: the lecture's triple sum, compiled
# --------------------------------------------------------------------------------------------

@njit(cache=True, parallel=True, fastmath=_REASSOC)
def conv2d_loop_forward(x_padded, weight, stride_h, stride_w):
    """Direct convolution without bias, the lecture's sum written as loops.

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s_h + u, j*s_w + v]

    For each output position (n, i, j) the window X_pad[n, :, i*s_h : i*s_h + kH, ...] is
    first copied into a small contiguous ``patch`` (C_in*kH*kW numbers, the (c, u, v) order of
    W[o]); then every filter o is one dot product with it, a loop the compiler turns into
    SIMD instructions.

    Parameters
    ----------
    x_padded : (N, C_in, H_pad, W_pad) C-contiguous array, the zero-padded input
    weight : (C_out, C_in, kH, kW) C-contiguous array
    stride_h, stride_w : int

    Returns
    -------
    out : (N, C_out, H_out, W_out) array, H_out = (H_pad - kH) // s_h + 1
    """
    n_batch, channels, padded_h, padded_w = x_padded.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    out_h = output_length(padded_h, kernel_h, stride_h, 0)
    out_w = output_length(padded_w, kernel_w, stride_w, 0)
    window_size = channels * kernel_h * kernel_w
    weight_matrix = weight.reshape(out_channels, window_size)   # W[o] flattened over (c, u, v)
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x_padded.dtype)
    for n in prange(n_batch):  # images are independent: one per thread
        patch = np.empty(window_size, dtype=x_padded.dtype)
        for i in range(out_h):
            for j in range(out_w):
                # patch[(c, u, v)] = X_pad[n, c, i*s_h + u, j*s_w + v]
                r = 0
                for c in range(channels):
                    for u in range(kernel_h):
                        for v in range(kernel_w):
                            patch[r] = x_padded[n, c, i * stride_h + u, j * stride_w + v]
                            r += 1
                # Z[n, o, i, j] = sum_(c, u, v) W[o, c, u, v] * patch[(c, u, v)]
                for o in range(out_channels):
                    total = patch[0] * 0    # a zero of the input's dtype
                    for r in range(window_size):
                        total += weight_matrix[o, r] * patch[r]
                    out[n, o, i, j] = total
    return out


def conv2d_loop_forward_numpy(x_padded, weight, stride_h, stride_w):
    """NumPy twin of :func:`conv2d_loop_forward`: the same sum as one einsum."""
    windows = _windows(x_padded, weight.shape[2], weight.shape[3], stride_h, stride_w)
    return np.einsum("ncijuv,ocuv->noij", windows, weight, optimize=True)


@njit(cache=True, parallel=True, fastmath=_REASSOC)
def conv2d_loop_backward_input(dout, weight, stride_h, stride_w, padded_h, padded_w):
    """Gradient of the direct convolution with respect to its padded input.

    dX_pad[n, c, i*s_h + u, j*s_w + v] += W[o, c, u, v] * dZ[n, o, i, j]
    for every (o, u, v, i, j): each input pixel collects the gradient of every output that
    read it.

    For each output position (n, i, j) the gradient of its whole window,
    dpatch[(c, u, v)] = sum_o W[o, c, u, v] * dZ[n, o, i, j], is built first (one SIMD
    multiply-add per filter) and then added onto the window.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array, dL/dZ
    weight : (C_out, C_in, kH, kW) C-contiguous array
    stride_h, stride_w : int
    padded_h, padded_w : int, the spatial size of X_pad

    Returns
    -------
    dx_padded : (N, C_in, padded_h, padded_w) array, dL/dX_pad
    """
    n_batch, out_channels, out_h, out_w = dout.shape
    _, channels, kernel_h, kernel_w = weight.shape
    window_size = channels * kernel_h * kernel_w
    weight_matrix = weight.reshape(out_channels, window_size)
    dx_padded = np.zeros((n_batch, channels, padded_h, padded_w), dtype=dout.dtype)
    for n in prange(n_batch):  # each thread owns whole images: no write conflicts
        dpatch = np.empty(window_size, dtype=dout.dtype)
        for i in range(out_h):
            for j in range(out_w):
                # dpatch[(c, u, v)] = sum_o W[o, c, u, v] * dZ[n, o, i, j]
                dpatch[:] = 0
                for o in range(out_channels):
                    grad = dout[n, o, i, j]
                    for r in range(window_size):
                        dpatch[r] += grad * weight_matrix[o, r]
                # dX_pad[n, c, i*s_h + u, j*s_w + v] += dpatch[(c, u, v)]
                r = 0
                for c in range(channels):
                    for u in range(kernel_h):
                        for v in range(kernel_w):
                            dx_padded[n, c, i * stride_h + u, j * stride_w + v] += dpatch[r]
                            r += 1
    return dx_padded


def conv2d_loop_backward_input_numpy(dout, weight, stride_h, stride_w, padded_h, padded_w):
    """NumPy twin of :func:`conv2d_loop_backward_input`: one slice-add per offset (u, v)."""
    n_batch, _, out_h, out_w = dout.shape
    _, channels, kernel_h, kernel_w = weight.shape
    dx_padded = np.zeros((n_batch, channels, padded_h, padded_w), dtype=dout.dtype)
    for u in range(kernel_h):
        for v in range(kernel_w):
            dx_padded[:, :, u:u + stride_h * out_h:stride_h, v:v + stride_w * out_w:stride_w] \
                += np.einsum("noij,oc->ncij", dout, weight[:, :, u, v])
    return dx_padded


@njit(cache=True, parallel=True, fastmath=_REASSOC)
def conv2d_loop_backward_weight(dout, x_padded, kernel_h, kernel_w, stride_h, stride_w):
    """Gradient of the direct convolution with respect to its weight.

    dW[o, c, u, v] = sum_n sum_i sum_j dZ[n, o, i, j] * X_pad[n, c, i*s_h + u, j*s_w + v]

    The batch is split into up to _BATCH_SLICES slices that the threads share out; each slice
    sums its images into its own partial dW (no two threads write the same memory) and the
    partials are added at the end.
    Within an image, the window of position (i, j) is copied into a contiguous ``patch``, and
    dW[o] += dZ[n, o, i, j] * patch is one SIMD multiply-add per filter.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array, dL/dZ
    x_padded : (N, C_in, H_pad, W_pad) C-contiguous array
    kernel_h, kernel_w, stride_h, stride_w : int

    Returns
    -------
    dweight : (C_out, C_in, kH, kW) array
    """
    n_batch, out_channels, out_h, out_w = dout.shape
    channels = x_padded.shape[1]
    window_size = channels * kernel_h * kernel_w
    n_slices = min(_BATCH_SLICES, n_batch)
    partial_dweight = np.zeros((n_slices, out_channels, window_size), dtype=dout.dtype)
    for t in prange(n_slices):
        patch = np.empty(window_size, dtype=dout.dtype)
        for n in range(t, n_batch, n_slices):
            for i in range(out_h):
                for j in range(out_w):
                    # patch[(c, u, v)] = X_pad[n, c, i*s_h + u, j*s_w + v]
                    r = 0
                    for c in range(channels):
                        for u in range(kernel_h):
                            for v in range(kernel_w):
                                patch[r] = x_padded[n, c, i * stride_h + u, j * stride_w + v]
                                r += 1
                    # dW[o, (c, u, v)] += dZ[n, o, i, j] * patch[(c, u, v)]
                    for o in range(out_channels):
                        grad = dout[n, o, i, j]
                        for r in range(window_size):
                            partial_dweight[t, o, r] += grad * patch[r]
    dweight = partial_dweight.sum(axis=0)
    return dweight.reshape(out_channels, channels, kernel_h, kernel_w)


def conv2d_loop_backward_weight_numpy(dout, x_padded, kernel_h, kernel_w, stride_h, stride_w):
    """NumPy twin of :func:`conv2d_loop_backward_weight`: the same sum as one einsum."""
    windows = _windows(x_padded, kernel_h, kernel_w, stride_h, stride_w)
    return np.einsum("noij,ncijuv->ocuv", dout, windows, optimize=True)
