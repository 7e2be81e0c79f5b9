"""Numba kernels for max and average pooling (NCHW), one small loop nest per pass.

Each kernel has a readable, vectorised NumPy twin in :mod:`minicnn.functional.pool`
(``_max_pool2d_forward_numpy`` and friends) and the tests hold every kernel to its twin. The
kernels take arguments already checked and normalised by :mod:`minicnn.functional.pool`:

- ``x`` / ``dout``: C-contiguous float32 or float64 arrays, (N, C, H, W) / (N, C, H_out, W_out);
- ``kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w``: ints, ``pad <= kernel // 2``;
- ``out_h, out_w``: the output size, ``floor((H + 2*pad - kernel) / stride) + 1``.

Window (i, j) covers input rows ``i*stride_h - pad_h ... + kernel_h - 1`` and columns
``j*stride_w - pad_w ... + kernel_w - 1``; positions outside the input are padding. Max
pooling treats padding as -inf (it never wins), average pooling as zeros that still count in
the divisor ``kernel_h * kernel_w`` (PyTorch's ``count_include_pad=True``).

``argmax`` holds, for each output, the flat index ``u * W + v`` of the winning input position
in its (n, c) plane, exactly like PyTorch's ``max_pool2d(..., return_indices=True)``. Ties go
to the first maximum in row-major window order (strict ``>``), as on PyTorch's CPU.

The max-pooling kernels assume ``x`` holds no NaN (a NaN never compares ``>``, so it would be
dropped): minicnn/fast/pool.py sends inputs with NaN to the lecture's NumPy max pooling, which
propagates NaN like PyTorch. Keeping the NaN test out of the inner loop lets LLVM compile the
compare into a branch-free select (benchmarks/HISTORY.md, "Fused elementwise kernels").

The kernels loop over the N*C planes with ``prange``; planes are independent (each plane of
``dx`` is written by one iteration only), so the loop needs no locks. Each is built twice
(minicnn/fast/kernels/_two_builds.py): the serial build runs on one thread, the parallel one
when minicnn runs more.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minicnn.fast.kernels._two_builds import serial_and_parallel



@serial_and_parallel(cache=True)
def max_pool2d_forward_loop(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                            out_h, out_w):
    """General max pooling. Returns ``(out, argmax)``, both (N, C, out_h, out_w)."""
    n_batch, channels, height, width = x.shape
    out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
    argmax = np.empty((n_batch, channels, out_h, out_w), dtype=np.int64)
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for i in range(out_h):
            top = i * stride_h - pad_h
            u_start = max(top, 0)
            u_stop = min(top + kernel_h, height)
            for j in range(out_w):
                left = j * stride_w - pad_w
                v_start = max(left, 0)
                v_stop = min(left + kernel_w, width)
                # start from the first position inside the input: padding never wins
                best = x[n, c, u_start, v_start]
                best_index = u_start * width + v_start
                for u in range(u_start, u_stop):
                    for v in range(v_start, v_stop):
                        value = x[n, c, u, v]
                        # strict '>' keeps the first maximum in row-major order
                        if value > best:
                            best = value
                            best_index = u * width + v
                out[n, c, i, j] = best
                argmax[n, c, i, j] = best_index
    return out, argmax


@serial_and_parallel(cache=True)
def max_pool2d_forward_2x2(x, out_h, out_w):
    """Max pooling with kernel 2, stride 2, padding 0 (the lecture's MaxPool2d(2)), unrolled.

    Same result as ``max_pool2d_forward_loop(x, 2, 2, 2, 2, 0, 0, out_h, out_w)``.
    """
    n_batch, channels, height, width = x.shape
    out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
    argmax = np.empty((n_batch, channels, out_h, out_w), dtype=np.int64)
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for i in range(out_h):
            u = 2 * i
            for j in range(out_w):
                v = 2 * j
                best = x[n, c, u, v]
                best_index = u * width + v
                # the other three positions in row-major order: (u, v+1), (u+1, v), (u+1, v+1)
                value = x[n, c, u, v + 1]
                if value > best:
                    best = value
                    best_index = u * width + v + 1
                value = x[n, c, u + 1, v]
                if value > best:
                    best = value
                    best_index = (u + 1) * width + v
                value = x[n, c, u + 1, v + 1]
                if value > best:
                    best = value
                    best_index = (u + 1) * width + v + 1
                out[n, c, i, j] = best
                argmax[n, c, i, j] = best_index
    return out, argmax


@serial_and_parallel(cache=True)
def max_pool2d_backward_loop(dout, argmax, height, width):
    """Route each ``dout[n, c, i, j]`` to the input position ``argmax[n, c, i, j]`` (a flat
    index ``u * width + v``); overlapping windows add up.

    Returns ``(dx, n_bad)``: ``n_bad`` counts indices outside ``[0, height * width)``; they are
    skipped (never written out of bounds) and the caller raises.
    """
    n_batch, channels, out_h, out_w = dout.shape
    plane_size = height * width
    dx = np.zeros((n_batch, channels, plane_size), dtype=dout.dtype)
    n_bad = 0
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for i in range(out_h):
            for j in range(out_w):
                index = argmax[n, c, i, j]
                if 0 <= index < plane_size:
                    dx[n, c, index] += dout[n, c, i, j]
                else:
                    n_bad += 1
    return dx.reshape(n_batch, channels, height, width), n_bad


@serial_and_parallel(cache=True)
def avg_pool2d_forward_loop(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                            out_h, out_w):
    """Average pooling, padding counted as zeros (divide by ``kernel_h * kernel_w``).

    Sums in float64, then stores in the dtype of ``x``.
    """
    n_batch, channels, height, width = x.shape
    out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
    pool_size = kernel_h * kernel_w
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for i in range(out_h):
            top = i * stride_h - pad_h
            u_start = max(top, 0)
            u_stop = min(top + kernel_h, height)
            for j in range(out_w):
                left = j * stride_w - pad_w
                v_start = max(left, 0)
                v_stop = min(left + kernel_w, width)
                total = 0.0
                for u in range(u_start, u_stop):
                    for v in range(v_start, v_stop):
                        total += x[n, c, u, v]
                out[n, c, i, j] = total / pool_size
    return out


@serial_and_parallel(cache=True)
def avg_pool2d_backward_loop(dout, height, width, kernel_h, kernel_w, stride_h, stride_w,
                             pad_h, pad_w):
    """Spread each ``dout[n, c, i, j] / (kernel_h * kernel_w)`` over the input positions of
    window (i, j); overlapping windows add up, the share of padding is dropped."""
    n_batch, channels, out_h, out_w = dout.shape
    dx = np.zeros((n_batch, channels, height, width), dtype=dout.dtype)
    pool_size = kernel_h * kernel_w
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for i in range(out_h):
            top = i * stride_h - pad_h
            u_start = max(top, 0)
            u_stop = min(top + kernel_h, height)
            for j in range(out_w):
                left = j * stride_w - pad_w
                v_start = max(left, 0)
                v_stop = min(left + kernel_w, width)
                share = dout[n, c, i, j] / pool_size
                for u in range(u_start, u_stop):
                    for v in range(v_start, v_stop):
                        dx[n, c, u, v] += share
    return dx
