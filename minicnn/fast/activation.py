"""ReLU as one-pass Numba loops: the contract of minicnn/functional/activation.py, faster.

``np.maximum(x, 0)`` and ``np.where(x > 0, dout, 0)`` make extra passes (NaN handling, a
boolean temporary); on the lecture CNN's activations memory traffic is the cost, so one pass
pays (benchmarks/HISTORY.md, "Fused elementwise kernels").
"""

from __future__ import annotations

from minicnn.fast.kernels.elementwise import relu_backward_kernel, relu_forward_kernel
from minicnn.functional import check_array

__all__ = ["relu_forward_fused", "relu_backward_fused"]


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
