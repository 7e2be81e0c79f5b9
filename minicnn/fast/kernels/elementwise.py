"""Fused per-channel loops for BatchNorm and ReLU, each next to the NumPy twin it is tested against.

Why kernels here at all: NumPy evaluates ``gamma * (x - mean) / sqrt(var + eps) + beta`` one
operator at a time, and each operator is a full pass over the activation with a fresh
temporary. For the lecture CNN's activations (64 x 32 x 28 x 28 float32 = 6.4 MB) memory
traffic, not arithmetic, is the cost, so fusing passes pays:

- ``batch_norm_stats``: mean and (biased) variance per channel, two read-only passes with
  float64 accumulators (the two-pass formula, stable where ``E[x^2] - E[x]^2`` is not);
- ``batch_norm_affine``: ``out = x * scale[c] + shift[c]``, normalisation and the affine map
  folded into one multiply-add per element;
- ``batch_norm_backward_sums``: ``sum(dout)`` and ``sum(dout * (x - mean))`` per channel in one
  read pass over ``dout`` and ``x`` (so the cache can hold ``x`` and no ``x_hat`` is stored);
- ``batch_norm_backward_dx``: ``dx = a[c] * dout + b[c] * (x - mean[c]) + k[c]``, one pass;
- ``relu_forward_kernel`` / ``relu_backward_kernel``: one pass each; ``np.maximum`` and
  ``dout * (x > 0)`` are several times slower (NaN handling, a boolean temporary);
- ``tanh_backward_kernel`` / ``sigmoid_backward_kernel``: ``dout * (1 - y * y)`` and
  ``dout * y * (1 - y)`` in one pass instead of three, with NumPy's operations in NumPy's
  order (no fastmath), so the result is the lecture's to the last bit.

Every function takes arrays shaped ``(N, C, L)``: BatchNorm1d's ``(N, F)`` is ``(N, F, 1)`` and
BatchNorm2d's ``(N, C, H, W)`` is ``(N, C, H*W)`` (both are free reshapes). Each kernel is built
twice (minicnn/fast/kernels/_two_builds.py): serial, which runs on one thread (the only build that
ran before threads were worth it: on a busy machine a parallel region waits for its slowest
thread, a scheduler time slice), and a parallel build over the ``prange`` loop, which runs
when the user gave Numba more than one thread.

``fastmath={"reassoc", "contract"}`` lets LLVM vectorise the reductions (sums are reordered, so
results differ from NumPy's in the last bits); it does not assume away NaN or infinity.
With ``NUMBA_DISABLE_JIT=1`` every kernel runs as the plain Python below.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minicnn.fast.kernels._two_builds import serial_and_parallel

_FASTMATH = {"reassoc", "contract"}


# --------------------------------------------------------------------------- BatchNorm


@serial_and_parallel(cache=True, fastmath=_FASTMATH)
def batch_norm_stats(x3):
    """Per-channel mean and biased variance of ``x3`` (N, C, L), as float64 arrays (C,).

    mu_c = 1/m sum_{n,l} x[n, c, l],   sigma_c^2 = 1/m sum_{n,l} (x[n, c, l] - mu_c)^2,  m = N*L
    """
    n_batch, channels, length = x3.shape
    m = n_batch * length
    mean = np.empty(channels, np.float64)
    var = np.empty(channels, np.float64)
    for c in prange(channels):               # channels are independent
        total = 0.0
        for n in range(n_batch):
            for i in range(length):
                total += x3[n, c, i]
        mu = total / m
        squares = 0.0
        for n in range(n_batch):
            for i in range(length):
                centred = x3[n, c, i] - mu
                squares += centred * centred
        mean[c] = mu
        var[c] = squares / m
    return mean, var


def batch_norm_stats_numpy(x3):
    """NumPy twin of ``batch_norm_stats``."""
    x64 = x3.astype(np.float64)
    mean = np.add.reduce(x64, axis=(0, 2)) / (x3.shape[0] * x3.shape[2])
    var = np.add.reduce((x64 - mean[:, None]) ** 2, axis=(0, 2)) / (x3.shape[0] * x3.shape[2])
    return mean, var


@serial_and_parallel(cache=True, fastmath=_FASTMATH)
def batch_norm_affine(x3, scale, shift):
    """``out[n, c, l] = x3[n, c, l] * scale[c] + shift[c]``, a new array like ``x3``.

    With scale = gamma / sqrt(var + eps) and shift = beta - mean * scale this is BatchNorm's
    gamma * x_hat + beta in one multiply-add per element.
    """
    n_batch, channels, length = x3.shape
    out = np.empty(x3.shape, x3.dtype)
    for n in prange(n_batch):
        for c in range(channels):
            a = scale[c]
            b = shift[c]
            for i in range(length):
                out[n, c, i] = x3[n, c, i] * a + b
    return out


def batch_norm_affine_numpy(x3, scale, shift):
    """NumPy twin of ``batch_norm_affine``."""
    return x3 * scale[:, None] + shift[:, None]


@serial_and_parallel(cache=True, fastmath=_FASTMATH)
def batch_norm_backward_sums(dout3, x3, mean):
    """Per-channel ``sum(dout)`` and ``sum(dout * (x - mean))`` over (N, L), float64 (C,) each.

    Divided by the std, the second is BatchNorm's ``sum(dout * x_hat)``, i.e. dgamma.
    """
    n_batch, channels, length = x3.shape
    sum_dout = np.empty(channels, np.float64)
    sum_dout_centred = np.empty(channels, np.float64)
    for c in prange(channels):
        mu = mean[c]
        total = 0.0
        total_centred = 0.0
        for n in range(n_batch):
            for i in range(length):
                g = dout3[n, c, i]
                total += g
                total_centred += g * (x3[n, c, i] - mu)
        sum_dout[c] = total
        sum_dout_centred[c] = total_centred
    return sum_dout, sum_dout_centred


def batch_norm_backward_sums_numpy(dout3, x3, mean):
    """NumPy twin of ``batch_norm_backward_sums``."""
    dout64 = dout3.astype(np.float64)
    centred = x3.astype(np.float64) - mean[:, None]
    return (np.add.reduce(dout64, axis=(0, 2)),
            np.add.reduce(dout64 * centred, axis=(0, 2)))


@serial_and_parallel(cache=True, fastmath=_FASTMATH)
def batch_norm_backward_dx(dout3, x3, mean, gamma_scale, centred_scale, offset):
    """``dx[n, c, l] = gamma_scale[c] * dout[n, c, l] + centred_scale[c] * (x[n, c, l] -
    mean[c]) + offset[c]``.

    BatchNorm's closed-form input gradient, with the per-channel constants folded:
    gamma_scale = gamma * inv_std, centred_scale = -gamma_scale * inv_std^2 * sum(dout * (x -
    mu)) / m, offset = -gamma_scale * sum(dout) / m (minicnn/fast/norm.py).
    """
    n_batch, channels, length = x3.shape
    dx = np.empty(dout3.shape, dout3.dtype)
    for n in prange(n_batch):
        for c in range(channels):
            mu = mean[c]
            scale_dout = gamma_scale[c]
            scale_centred = centred_scale[c]
            shift = offset[c]
            for i in range(length):
                dx[n, c, i] = (scale_dout * dout3[n, c, i] + scale_centred * (x3[n, c, i] - mu)
                               + shift)
    return dx


def batch_norm_backward_dx_numpy(dout3, x3, mean, gamma_scale, centred_scale, offset):
    """NumPy twin of ``batch_norm_backward_dx``."""
    return (gamma_scale[:, None] * dout3 + centred_scale[:, None] * (x3 - mean[:, None])
            + offset[:, None]).astype(dout3.dtype, copy=False)


# --------------------------------------------------------------------------- ReLU


@serial_and_parallel(cache=True)
def _relu_forward_flat(x):
    out = np.empty(x.shape, x.dtype)
    zero = x.dtype.type(0)                    # typed: no int/float unification in the loop
    for i in prange(x.size):
        value = x[i]
        out[i] = zero if value < zero else value    # NaN is not < 0: it propagates, as torch
    return out


@serial_and_parallel(cache=True)
def _relu_backward_flat(dout, x):
    dx = np.empty(dout.shape, dout.dtype)
    zero = dout.dtype.type(0)
    for i in prange(dout.size):
        dx[i] = dout[i] if x[i] > 0 else zero
    return dx


def relu_forward_kernel(x):
    """``max(0, x)`` elementwise, any shape, in one pass (NaN propagates)."""
    return _relu_forward_flat(x.reshape(-1)).reshape(x.shape)


def relu_forward_numpy(x):
    """NumPy twin of ``relu_forward_kernel``."""
    return np.maximum(x, 0)


def relu_backward_kernel(dout, x):
    """``dout`` where ``x > 0``, else 0; any shape (``dout`` and ``x`` alike), dtype of dout."""
    return _relu_backward_flat(dout.reshape(-1), x.reshape(-1)).reshape(dout.shape)


def relu_backward_numpy(dout, x):
    """NumPy twin of ``relu_backward_kernel``."""
    return np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)


@serial_and_parallel(cache=True)
def _tanh_backward_flat(dout, out):
    dx = np.empty(dout.shape, dout.dtype)
    one = out.dtype.type(1)
    for i in prange(dout.size):
        dx[i] = dout[i] * (one - out[i] * out[i])
    return dx


@serial_and_parallel(cache=True)
def _sigmoid_backward_flat(dout, out):
    dx = np.empty(dout.shape, dout.dtype)
    one = out.dtype.type(1)
    for i in prange(dout.size):
        dx[i] = dout[i] * out[i] * (one - out[i])
    return dx


def tanh_backward_kernel(dout, out):
    """``dout * (1 - out * out)``, out = tanh(x); any shape, one dtype for both."""
    return _tanh_backward_flat(dout.reshape(-1), out.reshape(-1)).reshape(dout.shape)


def tanh_backward_numpy(dout, out):
    """NumPy twin of ``tanh_backward_kernel``."""
    return dout * (1 - out * out)


def sigmoid_backward_kernel(dout, out):
    """``dout * out * (1 - out)``, out = sigmoid(x); any shape, one dtype for both."""
    return _sigmoid_backward_flat(dout.reshape(-1), out.reshape(-1)).reshape(dout.shape)


def sigmoid_backward_numpy(dout, out):
    """NumPy twin of ``sigmoid_backward_kernel``."""
    return dout * out * (1 - out)
