"""Batch normalisation as fused Numba loops: the contract of minicnn/functional/norm.py,
faster.

NumPy evaluates ``gamma * (x - mean) / sqrt(var + eps) + beta`` one operator at a time, each a
full pass over the activation with a fresh temporary; here the statistics are two read-only
passes with float64 accumulators, normalisation and the affine map fold into one
multiply-add per element, and the backward pass is one read pass for its two sums and one
pass for dx (minicnn/fast/kernels/elementwise.py). The arrays are seen as (N, C, L): L = H*W,
or 1 for BatchNorm1d's (N, F), both free reshapes.
"""

from __future__ import annotations

import numpy as np

from minicnn.fast.kernels.elementwise import (batch_norm_affine, batch_norm_backward_dx,
                                              batch_norm_backward_sums, batch_norm_stats)
from minicnn.functional import check_array
from minicnn.functional.norm import check_batch_norm_args

__all__ = ["batch_norm_forward_fused", "batch_norm_backward_fused"]


def batch_norm_forward_fused(x, weight, bias, running_mean, running_var, training,
                             momentum=0.1, eps=1e-5):
    """minicnn.functional.batch_norm_forward with fused kernels (same cache)."""
    check_batch_norm_args(x, weight, bias, running_mean, running_var, training, momentum, eps)
    n_batch, channels = x.shape[:2]
    x3 = x.reshape(n_batch, channels, -1)               # (N, C, L)
    if training:
        mean, var = batch_norm_stats(x3)                # float64 (C,): mu_c, biased sigma_c^2
        if running_mean is not None:
            m = x3.shape[0] * x3.shape[2]
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (m / (m - 1))
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    inv_std = 1.0 / np.sqrt(var + eps)
    # gamma * (x - mu) * inv_std + beta == x * scale + shift, one multiply-add per element
    scale = inv_std if weight is None else weight * inv_std
    shift = -mean * scale if bias is None else bias - mean * scale
    out = batch_norm_affine(x3, scale.astype(x.dtype), shift.astype(x.dtype)).reshape(x.shape)
    cache = (x, mean.astype(x.dtype), inv_std.astype(x.dtype), weight, bias, bool(training))
    return out, cache


def batch_norm_backward_fused(dout, cache):
    """minicnn.functional.batch_norm_backward with fused kernels.

    dx = gamma_scale * dout + centred_scale * (x - mean) + offset, per channel, with
    gamma_scale = gamma * inv_std and, in training, centred_scale = -gamma_scale * inv_std *
    sum(dout * x_hat) / m and offset = -gamma_scale * sum(dout) / m (both 0 in evaluation).
    """
    x, mean, inv_std, weight, bias, training = cache
    check_array(dout, "dout", "batch_norm_backward")
    if dout.shape != x.shape:
        raise ValueError(f"batch_norm_backward: dout has shape {dout.shape} but the input to "
                         f"batch_norm_forward had shape {x.shape}")
    n_batch, channels = x.shape[:2]
    x3 = x.reshape(n_batch, channels, -1)
    dout3 = dout.reshape(n_batch, channels, -1)
    m = x3.shape[0] * x3.shape[2]
    inv_std64 = inv_std.astype(np.float64)
    sum_dout, sum_dout_centred = batch_norm_backward_sums(dout3, x3, mean)   # float64 (C,)
    sum_dout_xhat = sum_dout_centred * inv_std64         # sum(dout * x_hat) = dgamma
    gamma_scale = inv_std64 if weight is None else weight * inv_std64
    if training:
        centred_scale = -gamma_scale * inv_std64 * sum_dout_xhat / m
        offset = -gamma_scale * sum_dout / m
    else:
        centred_scale = offset = np.zeros(channels)
    dtype = dout.dtype
    dx = batch_norm_backward_dx(dout3, x3, mean, gamma_scale.astype(dtype),
                                centred_scale.astype(dtype), offset.astype(dtype))
    dweight = None if weight is None else sum_dout_xhat.astype(weight.dtype)
    dbias = None if bias is None else sum_dout.astype(bias.dtype)
    return dx.reshape(x.shape), dweight, dbias
