"""The im2col convolution as the engine runs it: the columns unfolded with NumPy's stride
tricks and folded back by a Numba col2im (minicnn/kernels/conv.py), and, on small layers, one
matrix product per image, which lands in NCHW order with no transposed copy.

It computes what the lecture's ``method="im2col"`` computes (minicnn/functional/conv.py), with
the same columns; the tests hold the two to each other.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional import output_shape2d
from minicnn.kernels.conv import col2im, im2col_numpy

__all__ = ["conv2d_im2col_forward", "conv2d_im2col_backward"]

_FUNC = "conv2d"


def conv2d_im2col_forward(x, weight, bias, stride, padding):
    """The lecture's ``_conv2d_im2col_forward`` (its docstring has the formulas), with the
    same arguments and the same columns: ``(out, cols)``, out C-contiguous NCHW. Small layers
    multiply image by image, W_mat @ cols[:, n-th block], which lands in NCHW order with no
    transposed copy (see _per_image for when)."""
    n_batch = x.shape[0]
    out_channels, _, kernel_h, kernel_w = weight.shape
    cols = im2col_numpy(np.ascontiguousarray(x), kernel_h, kernel_w, *stride, *padding)
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


def conv2d_im2col_backward(dout, cols, weight, stride, padding, x_shape, input_gradient=True,
                           bias_gradient=True):
    """The lecture's ``_conv2d_im2col_backward``: ``(dx, dweight, dbias)`` from the forward
    pass's columns, folded back by the Numba ``col2im``. Small layers run the products image
    by image on dZ[n] (C_out, H_out*W_out), a free reshape of dout, so dout is never
    transposed. ``input_gradient=False``: dx is None, neither computed nor folded;
    ``bias_gradient=False``: dbias is None, not summed."""
    n_batch, channels, height, width = x_shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    weight_matrix = weight.reshape(out_channels, -1)             # (C_out, C_in*kH*kW)
    if _per_image(weight_matrix, cols, n_batch):
        # dZ[n] = dout[n] as (C_out, H_out*W_out) (a free reshape) and cols[n] a view:
        #   dL/dW = sum_n dZ[n] @ cols[n].T,   dL/dcols[n] = W_mat.T @ dZ[n]
        dout_by_image = dout.reshape(n_batch, out_channels, -1)
        cols_by_image = _by_image(cols, n_batch)
        dbias = dout_by_image.sum(axis=2).sum(axis=0) if bias_gradient else None
        dweight = np.zeros_like(weight_matrix)
        product = np.empty_like(weight_matrix)
        for n in range(n_batch):
            np.matmul(dout_by_image[n], cols_by_image[n].T, out=product)
            dweight += product
        if not input_gradient:
            return None, dweight.reshape(weight.shape), dbias
        dcols = np.empty_like(cols)
        np.matmul(weight_matrix.T, dout_by_image, out=_by_image(dcols, n_batch))
    else:
        # (N, C_out, H_out, W_out) -> (C_out, N, H_out, W_out) -> (C_out, N*H_out*W_out): a copy
        dout_matrix = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)
        dbias = dout_matrix.sum(axis=1) if bias_gradient else None
        dweight = dout_matrix @ cols.T
        if not input_gradient:
            return None, dweight.reshape(weight.shape), dbias
        dcols = weight_matrix.T @ dout_matrix                    # (C_in*kH*kW, N*H_out*W_out)
    dx = col2im(dcols, n_batch, channels, height, width, kernel_h, kernel_w, *stride, *padding)
    return dx, dweight.reshape(weight.shape), dbias


# OpenBLAS computes a product of m*n*k < 4 * 65536 multiply-adds on one thread (its
# GEMM_MULTITHREAD_THRESHOLD); larger ones wake its threads. Below that size one product per
# image (no transposed copies, each block small enough to stay in cache) is faster; above it
# one product for the batch, since N products that each wake the BLAS threads are slow on a
# busy machine (benchmarks/HISTORY.md, "im2col: one product per image").
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
