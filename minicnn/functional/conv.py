"""2-d convolution (cross-correlation, as in PyTorch): forward and backward, five ways.

The lecture's convolution, for image n, filter o and output position (i, j):

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s + u, j*s + v] + b[o]

where X_pad is the input with p zeros on each side and

    H_out = floor((H - k + 2p) / s) + 1.

Its gradients follow from the chain rule, one term of the sum at a time:

    dL/db[o]          = sum_n sum_i sum_j dZ[n, o, i, j]
    dL/dW[o, c, u, v] = sum_n sum_i sum_j dZ[n, o, i, j] * X_pad[n, c, i*s + u, j*s + v]
    dL/dX_pad[n, c, i*s + u, j*s + v] += W[o, c, u, v] * dZ[n, o, i, j]   (for every o, u, v, i, j)

and dL/dX is dL/dX_pad without its padding.

Five implementations compute exactly this (``method=``):

- ``"naive"``  : Python loops that read like the sum above. The reference; very slow.
- ``"loop"``   : the same loops compiled with Numba (minicnn/kernels/conv.py).
- ``"im2col"`` : every receptive field unfolded into a column, then ONE matrix product.
- ``"gemm"``   : im2col a cache-sized chunk at a time, one block copy per kernel tap, columns
                 recomputed in the backward pass (minicnn/functional/conv_gemm.py).
- ``"fast"``   : the default, per layer the fastest of five measured algorithms (see
                 fast_algorithm): one product per image for 1x1 stride-1 unpadded layers
                 (minicnn/functional/conv_pointwise.py), the direct sum on flat padded
                 planes for narrow 3x3 padding-1 layers of stride 1 or 2
                 (functional/conv_direct.py), Winograd
                 (F(4x4, 3x3), F(2x2, r x r)) for wider 3x3, 5x5 and 7x7 stride-1 layers
                 (functional/conv_winograd.py), "im2col" where its column matrix is small,
                 else "gemm", whose memory stays bounded at any size.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._common import as_pair, check_array, output_shape2d
from minicnn.functional.conv_direct import (conv2d_direct_backward, conv2d_direct_forward,
                                            is_direct)
from minicnn.functional.conv_gemm import conv2d_gemm_backward, conv2d_gemm_forward
from minicnn.functional.conv_pointwise import (conv2d_pointwise_backward,
                                               conv2d_pointwise_forward, is_pointwise)
from minicnn.functional.conv_winograd import (WINOGRAD_KERNELS, conv2d_winograd_backward,
                                              conv2d_winograd_forward)
from minicnn.kernels import conv as conv_kernels
from minicnn.kernels.conv import (conv2d_loop_backward_input, conv2d_loop_backward_weight,
                                  conv2d_loop_forward)

__all__ = ["CONV_METHODS", "DEFAULT_METHOD", "WINOGRAD_MIN_CHANNELS", "WINOGRAD_MIN_TILES",
           "DIRECT_MAX_CHANNEL_PAIRS", "DIRECT_STRIDE2_MAX_CHANNEL_PAIRS", "IM2COL_MAX_BYTES",
           "conv2d_forward", "conv2d_backward", "fast_algorithm"]

CONV_METHODS = ("naive", "loop", "im2col", "gemm", "fast")

# DEFAULT_METHOD: the fastest method measured on the lecture's layers, float32, N=64, k=3,
# pad=1, forward + backward, median ms, PyTorch 2.13 CPU in the same run. The machine (2 cores)
# was shared with other jobs (load average 7-8), so the figures are with 1 thread each for
# BLAS, Numba and PyTorch, which contention distorts least (naive extrapolated from N=2):
#                               naive     loop    im2col    PyTorch
#   conv1  1->32, 28x28         27,000     36       15        17-39
#   conv2 32->64, 14x14         18,000    120       60        32
# With 2 threads under that load every multithreaded path (BLAS, prange, PyTorch) slowed
# 5-20x and the ranking wobbled; the single-threaded ranking was stable across runs.
# "fast" (added later; see fast_algorithm) is 1.05-2.2x faster than im2col on 3x3 stride-1
# layers with >= 8 channels (3-5x on large images, whose column matrices leave the caches)
# and ~1.9x on 5x5 and 7x7 ones (Winograd), 0.9-2.3x on narrow 3x3 "same" layers and
# 1.2-1.7x on narrow 3x3 stride-2 layers (the direct sum), runs im2col itself on other small
# layers, and bounds the memory on large images (chunked gemm); fwd + bwd, 1 thread, 29
# layers against PyTorch in benchmarks/RESULTS.md ("Convolution at PyTorch's pace").
DEFAULT_METHOD = "fast"

# Method "fast" runs Winograd only from this many input channels: below, its tile transforms
# cost more than the products it saves. Forward + backward, float32, 1 thread, throughput as
# a multiple of PyTorch's in the same run, 3x3 pad 1 (benchmarks/RESULTS.md):
#   1->32 28x28 N=64: winograd 0.49, gemm 1.21;  3->64 32x32 N=64: winograd 1.16, gemm 1.63;
#   32->64 14x14 N=64: winograd 1.00, gemm 0.57; 64->64 32x32 N=64: winograd 1.11, gemm 0.59
WINOGRAD_MIN_CHANNELS = 8
# ... and for 3x3 from this many 2x2 output tiles in the batch: conv2 (32->64, 14x14) with
# N=1 (49 tiles): winograd 2.6 ms, im2col 1.0, PyTorch 1.2 (fixed costs of 16 products and
# four transforms); N=8 (392 tiles): winograd 8.4, im2col 9.6. 5x5 and 7x7 save more
# multiplications and need no minimum: conv2's channels at N=1, winograd 0.9 / 2.0 ms,
# im2col 1.1 / 2.0.
WINOGRAD_MIN_TILES = 128
# 3x3 "same" layers (stride 1, padding 1) run the direct sum (9 multiply-adds per output and
# channel pair on flat padded planes, no transforms, no column matrix) below
# WINOGRAD_MIN_CHANNELS input channels, and from there while C_in * C_out is at most
# DIRECT_MAX_CHANNEL_PAIRS, where Winograd's tile transforms outweigh the products it saves.
# Forward + backward, float32, 1 thread, N=64, ms, direct / Winograd (benchmarks/conv_choice.py
# --tag lanes; RESULTS.md, "Winograd in vector lanes"): 8->16 14x14 1.77 / 2.58; at the bound,
# 8->32 14x14 4.31 / 4.78 and 16->16 14x14 3.30 / 3.72 (at 28x28 Winograd leads, 11.7 / 12.7
# and 9.8 / 12.4); conv2 21.1 / 15.1.
DIRECT_MAX_CHANNEL_PAIRS = 256
# 3x3 padding-1 layers of stride 2 (no Winograd there) run the direct sum on phase planes below
# WINOGRAD_MIN_CHANNELS input channels and while C_in * C_out is at most this, else im2col or
# gemm, whose products win on wide layers. Same benchmark, ms, direct / im2col: 3->64 32x32
# 4.3 / 8.2, 64->64 56x56 N=16 50.9 / 55.0, past the bound 32->128 28x28 49.4 / 46.0 (table in
# benchmarks/RESULTS.md, "The direct sum for stride 2").
DIRECT_STRIDE2_MAX_CHANNEL_PAIRS = 4096
# Other layers run "im2col" while its column matrix (C_in*kH*kW x N*H_out*W_out) stays under
# this size, else "gemm": on small layers im2col's single product and image-by-image path beat
# gemm's chunks (conv1 1->32 28x28 N=64, forward + backward: im2col 15 ms, gemm 25; kernel 7
# on conv2: 277 vs 430; 3->64 14x14: 13 vs 17), while on large images gemm wins and bounds the
# memory (64->64 64x64 N=32: gemm 978 ms, im2col 2,551; benchmarks/RESULTS.md). 16 MiB holds
# the lecture's two layers at batch 64 (conv2: 14 MiB).
IM2COL_MAX_BYTES = 16 << 20

# The "im2col" method unfolds with the NumPy twin (stride tricks) and folds back with the Numba
# col2im. Same setting as above, conv2, median ms:
#   im2col: NumPy 4.7-5.8, Numba 23      col2im: NumPy 14, Numba 9
# (conv1: all four 0.35-0.46). The Numba im2col's gather loop does not vectorise.
# Both kernels were then made serial and reordered to walk cols row by row (stride 1: a
# contiguous inner loop); conv2, median ms, same run, 1 thread / 2 threads (load 5-8):
#   im2col: NumPy 2.3 / 2.1, Numba before 9.2 / 12.0, after 4.1 / 7.6  -> NumPy stays
#   col2im: Numba before (prange) 4.6 / 23.9, after (serial) 3.5 / 7.7
#   conv1 col2im: before 0.40 / 24.0, after 0.39 / 0.38 (waking a thread team on a busy
#   machine cost more than the whole fold)
# The Numba im2col copies runs of only W_out (14 or 28) numbers; per-run overhead loses to
# NumPy's strided copy.
im2col = conv_kernels.im2col_numpy
col2im = conv_kernels.col2im

_FUNC = "conv2d"
_FUNC_BACKWARD = "conv2d_backward"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def conv2d_forward(x, weight, bias, stride=1, padding=0, method=None):
    """2-d convolution of a batch of images with a bank of filters.

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s + u, j*s + v] + b[o]

    Parameters
    ----------
    x : (N, C_in, H, W) float32 or float64 array
    weight : (C_out, C_in, kH, kW) array of x's dtype
    bias : (C_out,) array of x's dtype, or None for no bias
    stride : int or (int, int), >= 1
    padding : int or (int, int), >= 0; zeros added on each side of H and W
    method : "naive", "loop", "im2col", "gemm", "fast", or None for ``DEFAULT_METHOD``

    Returns
    -------
    out : (N, C_out, H_out, W_out) array of x's dtype,
          H_out = (H + 2*p_h - kH) // s_h + 1, W_out = (W + 2*p_w - kW) // s_w + 1
    cache : tuple ``(method, saved, weight, stride, padding, x_shape, has_bias)`` of plain data:
        method : str, which implementation ran (conv2d_backward dispatches on it)
        saved : for "naive" and "loop", the padded input X_pad (N, C_in, H + 2p_h, W + 2p_w),
                x itself (not a copy) when there is no padding and x is C-contiguous;
                for "im2col", the columns (C_in*kH*kW, N*H_out*W_out);
                for "gemm", X_pad with one extra zero row when the stride is 1;
                for "fast", (algorithm, kept): ("winograd", (x, V of each chunk when
                all of V fits in WINOGRAD_KEEP_BYTES, else {})), ("pointwise", x),
                ("direct", x as flat padded planes, or its phase planes for stride 2),
                ("im2col", the columns) or ("gemm", X_pad as above)
        weight : the weight array (C_out, C_in, kH, kW)
        stride, padding : (int, int) pairs
        x_shape : (N, C_in, H, W)
        has_bias : bool, False when bias was None (then conv2d_backward returns dbias=None)

    Raises
    ------
    ValueError, TypeError
        With a message naming conv2d and the shapes, for a bad rank, a channel or bias
        mismatch, mismatched dtypes, a kernel larger than the padded input or an unknown method.
    """
    method = _check_method(method)
    stride = as_pair(stride, "stride", _FUNC)
    padding = as_pair(padding, "padding", _FUNC, minimum=0)
    _check_inputs(x, weight, bias)
    n_batch, _, height, width = x.shape
    out_h, out_w = output_shape2d(height, width, weight.shape[2:], stride, padding, func=_FUNC)
    weight_c = np.ascontiguousarray(weight)

    if method == "im2col":
        out, saved = _conv2d_im2col_forward(x, weight_c, bias, stride, padding)
    elif method == "gemm":
        out, saved = conv2d_gemm_forward(x, weight_c, bias, stride, padding)
    elif method == "fast":
        algorithm = fast_algorithm(x.shape, weight_c.shape, stride, padding, x.dtype)
        if algorithm == "winograd":
            out, kept = conv2d_winograd_forward(x, weight_c, bias, padding)
        elif algorithm == "pointwise":
            out, kept = conv2d_pointwise_forward(x, weight_c, bias)
        elif algorithm == "direct":
            out, kept = conv2d_direct_forward(x, weight_c, bias, stride)
        elif algorithm == "im2col":
            out, kept = _conv2d_im2col_forward(x, weight_c, bias, stride, padding)
        else:
            out, kept = conv2d_gemm_forward(x, weight_c, bias, stride, padding)
        saved = (algorithm, kept)
    else:
        saved = _pad(x, padding)                          # X_pad: (N, C_in, H + 2p_h, W + 2p_w)
        if method == "naive":
            out = _conv2d_naive_forward(saved, weight_c, bias, stride)
        else:
            out = conv2d_loop_forward(saved, weight_c, stride[0], stride[1])
            if bias is not None:
                out += bias.reshape(1, -1, 1, 1)
    expected_shape = (n_batch, weight.shape[0], out_h, out_w)
    if getattr(out, "shape", None) != expected_shape:      # a student's method, usually
        raise ValueError(f"{_FUNC}(method={method!r}): the implementation returned an output of "
                         f"shape {getattr(out, 'shape', type(out).__name__)}, expected "
                         f"{expected_shape} (N, C_out, H_out, W_out) with H_out = "
                         f"floor((H + 2*padding - kH) / stride) + 1")
    cache = (method, saved, weight_c, stride, padding, tuple(x.shape), bias is not None)
    return out, cache


def conv2d_backward(dout, cache):
    """Gradients of the convolution with respect to its input, weight and bias.

    dL/db[o]          = sum_n sum_i sum_j dZ[n, o, i, j]
    dL/dW[o, c, u, v] = sum_n sum_i sum_j dZ[n, o, i, j] * X_pad[n, c, i*s + u, j*s + v]
    dL/dX_pad[n, c, i*s + u, j*s + v] += W[o, c, u, v] * dZ[n, o, i, j]

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) array, dL/dZ; cast to the forward pass's dtype
    cache : the cache returned by conv2d_forward (any method; the same method runs backward)

    Returns
    -------
    dx : (N, C_in, H, W) array
    dweight : (C_out, C_in, kH, kW) array
    dbias : (C_out,) array, or None when the forward pass had no bias
    """
    method, saved, weight, stride, padding, x_shape, has_bias = _check_cache(cache)
    dout = _check_dout(dout, weight, stride, padding, x_shape)

    if method == "im2col":
        dx, dweight, dbias = _conv2d_im2col_backward(dout, saved, weight, stride, padding,
                                                     x_shape)
    elif method == "gemm":
        dx, dweight, dbias = conv2d_gemm_backward(dout, saved, weight, stride, padding, x_shape)
    elif method == "fast":
        algorithm, kept = saved
        if algorithm == "winograd":
            dx, dweight, dbias = conv2d_winograd_backward(dout, kept, weight, padding)
        elif algorithm == "pointwise":
            dx, dweight, dbias = conv2d_pointwise_backward(dout, kept, weight)
        elif algorithm == "direct":
            dx, dweight, dbias = conv2d_direct_backward(dout, kept, weight, x_shape)
        elif algorithm == "im2col":
            dx, dweight, dbias = _conv2d_im2col_backward(dout, kept, weight, stride, padding,
                                                         x_shape)
        else:
            dx, dweight, dbias = conv2d_gemm_backward(dout, kept, weight, stride, padding,
                                                      x_shape)
    else:
        x_padded = saved
        if method == "naive":
            dx_padded, dweight, dbias = _conv2d_naive_backward(dout, x_padded, weight, stride)
        else:
            dx_padded = conv2d_loop_backward_input(dout, weight, stride[0], stride[1],
                                                   x_padded.shape[2], x_padded.shape[3])
            dweight = conv2d_loop_backward_weight(dout, x_padded, weight.shape[2],
                                                  weight.shape[3], stride[0], stride[1])
            dbias = dout.sum(axis=(0, 2, 3))
        dx = _unpad(dx_padded, padding)
    return dx, dweight, (dbias if has_bias else None)


def fast_algorithm(x_shape, weight_shape, stride, padding, dtype):
    """"pointwise", "direct", "winograd", "im2col" or "gemm": the algorithm that method "fast"
    runs for input shape (N, C_in, H, W), weight shape (C_out, C_in, kH, kW), stride and
    padding pairs, dtype.

    A 1x1 filter with stride 1 and no padding is one product per image (pointwise). A 3x3
    filter with padding 1 is summed directly below WINOGRAD_MIN_CHANNELS input channels and,
    from there, while C_in * C_out <= DIRECT_MAX_CHANNEL_PAIRS (stride 1) or
    DIRECT_STRIDE2_MAX_CHANNEL_PAIRS (stride 2). Winograd
    (F(4x4, 3x3) or F(2x2, r x r)) exists for square 3x3, 5x5 and 7x7 filters with stride 1,
    and pays from WINOGRAD_MIN_CHANNELS input channels (and, for 3x3, WINOGRAD_MIN_TILES 2x2
    output tiles); otherwise im2col while its column matrix is at most IM2COL_MAX_BYTES,
    else the chunked gemm."""
    if is_pointwise(weight_shape, stride, padding):
        return "pointwise"
    n_batch, in_channels = x_shape[:2]
    if is_direct(weight_shape, stride, padding):
        most_pairs = (DIRECT_MAX_CHANNEL_PAIRS if tuple(stride) == (1, 1)
                      else DIRECT_STRIDE2_MAX_CHANNEL_PAIRS)
        if in_channels < WINOGRAD_MIN_CHANNELS or in_channels * weight_shape[0] <= most_pairs:
            return "direct"
    out_h, out_w = ((size + 2 * pad - kernel) // step + 1 for size, kernel, step, pad in
                    zip(x_shape[2:], weight_shape[2:], stride, padding))
    tiles = n_batch * ((out_h + 1) // 2) * ((out_w + 1) // 2)
    kernel_h, kernel_w = weight_shape[2:]
    if (kernel_h == kernel_w and kernel_h in WINOGRAD_KERNELS and tuple(stride) == (1, 1)
            and in_channels >= WINOGRAD_MIN_CHANNELS
            and (tiles >= WINOGRAD_MIN_TILES or kernel_h > 3)):
        return "winograd"
    cols_bytes = (in_channels * weight_shape[2] * weight_shape[3] * n_batch * out_h * out_w
                  * np.dtype(dtype).itemsize)
    return "im2col" if cols_bytes <= IM2COL_MAX_BYTES else "gemm"


# --------------------------------------------------------------------------------------------
# "naive": the lecture's sum as Python loops (the reference every fast path is tested against)
# --------------------------------------------------------------------------------------------

def _conv2d_naive_forward(x_padded, weight, bias, stride):
    """Convolution forward pass with plain Python loops, exactly as the lecture writes it.

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s_h + u, j*s_w + v] + b[o]

    Loop over n, o, i, j; the sum over (c, u, v) is one ``np.sum`` over the window
    ``X_pad[n, :, i*s_h : i*s_h + kH, j*s_w : j*s_w + kW]`` multiplied by ``W[o]``.

    Parameters
    ----------
    x_padded : (N, C_in, H_pad, W_pad) array, the input already zero-padded
    weight : (C_out, C_in, kH, kW) array
    bias : (C_out,) array or None (None: no bias term)
    stride : (s_h, s_w) pair of ints

    Returns
    -------
    out : (N, C_out, H_out, W_out) array of x_padded's dtype,
          H_out = (H_pad - kH) // s_h + 1, W_out = (W_pad - kW) // s_w + 1
    """
    # BEGIN SOLUTION
    n_batch, _, padded_h, padded_w = x_padded.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = stride
    # H_out = floor((H_pad - kH) / s_h) + 1 (the padding is already in H_pad)
    out_h, out_w = output_shape2d(padded_h, padded_w, (kernel_h, kernel_w), stride, (0, 0),
                                  func=_FUNC)
    out = np.zeros((n_batch, out_channels, out_h, out_w), dtype=x_padded.dtype)
    for n in range(n_batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride_h, j * stride_w
                    window = x_padded[n, :, top:top + kernel_h, left:left + kernel_w]
                    out[n, o, i, j] = np.sum(weight[o] * window)    # sum over (c, u, v)
                    if bias is not None:
                        out[n, o, i, j] += bias[o]
    return out
    # END SOLUTION


def _conv2d_naive_backward(dout, x_padded, weight, stride):
    """Convolution backward pass with plain Python loops.

    For every output position (n, o, i, j), with g = dZ[n, o, i, j] and
    window = X_pad[n, :, i*s_h : i*s_h + kH, j*s_w : j*s_w + kW]  (shape (C_in, kH, kW)):

        dL/db[o]        += g
        dL/dW[o]        += g * window
        dL/dX_pad[n, :, i*s_h : i*s_h + kH, j*s_w : j*s_w + kW] += g * W[o]

    (the last line is the lecture's dX_pad[n, c, i*s + u, j*s + v] += W[o, c, u, v] * dZ[n, o, i, j]
    for all (c, u, v) at once; overlapping windows add up).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) array, dL/dZ
    x_padded : (N, C_in, H_pad, W_pad) array, the zero-padded input of the forward pass
    weight : (C_out, C_in, kH, kW) array
    stride : (s_h, s_w) pair of ints

    Returns
    -------
    dx_padded : (N, C_in, H_pad, W_pad) array, dL/dX_pad (the caller strips the padding)
    dweight : (C_out, C_in, kH, kW) array
    dbias : (C_out,) array
    """
    # BEGIN SOLUTION
    n_batch, out_channels, out_h, out_w = dout.shape
    _, _, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = stride
    dx_padded = np.zeros_like(x_padded)
    dweight = np.zeros_like(weight)
    dbias = np.zeros(out_channels, dtype=dout.dtype)
    for n in range(n_batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride_h, j * stride_w
                    grad = dout[n, o, i, j]
                    window = x_padded[n, :, top:top + kernel_h, left:left + kernel_w]
                    dbias[o] += grad
                    dweight[o] += grad * window
                    dx_padded[n, :, top:top + kernel_h, left:left + kernel_w] += grad * weight[o]
    return dx_padded, dweight, dbias
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# "im2col": unfold, then one matrix product
# --------------------------------------------------------------------------------------------

def _conv2d_im2col_forward(x, weight, bias, stride, padding):
    """Convolution as one matrix product over unfolded receptive fields.

    im2col writes every (C_in, kH, kW) window of X_pad as one column:

        cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]

    so the lecture's sum over (c, u, v) becomes a matrix product with the flattened filters:

        Z[n, o, i, j] = (W_mat @ cols)[o, (n, i, j)] + b[o],   W_mat = W.reshape(C_out, -1)

    For small layers the product is done image by image, W_mat @ cols[:, n-th block], which
    lands directly in NCHW order (see _per_image for why and when).

    Parameters
    ----------
    x : (N, C_in, H, W) array, unpadded (im2col writes the zeros of the padding itself)
    weight : (C_out, C_in, kH, kW) C-contiguous array
    bias : (C_out,) array or None
    stride, padding : (int, int) pairs

    Returns
    -------
    out : (N, C_out, H_out, W_out) C-contiguous array of x's dtype
    cols : (C_in*kH*kW, N*H_out*W_out) array, kept for the backward pass; built with
           ``im2col(x, kH, kW, s_h, s_w, p_h, p_w)`` (minicnn.kernels.conv)
    """
    # BEGIN SOLUTION
    n_batch = x.shape[0]
    out_channels, _, kernel_h, kernel_w = weight.shape
    cols = im2col(np.ascontiguousarray(x), kernel_h, kernel_w, *stride, *padding)
    weight_matrix = weight.reshape(out_channels, -1)             # (C_out, C_in*kH*kW)
    out_h, out_w = output_shape2d(x.shape[2], x.shape[3], (kernel_h, kernel_w), stride,
                                  padding, func=_FUNC)
    if _per_image(weight_matrix, cols, n_batch):
        # one product per image, each written straight into NCHW order: (N, C_out, H_out*W_out)
        out = weight_matrix @ _by_image(cols, n_batch)
        if bias is not None:
            out += bias[:, None]
        return out.reshape(n_batch, out_channels, out_h, out_w), cols
    out_matrix = weight_matrix @ cols                            # (C_out, N*H_out*W_out)
    # (C_out, N, H_out, W_out) -> (N, C_out, H_out, W_out), copied once into NCHW order
    out_by_channel = out_matrix.reshape(out_channels, n_batch, out_h, out_w)
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x.dtype)
    if bias is None:
        out[...] = out_by_channel.transpose(1, 0, 2, 3)
    else:
        np.add(out_by_channel.transpose(1, 0, 2, 3), bias.reshape(1, -1, 1, 1), out=out)
    return out, cols
    # END SOLUTION


def _conv2d_im2col_backward(dout, cols, weight, stride, padding, x_shape):
    """Backward pass of the im2col convolution: two matrix products and a col2im.

    With dZ_mat[o, (n, i, j)] = dZ[n, o, i, j]  (shape (C_out, N*H_out*W_out)):

        dL/db     = dZ_mat.sum(axis=1)
        dL/dW     = (dZ_mat @ cols.T).reshape(C_out, C_in, kH, kW)
        dL/dcols  = W_mat.T @ dZ_mat                       (C_in*kH*kW, N*H_out*W_out)
        dL/dX     = col2im(dL/dcols): every column entry added back onto the input pixel it
                    was copied from, X_pad[n, c, i*s_h + u, j*s_w + v], padding dropped;
                    ``col2im(dcols, N, C_in, H, W, kH, kW, s_h, s_w, p_h, p_w)``

    For small layers the same products run image by image on dZ[n] (C_out, H_out*W_out), a
    free reshape of dout, so dout is never transposed (see _per_image).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array
    cols : (C_in*kH*kW, N*H_out*W_out) array from the forward pass
    weight : (C_out, C_in, kH, kW) C-contiguous array
    stride, padding : (int, int) pairs
    x_shape : (N, C_in, H, W)

    Returns
    -------
    dx : (N, C_in, H, W) array
    dweight : (C_out, C_in, kH, kW) array
    dbias : (C_out,) array
    """
    # BEGIN SOLUTION
    n_batch, channels, height, width = x_shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    weight_matrix = weight.reshape(out_channels, -1)             # (C_out, C_in*kH*kW)
    if _per_image(weight_matrix, cols, n_batch):
        # dZ[n] = dout[n] as (C_out, H_out*W_out) (a free reshape) and cols[n] a view:
        #   dL/dW = sum_n dZ[n] @ cols[n].T,   dL/dcols[n] = W_mat.T @ dZ[n]
        dout_by_image = dout.reshape(n_batch, out_channels, -1)
        cols_by_image = _by_image(cols, n_batch)
        dbias = dout_by_image.sum(axis=2).sum(axis=0)
        dweight = np.zeros_like(weight_matrix)
        product = np.empty_like(weight_matrix)
        for n in range(n_batch):
            np.matmul(dout_by_image[n], cols_by_image[n].T, out=product)
            dweight += product
        dcols = np.empty_like(cols)
        np.matmul(weight_matrix.T, dout_by_image, out=_by_image(dcols, n_batch))
    else:
        # (N, C_out, H_out, W_out) -> (C_out, N, H_out, W_out) -> (C_out, N*H_out*W_out): a copy
        dout_matrix = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)
        dbias = dout_matrix.sum(axis=1)
        dweight = dout_matrix @ cols.T
        dcols = weight_matrix.T @ dout_matrix                    # (C_in*kH*kW, N*H_out*W_out)
    dx = col2im(dcols, n_batch, channels, height, width, kernel_h, kernel_w, *stride, *padding)
    return dx, dweight.reshape(weight.shape), dbias
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# Helpers: one product per image, or one for the batch
# --------------------------------------------------------------------------------------------

# OpenBLAS computes a product of m*n*k < 4 * 65536 multiply-adds on one thread (its
# GEMM_MULTITHREAD_THRESHOLD); larger ones wake its threads. Below that size the im2col method
# does one product per image (N of them, no transposed copies, each output block small enough
# to stay in cache); above it, one product for the whole batch, because N products that each
# wake the BLAS threads are ruinous on a busy machine. Lecture CNN, N=64, float32, median ms:
#   conv1 (32 x 9 x 784 per image: per image)  forward 1.0 vs 5.5-6.3 for one batch product,
#     backward products 1.6 vs 6.7 (2 BLAS threads; see the commit message for the step)
#   conv2 (64 x 288 x 196 per image: one product) forward, 2 BLAS threads: per image 72,
#     one product 16; 1 thread: both about 10
_PER_IMAGE_MAX_PRODUCT = 4 * 65536


def _per_image(weight_matrix, cols, n_batch):
    """Is one image's product W_mat @ cols[n] small enough to run per image (see above)?"""
    rows, positions = cols.shape[0], cols.shape[1] // n_batch
    return weight_matrix.shape[0] * rows * positions < _PER_IMAGE_MAX_PRODUCT


def _by_image(cols, n_batch):
    """The (C_in*kH*kW, N*H_out*W_out) column matrix seen as N matrices (N, C_in*kH*kW,
    H_out*W_out), a view: cols_by_image[n] = cols[:, n*H_out*W_out : (n+1)*H_out*W_out]."""
    rows = cols.shape[0]
    return cols.reshape(rows, n_batch, -1).transpose(1, 0, 2)


# --------------------------------------------------------------------------------------------
# Helpers: padding and input checks
# --------------------------------------------------------------------------------------------

def _pad(x, padding):
    """X_pad: ``x`` with ``padding`` zeros on each side of H and W, as a new C-contiguous
    array (one preallocated buffer and one copy; cheaper than np.pad)."""
    pad_h, pad_w = padding
    if pad_h == 0 and pad_w == 0:
        return np.ascontiguousarray(x)
    n_batch, channels, height, width = x.shape
    x_padded = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w),
                        dtype=x.dtype)
    x_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = x
    return x_padded


def _unpad(x_padded, padding):
    """The inverse of _pad: the interior of ``x_padded``, C-contiguous."""
    pad_h, pad_w = padding
    if pad_h == 0 and pad_w == 0:
        return x_padded
    height = x_padded.shape[2] - 2 * pad_h
    width = x_padded.shape[3] - 2 * pad_w
    return np.ascontiguousarray(x_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width])


def _check_method(method):
    if method is None:
        return DEFAULT_METHOD
    if method not in CONV_METHODS:
        valid = ", ".join(repr(m) for m in CONV_METHODS)
        raise ValueError(f"{_FUNC}: unknown method {method!r}; valid methods are {valid} "
                         f"(or None for the default, {DEFAULT_METHOD!r})")
    return method


def _check_inputs(x, weight, bias):
    """Fail early, naming conv2d and the shapes, instead of deep inside NumPy."""
    check_array(x, "x", _FUNC)
    check_array(weight, "weight", _FUNC)
    if x.ndim != 4:
        hint = " (a single image? add the batch axis: x[None])" if x.ndim == 3 else ""
        raise ValueError(f"{_FUNC}: x must be 4-d (N, C_in, H, W), got shape {x.shape}{hint}")
    if weight.ndim != 4:
        raise ValueError(f"{_FUNC}: weight must be 4-d (C_out, C_in, kH, kW), "
                         f"got shape {weight.shape}")
    if x.dtype != weight.dtype:
        raise TypeError(f"{_FUNC}: x is {x.dtype} but weight is {weight.dtype}; they must "
                        f"match (convert one, e.g. x.astype(np.{weight.dtype}))")
    if min(weight.shape) < 1:
        raise ValueError(f"{_FUNC}: weight shape {weight.shape} has an empty axis; "
                         f"expected (C_out, C_in, kH, kW), all >= 1")
    out_channels, in_channels = weight.shape[:2]
    if x.shape[1] != in_channels:
        raise ValueError(f"{_FUNC}: input has {x.shape[1]} channels but weight expects "
                         f"{in_channels} (weight shape {weight.shape}, x shape {x.shape}); "
                         f"in_channels must equal the channels of the input")
    if bias is not None:
        check_array(bias, "bias", _FUNC)
        if bias.shape != (out_channels,):
            raise ValueError(f"{_FUNC}: bias must have shape (C_out,) = ({out_channels},) "
                             f"for weight shape {weight.shape}, got shape {bias.shape}")
        if bias.dtype != x.dtype:
            raise TypeError(f"{_FUNC}: bias is {bias.dtype} but x and weight are {x.dtype}; "
                            f"they must match")


def _check_cache(cache):
    if not (isinstance(cache, tuple) and len(cache) == 7 and cache[0] in CONV_METHODS):
        raise TypeError(f"{_FUNC_BACKWARD}: cache must be the tuple returned by "
                        f"conv2d_forward (method, saved, weight, stride, padding, x_shape, "
                        f"has_bias), got {type(cache).__name__}")
    return cache


def _check_dout(dout, weight, stride, padding, x_shape):
    check_array(dout, "dout", _FUNC_BACKWARD, ndim=4)
    out_hw = output_shape2d(x_shape[2], x_shape[3], weight.shape[2:], stride, padding,
                            func=_FUNC_BACKWARD)
    expected = (x_shape[0], weight.shape[0], *out_hw)
    if dout.shape != expected:
        raise ValueError(f"{_FUNC_BACKWARD}: dout has shape {dout.shape} but the forward "
                         f"output had shape {expected} (N, C_out, H_out, W_out)")
    return np.ascontiguousarray(dout, dtype=weight.dtype)
