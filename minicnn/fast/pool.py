"""Max and average pooling as Numba loops: the contract of minicnn/functional/pool.py, faster.

The same argument checks and caches as the lecture's functions (whose helpers this module
calls), with the windows walked by the kernels of minicnn/fast/kernels/pool.py: one pass over
the input, no padded copy, no window view; the lecture's MaxPool2d(2) runs an unrolled 2x2
kernel. Inputs holding NaN go to the lecture's max pooling, which propagates NaN like PyTorch
(the kernels skip that test for speed).
"""

from __future__ import annotations

import numpy as np

from minicnn.fast.kernels import pool as kernels
from minicnn.functional import pool as lecture

__all__ = ["max_pool2d_forward_fused", "max_pool2d_backward_fused",
           "avg_pool2d_forward_fused", "avg_pool2d_backward_fused"]


def max_pool2d_forward_fused(x, kernel_size, stride=None, padding=0):
    """minicnn.functional.max_pool2d_forward with Numba kernels."""
    kernel, stride, padding, (out_h, out_w) = lecture.pool_arguments(
        x, kernel_size, stride, padding, "max_pool2d_forward")
    if np.isnan(x).any():
        return lecture.max_pool2d_forward(x, kernel, stride, padding)
    x_c = np.ascontiguousarray(x)
    if kernel == (2, 2) and stride == (2, 2) and padding == (0, 0):
        out, argmax = kernels.max_pool2d_forward_2x2(x_c, out_h, out_w)
    else:
        out, argmax = kernels.max_pool2d_forward_loop(x_c, *kernel, *stride, *padding, out_h,
                                                      out_w)
    return out, (x.shape, argmax, kernel, stride, padding)


def max_pool2d_backward_fused(dout, cache):
    """minicnn.functional.max_pool2d_backward with a Numba scatter."""
    func = "max_pool2d_backward"
    x_shape, argmax, kernel, stride, padding = lecture.unpack_pool_cache(
        cache, 5, func, "(x_shape, argmax, kernel_size, stride, padding)")
    x_shape, kernel, stride, padding = lecture.check_pool_dout(dout, x_shape, kernel, stride,
                                                               padding, func)
    lecture.check_argmax(argmax, dout, x_shape, func, bounds=False)
    dx, n_bad = kernels.max_pool2d_backward_loop(np.ascontiguousarray(dout),
                                                 np.ascontiguousarray(argmax), *x_shape[2:])
    if n_bad:      # the kernel counted indices outside the plane: the lecture's message
        lecture.check_argmax(argmax, dout, x_shape, func)
    return dx


def avg_pool2d_forward_fused(x, kernel_size, stride=None, padding=0):
    """minicnn.functional.avg_pool2d_forward with a Numba loop."""
    kernel, stride, padding, (out_h, out_w) = lecture.pool_arguments(
        x, kernel_size, stride, padding, "avg_pool2d_forward")
    out = kernels.avg_pool2d_forward_loop(np.ascontiguousarray(x), *kernel, *stride, *padding,
                                          out_h, out_w)
    return out, (x.shape, kernel, stride, padding)


def avg_pool2d_backward_fused(dout, cache):
    """minicnn.functional.avg_pool2d_backward with a Numba loop."""
    func = "avg_pool2d_backward"
    x_shape, kernel, stride, padding = lecture.unpack_pool_cache(
        cache, 4, func, "(x_shape, kernel_size, stride, padding)")
    x_shape, kernel, stride, padding = lecture.check_pool_dout(dout, x_shape, kernel, stride,
                                                               padding, func)
    return kernels.avg_pool2d_backward_loop(np.ascontiguousarray(dout), *x_shape[2:], *kernel,
                                            *stride, *padding)
