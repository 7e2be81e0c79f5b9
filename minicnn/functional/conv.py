"""2-d convolution (cross-correlation, as in PyTorch): the lecture's sum, its gradients, and
three ways to compute them.

For image n, filter o and output position (i, j), with X_pad the input with p zeros on each
side and stride s:

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s + u, j*s + v] + b[o]

    H_out = floor((H + 2p - k) / s) + 1        (and likewise W_out)

The chain rule, one term of the sum at a time, gives the three gradients:

    dL/db[o]          = sum_n sum_i sum_j dZ[n, o, i, j]
    dL/dW[o, c, u, v] = sum_n sum_i sum_j dZ[n, o, i, j] * X_pad[n, c, i*s + u, j*s + v]
    dL/dX_pad[n, c, i*s + u, j*s + v] += W[o, c, u, v] * dZ[n, o, i, j]   (every o, u, v, i, j)

and dL/dX is dL/dX_pad without its padding. ``method=`` picks who computes them:

- ``"naive"``:  Python loops that read like the sum above; the reference, and very slow.
- ``"loop"``:   the same loops compiled with Numba (minicnn/kernels/conv.py).
- ``"im2col"``: every receptive field copied into a column, then ONE matrix product.
- ``"fast"`` (the default) and ``"gemm"``: the engine's algorithms (minicnn/fast/conv/), which
  compute the same numbers faster and are tested against the three above.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional import fast_paths
from minicnn.functional._common import as_pair, check_array, output_shape2d
from minicnn.kernels.conv import (conv2d_loop_backward_input, conv2d_loop_backward_weight,
                                  conv2d_loop_forward)

__all__ = ["CONV_METHODS", "DEFAULT_METHOD", "conv2d_forward", "conv2d_backward"]

CONV_METHODS = ("naive", "loop", "im2col", "gemm", "fast")
# The lecture's own methods, written below: they always compute all three gradients. The
# others are the engine's, which skip dL/dX and dL/db when nobody needs them.
LECTURE_METHODS = ("naive", "loop", "im2col")
# The fastest on every layer measured, PyTorch's pace or better (benchmarks/HISTORY.md,
# "Convolution at PyTorch's pace"); a student copy points this at "im2col".
DEFAULT_METHOD = "fast"

_FUNC = "conv2d"
_FUNC_BACKWARD = "conv2d_backward"


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
        saved : what that method's backward pass needs: for "naive" and "loop", the padded
                input X_pad (N, C_in, H + 2p_h, W + 2p_w); for "im2col", the columns
                (C_in*kH*kW, N*H_out*W_out); for "gemm" and "fast", the engine's own
                (see minicnn/fast/conv/)
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
    weight = np.ascontiguousarray(weight)

    forward, _ = _method_functions(method)
    out, saved = forward(x, weight, bias, stride, padding)

    expected_shape = (n_batch, weight.shape[0], out_h, out_w)
    if getattr(out, "shape", None) != expected_shape:      # a student's method, usually
        raise ValueError(f"{_FUNC}(method={method!r}): the implementation returned an output of "
                         f"shape {getattr(out, 'shape', type(out).__name__)}, expected "
                         f"{expected_shape} (N, C_out, H_out, W_out) with H_out = "
                         f"floor((H + 2*padding - kH) / stride) + 1")
    cache = (method, saved, weight, stride, padding, tuple(x.shape), bias is not None)
    return out, cache


def conv2d_backward(dout, cache, input_gradient=True):
    """Gradients of the convolution with respect to its input, weight and bias.

    dL/db[o]          = sum_n sum_i sum_j dZ[n, o, i, j]
    dL/dW[o, c, u, v] = sum_n sum_i sum_j dZ[n, o, i, j] * X_pad[n, c, i*s + u, j*s + v]
    dL/dX_pad[n, c, i*s + u, j*s + v] += W[o, c, u, v] * dZ[n, o, i, j]

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) array, dL/dZ; cast to the forward pass's dtype
    cache : the cache returned by conv2d_forward (any method; the same method runs backward)
    input_gradient : False when nothing needs dL/dX, as for a network's first layer, whose
        input is the data: dx is then None, and the engine's methods skip its work (they
        skip dL/db's sum too when the forward pass had no bias, as ResNet's layers)

    Returns
    -------
    dx : (N, C_in, H, W) array (None when input_gradient is False)
    dweight : (C_out, C_in, kH, kW) array
    dbias : (C_out,) array, or None when the forward pass had no bias
    """
    method, saved, weight, stride, padding, x_shape, has_bias = _check_cache(cache)
    dout = _check_dout(dout, weight, stride, padding, x_shape)
    _, backward = _method_functions(method)
    if method in LECTURE_METHODS:
        dx, dweight, dbias = backward(dout, saved, weight, stride, padding, x_shape)
    else:
        dx, dweight, dbias = backward(dout, saved, weight, stride, padding, x_shape,
                                      input_gradient=input_gradient, bias_gradient=has_bias)
    return (dx if input_gradient else None), dweight, (dbias if has_bias else None)


# --------------------------------------------------------------------------------------------
# The methods. Each is a pair with one contract:
#   forward(x, weight, bias, stride, padding) -> (out, saved)
#   backward(dout, saved, weight, stride, padding, x_shape) -> (dx, dweight, dbias)
# "gemm" and "fast" are the engine's, registered in minicnn/functional/fast_paths.py.
# --------------------------------------------------------------------------------------------

def _method_functions(method):
    """The (forward, backward) pair that computes ``method``."""
    if method == "naive":
        return _naive_forward, _naive_backward
    if method == "loop":
        return _loop_forward, _loop_backward
    if method == "im2col":
        return _conv2d_im2col_forward, _conv2d_im2col_backward
    return fast_paths.conv_method(method)


def _naive_forward(x, weight, bias, stride, padding):
    x_padded = _pad(x, padding)                        # X_pad: (N, C_in, H + 2p_h, W + 2p_w)
    return _conv2d_naive_forward(x_padded, weight, bias, stride), x_padded


def _naive_backward(dout, x_padded, weight, stride, padding, x_shape):
    dx_padded, dweight, dbias = _conv2d_naive_backward(dout, x_padded, weight, stride)
    return _unpad(dx_padded, padding), dweight, dbias


def _loop_forward(x, weight, bias, stride, padding):
    x_padded = _pad(x, padding)
    out = conv2d_loop_forward(x_padded, weight, stride[0], stride[1])
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out, x_padded


def _loop_backward(dout, x_padded, weight, stride, padding, x_shape):
    dx_padded = conv2d_loop_backward_input(dout, weight, stride[0], stride[1],
                                           x_padded.shape[2], x_padded.shape[3])
    dweight = conv2d_loop_backward_weight(dout, x_padded, weight.shape[2], weight.shape[3],
                                          stride[0], stride[1])
    return _unpad(dx_padded, padding), dweight, dout.sum(axis=(0, 2, 3))


# --------------------------------------------------------------------------------------------
# "naive": the lecture's sum as Python loops (the reference every other method is tested against)
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
# "im2col": copy every receptive field into a column, then one matrix product
# --------------------------------------------------------------------------------------------

def _conv2d_im2col_forward(x, weight, bias, stride, padding):
    """Convolution as one matrix product over unfolded receptive fields.

    im2col writes every (C_in, kH, kW) window of X_pad as one column:

        cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]

    so the lecture's sum over (c, u, v) becomes a matrix product with the flattened filters:

        Z[n, o, i, j] = (W_mat @ cols)[o, (n, i, j)] + b[o],   W_mat = W.reshape(C_out, -1)

    For one tap (u, v) of the kernel, the entries X_pad[n, c, i*s_h + u, j*s_w + v] of every
    (n, c, i, j) are the strided slice X_pad[:, :, u::s_h, v::s_w] (H_out x W_out of it), so
    the columns are kH*kW slice copies.

    Parameters
    ----------
    x : (N, C_in, H, W) array, unpadded
    weight : (C_out, C_in, kH, kW) C-contiguous array
    bias : (C_out,) array or None
    stride, padding : (int, int) pairs

    Returns
    -------
    out : (N, C_out, H_out, W_out) C-contiguous array of x's dtype
    cols : (C_in*kH*kW, N*H_out*W_out) array, row (c*kH + u)*kW + v, column
           (n*H_out + i)*W_out + j; kept for the backward pass
    """
    # BEGIN SOLUTION
    n_batch, channels, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = stride
    out_h, out_w = output_shape2d(height, width, (kernel_h, kernel_w), stride, padding,
                                  func=_FUNC)
    x_padded = _pad(x, padding)                       # (N, C_in, H + 2p_h, W + 2p_w)
    cols = np.empty((channels, kernel_h, kernel_w, n_batch, out_h, out_w), dtype=x.dtype)
    for u in range(kernel_h):
        for v in range(kernel_w):
            # X_pad[n, c, i*s_h + u, j*s_w + v] for every (n, c, i, j): (N, C_in, H_out, W_out)
            tap = x_padded[:, :, u:u + stride_h * out_h:stride_h, v:v + stride_w * out_w:stride_w]
            cols[:, u, v] = tap.transpose(1, 0, 2, 3)
    cols = cols.reshape(channels * kernel_h * kernel_w, n_batch * out_h * out_w)

    weight_matrix = weight.reshape(out_channels, -1)            # (C_out, C_in*kH*kW)
    out_matrix = weight_matrix @ cols                           # (C_out, N*H_out*W_out)
    if bias is not None:
        out_matrix += bias[:, None]
    # (C_out, N, H_out, W_out) -> (N, C_out, H_out, W_out)
    out = out_matrix.reshape(out_channels, n_batch, out_h, out_w).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), cols
    # END SOLUTION


def _conv2d_im2col_backward(dout, cols, weight, stride, padding, x_shape):
    """Backward pass of the im2col convolution: two matrix products and a col2im.

    With dZ_mat[o, (n, i, j)] = dZ[n, o, i, j]  (shape (C_out, N*H_out*W_out)):

        dL/db     = dZ_mat.sum(axis=1)
        dL/dW     = (dZ_mat @ cols.T).reshape(C_out, C_in, kH, kW)
        dL/dcols  = W_mat.T @ dZ_mat                       (C_in*kH*kW, N*H_out*W_out)
        dL/dX     = col2im(dL/dcols): every column entry added back onto the input pixel it
                    was copied from, X_pad[n, c, i*s_h + u, j*s_w + v], padding dropped

    col2im is im2col run backwards: for each kernel tap (u, v), the slice
    dX_pad[:, :, u::s_h, v::s_w] receives its entries of dL/dcols; where windows overlap, a
    pixel receives several and they add up.

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
    _, _, out_h, out_w = dout.shape
    stride_h, stride_w = stride
    pad_h, pad_w = padding
    # (N, C_out, H_out, W_out) -> (C_out, N, H_out, W_out) -> (C_out, N*H_out*W_out)
    dout_matrix = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)
    dbias = dout_matrix.sum(axis=1)
    dweight = (dout_matrix @ cols.T).reshape(weight.shape)
    weight_matrix = weight.reshape(out_channels, -1)            # (C_out, C_in*kH*kW)
    dcols = weight_matrix.T @ dout_matrix                       # (C_in*kH*kW, N*H_out*W_out)

    dcols = dcols.reshape(channels, kernel_h, kernel_w, n_batch, out_h, out_w)
    dx_padded = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w),
                         dtype=dout.dtype)
    for u in range(kernel_h):
        for v in range(kernel_w):
            # the tap's entries go back where im2col took them from: (N, C_in, H_out, W_out)
            dx_padded[:, :, u:u + stride_h * out_h:stride_h,
                      v:v + stride_w * out_w:stride_w] += dcols[:, u, v].transpose(1, 0, 2, 3)
    dx = _unpad(dx_padded, padding)
    return dx, dweight, dbias
    # END SOLUTION


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
