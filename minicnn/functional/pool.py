"""Pooling layers (NCHW): max_pool2d, avg_pool2d, global_avg_pool2d and adaptive_avg_pool2d,
forward and backward.

    MaxPool(X)[n, c, i, j] = max  over (u, v) in R(i, j) of X[n, c, u, v]
    AvgPool(X)[n, c, i, j] = mean over (u, v) in R(i, j) of X[n, c, u, v]

The window R(i, j) holds input rows ``u = i*sH - pH, ..., i*sH - pH + kH - 1`` and columns
``v = j*sW - pW, ..., j*sW - pW + kW - 1``; the output size is
``H_out = floor((H + 2*pH - kH) / sH) + 1`` (likewise W_out), decided in one place for conv and
pooling alike (:func:`minicnn.functional._common.output_shape2d`). The semantics are PyTorch's:
stride defaults to kernel_size, max pooling pads with -inf (padding never wins), average pooling
pads with zeros that count in the divisor (``count_include_pad=True``), padding may be at most
half the kernel, and a tie in a max window goes to the first maximum in row-major order.

How this file is organised
--------------------------
- The public functions (``max_pool2d_forward``, ...) are what notebooks, models and graders
  call. Each one's docstring is its full specification; its body, between ``# BEGIN SOLUTION``
  and ``# END SOLUTION``, is the NumPy a student writes from it (the instructor tool replaces
  it with ``raise NotImplementedError``); only the final ``return`` stays.
- :func:`pool_arguments` (argument checks and output size), :func:`unpack_pool_cache`,
  :func:`check_pool_dout` and :func:`check_argmax` (backward checks) are helpers a student's
  solution may call as they are.
- Global and adaptive average pooling are not assignment tasks: they are written out in full.
- Training runs Numba kernels with the same contract (minicnn/fast/pool.py), tested against
  the functions here.

Caches are plain tuples of arrays and Python ints (listed in each forward's docstring), so a
backward can run on a cache made by another implementation's forward, PyTorch's included: for
max pooling ``argmax`` holds the same flat indices as ``torch.nn.functional.max_pool2d(...,
return_indices=True)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minicnn.functional._common import as_pair, check_array, output_shape2d

__all__ = [
    "pool_arguments", "unpack_pool_cache", "check_pool_dout", "check_argmax",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
]


# --------------------------------------------------------------------------------------------
# Helpers: argument checks shared by the forward and backward passes
# --------------------------------------------------------------------------------------------

def pool_arguments(x, kernel_size, stride, padding, func):
    """Check ``x`` and normalise the pooling arguments, as PyTorch's MaxPool2d/AvgPool2d do.

    Returns ``(kernel, stride, padding, (out_h, out_w))`` with each of the first three an
    ``(int, int)`` pair; ``stride=None`` means ``stride = kernel_size``. Raises ``TypeError`` /
    ``ValueError`` naming ``func`` and the numbers it got.
    """
    check_array(x, "x", func, ndim=4)
    kernel = as_pair(kernel_size, "kernel_size", func)
    stride = kernel if stride is None else as_pair(stride, "stride", func)
    padding = as_pair(padding, "padding", func, minimum=0)
    if any(2 * pad > size for pad, size in zip(padding, kernel)):
        raise ValueError(
            f"{func}: padding {padding} is more than half of kernel_size {kernel}; like "
            f"PyTorch, pooling requires padding <= kernel_size / 2 along each axis "
            f"(otherwise a window could hold nothing but padding)")
    try:
        out_hw = output_shape2d(x.shape[2], x.shape[3], kernel, stride, padding, func=func)
    except ValueError as err:
        raise ValueError(f"{err}; x has shape {x.shape} (N, C, H, W), kernel_size={kernel}, "
                         f"stride={stride}, padding={padding}") from None
    return kernel, stride, padding, out_hw


def check_pool_dout(dout, x_shape, kernel, stride, padding, func):
    """Check ``dout`` against the forward output shape that a cache implies.

    Returns ``(x_shape, kernel, stride, padding)`` normalised: ``x_shape`` a tuple of 4 ints,
    the others ``(int, int)`` pairs (a cache from another implementation may hold plain ints).
    """
    check_array(dout, "dout", func, ndim=4)
    x_shape = tuple(int(size) for size in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"{func}: the cache's input shape must be (N, C, H, W), got {x_shape}")
    kernel = as_pair(kernel, "kernel_size", func)
    stride = as_pair(stride, "stride", func)
    padding = as_pair(padding, "padding", func, minimum=0)
    expected = x_shape[:2] + output_shape2d(x_shape[2], x_shape[3], kernel, stride, padding,
                                            func=func)
    if dout.shape != expected:
        raise ValueError(f"{func}: dout must have the forward output's shape {expected} "
                         f"(input {x_shape}, kernel_size={kernel}, stride={stride}, "
                         f"padding={padding}), got {dout.shape}")
    return x_shape, kernel, stride, padding


def unpack_pool_cache(cache, length, func, layout):
    """Return ``cache`` if it is a tuple (or list) of ``length`` items, else raise TypeError."""
    if not isinstance(cache, (tuple, list)) or len(cache) != length:
        raise TypeError(f"{func}: cache must be the tuple {layout} returned by the forward "
                        f"pass, got {type(cache).__name__}"
                        + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else ""))
    return cache


def check_argmax(argmax, dout, x_shape, func, *, bounds=True):
    """Check a max-pooling cache's ``argmax``: integer flat indices shaped like ``dout``, each
    in [0, H*W) (``bounds=False`` skips that pass, for a caller that counts them itself);
    raise TypeError / ValueError naming ``func`` otherwise."""
    if not isinstance(argmax, np.ndarray) or not np.issubdtype(argmax.dtype, np.integer):
        raise TypeError(f"{func}: the cache's argmax must be an integer numpy array of flat "
                        f"indices, got {type(argmax).__name__}"
                        + (f" of dtype {argmax.dtype}" if isinstance(argmax, np.ndarray) else ""))
    if argmax.shape != dout.shape:
        raise ValueError(f"{func}: the cache's argmax must have the shape of dout {dout.shape}, "
                         f"got {argmax.shape}")
    if not bounds:
        return
    plane_size = x_shape[2] * x_shape[3]
    n_bad = int(np.count_nonzero((argmax < 0) | (argmax >= plane_size)))
    if n_bad:
        raise ValueError(f"{func}: {n_bad} argmax entries lie outside [0, H*W) = [0, "
                         f"{plane_size}) for input shape {x_shape}; argmax must hold flat "
                         f"indices u*W + v into each (n, c) plane of the input")


# --------------------------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------------------------

def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling: the largest value in each (kH x kW) window, per sample and channel.

    MaxPool(X)[n, c, i, j] = max over (u, v) in R(i, j) of X[n, c, u, v]

    The window R(i, j) holds input rows u = i*sH - pH, ..., i*sH - pH + kH - 1 and columns
    v = j*sW - pW, ..., j*sW - pW + kW - 1. Padding positions (u or v outside the input)
    count as -inf: they never win. A NaN in a window propagates to the output.

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64 array
    kernel_size : int or (int, int)
        (kH, kW), each >= 1.
    stride : int or (int, int), optional
        (sH, sW), each >= 1; defaults to kernel_size, like torch.nn.MaxPool2d.
    padding : int or (int, int), default 0
        (pH, pW), each >= 0 and at most half the kernel: 2*pH <= kH, 2*pW <= kW (PyTorch's rule).

    Returns
    -------
    out : (N, C, H_out, W_out) array, the dtype of x, where
        H_out = floor((H + 2*pH - kH) / sH) + 1 and W_out = floor((W + 2*pW - kW) / sW) + 1
    cache : tuple (x_shape, argmax, kernel_size, stride, padding)
        x_shape : the tuple (N, C, H, W).
        argmax : (N, C, H_out, W_out) int64 array; argmax[n, c, i, j] = u*W + v, the flat index
            within the (n, c) plane of the input position that won window (i, j) (the indices
            torch.nn.functional.max_pool2d(..., return_indices=True) returns). On a tie the
            first maximum in row-major window order wins, as in PyTorch on the CPU.
        kernel_size, stride, padding : (int, int) pairs, normalised as above.

    Raises
    ------
    TypeError
        x is not a float32/float64 numpy array, or an argument is not an int or a pair of ints.
    ValueError
        x is not 4-d; kernel_size or stride < 1; padding < 0 or more than half the kernel; or
        the kernel is larger than the padded input (H_out < 1 or W_out < 1). The message names
        max_pool2d_forward and the numbers.
    """
    # BEGIN SOLUTION
    kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                              "max_pool2d_forward")
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w) = kernel, stride, padding
    n_batch, channels, height, width = x.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)),
                      constant_values=-np.inf)                 # padding never wins
    # every window, without a copy: (N, C, H_pad - kH + 1, W_pad - kW + 1, kH, kW) ...
    windows = sliding_window_view(x_padded, (kernel_h, kernel_w), axis=(2, 3))
    # ... then every stride-th one, each flattened in row-major order: (N, C, H_out, W_out, kH*kW)
    windows = windows[:, :, ::stride_h, ::stride_w]
    windows = windows.reshape(n_batch, channels, out_h, out_w, kernel_h * kernel_w)

    position = np.argmax(windows, axis=-1)        # 0 .. kH*kW - 1, the first max on a tie
    out = np.take_along_axis(windows, position[..., None], axis=-1)[..., 0]
    # window (i, j) starts at row i*sH - pH and column j*sW - pW of the input
    rows = (np.arange(out_h) * stride_h - pad_h)[:, None] + position // kernel_w
    cols = (np.arange(out_w) * stride_w - pad_w)[None, :] + position % kernel_w
    # a window of nothing but -inf "wins" on padding: point at its first input pixel instead
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    rows = np.where(inside, rows, np.maximum(rows - position // kernel_w, 0))
    cols = np.where(inside, cols, np.maximum(cols - position % kernel_w, 0))
    argmax = (rows * width + cols).astype(np.int64)             # flat index u*W + v
    cache = (x.shape, argmax, kernel, stride, padding)
    # END SOLUTION
    return out, cache


def max_pool2d_backward(dout, cache):
    """Backward pass of max_pool2d_forward: each upstream gradient flows, unchanged, to the one
    input position that won its window; every other input gets zero from that window.

    dL/dX[n, c, u, v] = sum of dout[n, c, i, j] over the windows (i, j) with
                        argmax[n, c, i, j] = u*W + v

    With overlapping windows (stride < kernel_size) one input can win several windows: its
    gradients add up.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float32 or float64 array
        The upstream gradient dL/d(out).
    cache : tuple (x_shape, argmax, kernel_size, stride, padding)
        As returned by max_pool2d_forward (see there); argmax may come from another
        implementation, e.g. PyTorch's return_indices, if it holds the same flat indices.

    Returns
    -------
    dx : (N, C, H, W) array, the dtype of dout

    Raises
    ------
    TypeError
        dout is not a float array, cache is not a 5-tuple, or argmax is not an integer array.
    ValueError
        dout does not have the forward output's shape, argmax not the shape of dout, or an
        argmax entry lies outside [0, H*W).
    """
    # BEGIN SOLUTION
    x_shape, argmax, kernel, stride, padding = unpack_pool_cache(
        cache, 5, "max_pool2d_backward", "(x_shape, argmax, kernel_size, stride, padding)")
    x_shape, kernel, stride, padding = check_pool_dout(dout, x_shape, kernel, stride,
                                                       padding, "max_pool2d_backward")
    check_argmax(argmax, dout, x_shape, "max_pool2d_backward")
    n_batch, channels, height, width = x_shape
    planes = n_batch * channels
    dx = np.zeros((planes, height * width), dtype=dout.dtype)
    flat_argmax = argmax.reshape(planes, -1)                     # (N*C, H_out*W_out)
    plane = np.broadcast_to(np.arange(planes)[:, None], flat_argmax.shape)
    # np.add.at does not buffer: an input that won several windows gets the sum of their dout
    np.add.at(dx, (plane, flat_argmax), dout.reshape(planes, -1))
    dx = dx.reshape(x_shape)
    # END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------------------------

def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Average pooling: the mean of each (kH x kW) window, per sample and channel.

    AvgPool(X)[n, c, i, j] = 1 / (kH*kW) * sum over (u, v) in R(i, j) of X[n, c, u, v]

    The window R(i, j) holds input rows u = i*sH - pH, ..., i*sH - pH + kH - 1 and columns
    v = j*sW - pW, ..., j*sW - pW + kW - 1. Padding positions count as zeros and still count in
    the divisor kH*kW (PyTorch's default count_include_pad=True).

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64 array
    kernel_size : int or (int, int)
        (kH, kW), each >= 1.
    stride : int or (int, int), optional
        (sH, sW), each >= 1; defaults to kernel_size, like torch.nn.AvgPool2d.
    padding : int or (int, int), default 0
        (pH, pW), each >= 0 and at most half the kernel: 2*pH <= kH, 2*pW <= kW (PyTorch's rule).

    Returns
    -------
    out : (N, C, H_out, W_out) array, the dtype of x, where
        H_out = floor((H + 2*pH - kH) / sH) + 1 and W_out = floor((W + 2*pW - kW) / sW) + 1
    cache : tuple (x_shape, kernel_size, stride, padding)
        x_shape : the tuple (N, C, H, W); kernel_size, stride, padding : (int, int) pairs.

    Raises
    ------
    TypeError
        x is not a float32/float64 numpy array, or an argument is not an int or a pair of ints.
    ValueError
        x is not 4-d; kernel_size or stride < 1; padding < 0 or more than half the kernel; or
        the kernel is larger than the padded input. The message names avg_pool2d_forward.
    """
    # BEGIN SOLUTION
    kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                              "avg_pool2d_forward")
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w) = kernel, stride, padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))   # zeros count
    windows = sliding_window_view(x_padded, (kernel_h, kernel_w), axis=(2, 3))
    windows = windows[:, :, ::stride_h, ::stride_w]            # (N, C, H_out, W_out, kH, kW)
    out = windows.sum(axis=(-2, -1)) / (kernel_h * kernel_w)
    cache = (x.shape, kernel, stride, padding)
    # END SOLUTION
    return out, cache


def avg_pool2d_backward(dout, cache):
    """Backward pass of avg_pool2d_forward: each window shares its upstream gradient equally
    among its kH*kW positions; the shares that fall on padding are dropped.

    dL/dX[n, c, u, v] = sum over the windows (i, j) that contain (u, v) of
                        dout[n, c, i, j] / (kH*kW)

    Overlapping windows (stride < kernel_size) add up; an input in no window gets zero.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float32 or float64 array
        The upstream gradient dL/d(out).
    cache : tuple (x_shape, kernel_size, stride, padding)
        As returned by avg_pool2d_forward.

    Returns
    -------
    dx : (N, C, H, W) array, the dtype of dout

    Raises
    ------
    TypeError
        dout is not a float array or cache is not a 4-tuple.
    ValueError
        dout does not have the forward output's shape.
    """
    # BEGIN SOLUTION
    x_shape, kernel, stride, padding = unpack_pool_cache(
        cache, 4, "avg_pool2d_backward", "(x_shape, kernel_size, stride, padding)")
    x_shape, kernel, stride, padding = check_pool_dout(dout, x_shape, kernel, stride,
                                                       padding, "avg_pool2d_backward")
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w) = kernel, stride, padding
    n_batch, channels, height, width = x_shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    dx_padded = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w),
                         dtype=dout.dtype)
    share = dout / (kernel_h * kernel_w)
    # position (a, b) of window (i, j) is padded pixel (i*sH + a, j*sW + b): one strided slice
    for a in range(kernel_h):
        for b in range(kernel_w):
            dx_padded[:, :, a:a + stride_h * out_h:stride_h,
                      b:b + stride_w * out_w:stride_w] += share
    dx = dx_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width].copy()   # padding dropped
    # END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------
# Global average pooling
# --------------------------------------------------------------------------------------------

def global_avg_pool2d_forward(x):
    """Global average pooling: the mean of each whole feature map, like
    ``torch.nn.AdaptiveAvgPool2d(1)``.

    GAP(X)[n, c, 0, 0] = 1 / (H*W) * sum over u, v of X[n, c, u, v]

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64 array, H, W >= 1

    Returns
    -------
    out : (N, C, 1, 1) array, the dtype of x
    cache : tuple (x_shape,), x_shape the tuple (N, C, H, W)
    """
    func = "global_avg_pool2d_forward"
    check_array(x, "x", func, ndim=4)
    if x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"{func}: x must have H, W >= 1 to average over, got shape {x.shape}")
    out = x.mean(axis=(2, 3), keepdims=True)
    return out, (x.shape,)


def global_avg_pool2d_backward(dout, cache):
    """Backward pass of global_avg_pool2d_forward: every position of a feature map gets an
    equal share of its gradient.

    dL/dX[n, c, u, v] = dout[n, c, 0, 0] / (H*W)

    Parameters
    ----------
    dout : (N, C, 1, 1) float32 or float64 array
    cache : tuple (x_shape,) from global_avg_pool2d_forward

    Returns
    -------
    dx : (N, C, H, W) array, the dtype of dout
    """
    func = "global_avg_pool2d_backward"
    (x_shape,) = unpack_pool_cache(cache, 1, func, "(x_shape,)")
    check_array(dout, "dout", func, ndim=4)
    x_shape = tuple(int(size) for size in x_shape)
    if len(x_shape) != 4 or dout.shape != x_shape[:2] + (1, 1):
        raise ValueError(f"{func}: dout must have shape (N, C, 1, 1) = {x_shape[:2] + (1, 1)} "
                         f"for input shape {x_shape}, got {dout.shape}")
    height, width = x_shape[2], x_shape[3]
    return np.broadcast_to(dout / (height * width), x_shape).copy()


# --------------------------------------------------------------------------------------------
# Adaptive average pooling
# --------------------------------------------------------------------------------------------

def adaptive_output_size(output_size, height, width, func):
    """``(out_h, out_w)`` from ``output_size``: an int, or a pair whose ``None`` entries keep
    the input's size along that axis (PyTorch's convention). Each size must be >= 1."""
    resolved = output_size
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        resolved = tuple(size if size is not None else default
                         for size, default in zip(output_size, (height, width)))
    try:
        return as_pair(resolved, "output_size", func)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{func}: output_size must be an int >= 1 or a pair of them (None "
                        f"keeps the input's size), got {output_size!r}") from None


def adaptive_bins(in_size, out_size):
    """The windows of adaptive pooling along one axis: ``[(start, end), ...]``, one per output.

    Output cell i averages the input positions start_i <= u < end_i, with

        start_i = floor(i * in_size / out_size),    end_i = ceil((i + 1) * in_size / out_size)

    (PyTorch's rule). The windows cover the whole axis. When out_size divides in_size they
    tile it, like AvgPool with kernel = stride = in_size / out_size; otherwise neighbours i and
    i + 1 share a position wherever (i + 1) * in_size / out_size is not a whole number.

    >>> adaptive_bins(7, 3)
    [(0, 3), (2, 5), (4, 7)]
    """
    return [((i * in_size) // out_size, -((-(i + 1) * in_size) // out_size))
            for i in range(out_size)]


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling, like ``torch.nn.functional.adaptive_avg_pool2d``: you choose
    the output size, and each output cell averages its own window of the input.

    AdaptiveAvgPool(X)[n, c, i, j] = mean of X[n, c, u, v] over rows_i x cols_j
        rows_i = [floor(i*H/H_out), ceil((i+1)*H/H_out)),
        cols_j = [floor(j*W/W_out), ceil((j+1)*W/W_out))

    When H_out divides H (and W_out divides W) this is AvgPool2d with kernel = stride = H/H_out;
    otherwise neighbouring windows overlap (see :func:`adaptive_bins`). ``output_size=1`` is
    global average pooling.

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64 array, H, W >= 1
    output_size : int or (int or None, int or None)
        (H_out, W_out), each >= 1; None keeps the input's size along that axis. H_out may
        exceed H (windows then repeat input rows), as in PyTorch.

    Returns
    -------
    out : (N, C, H_out, W_out) array, the dtype of x
    cache : tuple (x_shape, output_size)
        x_shape : the tuple (N, C, H, W); output_size : the pair (H_out, W_out).

    Raises
    ------
    TypeError
        x is not a float32/float64 numpy array, or output_size is not an int or a pair.
    ValueError
        x is not 4-d or has H or W < 1, or an output size is < 1. The message names
        adaptive_avg_pool2d_forward.
    """
    func = "adaptive_avg_pool2d_forward"
    check_array(x, "x", func, ndim=4)
    n_batch, channels, height, width = x.shape
    if height < 1 or width < 1:
        raise ValueError(f"{func}: x must have H, W >= 1 to average over, got shape {x.shape}")
    out_h, out_w = adaptive_output_size(output_size, height, width, func)
    out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
    # One vectorised mean per output cell: at most H_out*W_out small windows, each over (N, C).
    for i, (top, bottom) in enumerate(adaptive_bins(height, out_h)):
        for j, (left, right) in enumerate(adaptive_bins(width, out_w)):
            out[:, :, i, j] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))
    return out, (x.shape, (out_h, out_w))


def adaptive_avg_pool2d_backward(dout, cache):
    """Backward pass of adaptive_avg_pool2d_forward: each output cell shares its gradient
    equally among the positions of its window.

    dL/dX[n, c, u, v] = sum over the cells (i, j) whose window holds (u, v) of
                        dout[n, c, i, j] / (len(rows_i) * len(cols_j))

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float32 or float64 array
    cache : tuple (x_shape, output_size) from adaptive_avg_pool2d_forward

    Returns
    -------
    dx : (N, C, H, W) array, the dtype of dout

    Raises
    ------
    TypeError
        dout is not a float array or cache is not a 2-tuple.
    ValueError
        dout does not have the shape (N, C, H_out, W_out) the cache implies.
    """
    func = "adaptive_avg_pool2d_backward"
    x_shape, output_size = unpack_pool_cache(cache, 2, func, "(x_shape, output_size)")
    check_array(dout, "dout", func, ndim=4)
    x_shape = tuple(int(size) for size in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"{func}: the cache's input shape must be (N, C, H, W), got {x_shape}")
    out_h, out_w = as_pair(output_size, "output_size", func)
    if dout.shape != x_shape[:2] + (out_h, out_w):
        raise ValueError(f"{func}: dout must have the forward output's shape "
                         f"{x_shape[:2] + (out_h, out_w)} (input {x_shape}, output_size="
                         f"{(out_h, out_w)}), got {dout.shape}")
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i, (top, bottom) in enumerate(adaptive_bins(x_shape[2], out_h)):
        for j, (left, right) in enumerate(adaptive_bins(x_shape[3], out_w)):
            area = (bottom - top) * (right - left)
            dx[:, :, top:bottom, left:right] += (dout[:, :, i, j] / area)[:, :, None, None]
    return dx
