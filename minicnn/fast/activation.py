"""ReLU, and tanh's and the sigmoid's backward passes, as one-pass Numba loops: the contract of
minicnn/functional/activation.py, faster.

``np.maximum(x, 0)`` and ``np.where(x > 0, dout, 0)`` make extra passes (NaN handling, a
boolean temporary), and ``dout * (1 - y * y)`` three with two temporaries; on a network's
activations memory traffic is the cost, so one pass pays (benchmarks/HISTORY.md, "Fused
elementwise kernels"; LeNet-5's tanh backward, RESULTS.md, "The networks' layers").
"""

from __future__ import annotations

import numpy as np

from minicnn.fast.kernels.elementwise import (relu_backward_kernel, relu_forward_kernel,
                                              sigmoid_backward_kernel, tanh_backward_kernel)
from minicnn.functional import activation as readable
from minicnn.functional import check_array

__all__ = ["relu_forward_fused", "relu_backward_fused", "tanh_backward_fused",
           "sigmoid_backward_fused"]


def relu_forward_fused(x):
    """minicnn.functional.relu_forward in one pass: ``(max(0, x), (x,))``."""
    check_array(x, "x", "relu")
    return relu_forward_kernel(x), (x,)


def relu_backward_fused(dout, cache):
    """minicnn.functional.relu_backward in one pass: ``dout * 1[x > 0]``."""
    (x,) = cache
    check_array(dout, "dout", "relu_backward")
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout has shape {dout.shape} but the input to "
                         f"relu_forward had shape {x.shape}")
    return relu_backward_kernel(dout, x)


def tanh_backward_fused(dout, cache):
    """minicnn.functional.tanh_backward in one pass: ``dout * (1 - tanh(x)^2)``, the same
    numbers to the last bit (mixed dtypes and bad input go to the lecture's version, which
    promotes or raises as documented)."""
    (out,) = cache
    if not _same_float_arrays(dout, out):
        return readable.tanh_backward(dout, cache)
    return tanh_backward_kernel(dout, out)


def sigmoid_backward_fused(dout, cache):
    """minicnn.functional.sigmoid_backward in one pass: ``dout * s * (1 - s)``, s = sigmoid(x),
    the same numbers to the last bit (anything else goes to the lecture's version)."""
    (out,) = cache
    if not _same_float_arrays(dout, out):
        return readable.sigmoid_backward(dout, cache)
    return sigmoid_backward_kernel(dout, out)


def _same_float_arrays(dout, out) -> bool:
    """Both float32 or both float64 ndarrays of one shape: the kernels' domain."""
    return (isinstance(dout, np.ndarray) and isinstance(out, np.ndarray)
            and dout.shape == out.shape and dout.dtype == out.dtype
            and dout.dtype in (np.float32, np.float64))
