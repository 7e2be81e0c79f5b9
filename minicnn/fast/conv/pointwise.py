"""1x1 convolution with stride 1 and no padding, as a matrix product per image.

For a 1x1 filter the lecture's sum has no window left, only the channels:

    Z[n, o, i, j] = sum_c W[o, c, 0, 0] * X[n, c, i, j] + b[o]

so with X[n] seen as a (C_in, H*W) matrix (a free reshape of NCHW) every image is one product,

    Z[n] (C_out, H*W) = W_mat (C_out, C_in) @ X[n] (C_in, H*W) + b,

written straight into NCHW order: no column matrix (im2col's would be X itself, copied and
transposed into (C_in, N*H*W)) and no transposes of the output. The backward pass:

    dL/dX[n] = W_mat.T @ dZ[n],   dL/dW = sum_n dZ[n] @ X[n].T,   dL/db = sum of dZ

Method "fast" runs it for every 1x1, stride-1, unpadded layer (minicnn/functional/conv.py,
fast_algorithm); measured against im2col and PyTorch in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv2d_pointwise_forward", "conv2d_pointwise_backward", "is_pointwise"]


def is_pointwise(weight_shape, stride, padding) -> bool:
    """A 1x1 filter, stride 1 and no padding: the layers this file computes."""
    return (tuple(weight_shape[2:]) == (1, 1) and tuple(stride) == (1, 1)
            and tuple(padding) == (0, 0))


def conv2d_pointwise_forward(x, weight, bias):
    """Forward pass of a 1x1, stride-1, unpadded convolution.

    Parameters
    ----------
    x : (N, C_in, H, W) array, checked by conv2d_forward
    weight : (C_out, C_in, 1, 1) array of x's dtype
    bias : (C_out,) array or None

    Returns
    -------
    out : (N, C_out, H, W) C-contiguous array
    x_saved : x as a C-contiguous array (x itself when it already is), for the backward pass
    """
    x = np.ascontiguousarray(x)
    n_batch, channels, height, width = x.shape
    weight_matrix = weight.reshape(weight.shape[0], channels)          # (C_out, C_in)
    out = np.matmul(weight_matrix, x.reshape(n_batch, channels, -1))   # (N, C_out, H*W)
    if bias is not None:
        out += bias[:, None]
    return out.reshape(n_batch, -1, height, width), x


def conv2d_pointwise_backward(dout, x, weight, bias_gradient=True):
    """Backward pass of conv2d_pointwise_forward.

    Parameters
    ----------
    dout : (N, C_out, H, W) C-contiguous array of x's dtype
    x : the second value returned by conv2d_pointwise_forward
    weight : (C_out, C_in, 1, 1) array
    bias_gradient : False when dL/db is not needed (the layer has no bias)

    Returns
    -------
    dx : (N, C_in, H, W) array
    dweight : (C_out, C_in, 1, 1) array
    dbias : (C_out,) array, or None when bias_gradient is False
    """
    n_batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    weight_matrix = weight.reshape(out_channels, channels)
    dout_by_image = dout.reshape(n_batch, out_channels, -1)            # (N, C_out, H*W)
    x_by_image = x.reshape(n_batch, channels, -1)                      # (N, C_in, H*W)
    dx = np.matmul(weight_matrix.T, dout_by_image).reshape(x.shape)
    # dL/dW = sum_n dZ[n] @ X[n].T, accumulated image by image (no transposed copies)
    dweight = np.zeros((out_channels, channels), dtype=x.dtype)
    product = np.empty_like(dweight)
    for n in range(n_batch):
        np.matmul(dout_by_image[n], x_by_image[n].T, out=product)
        dweight += product
    dbias = dout_by_image.sum(axis=2).sum(axis=0) if bias_gradient else None
    return dx, dweight.reshape(weight.shape), dbias
