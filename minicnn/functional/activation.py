"""Activation functions: ReLU.

    ReLU(x) = max(0, x)                   dReLU/dx = 1 where x > 0, else 0

The derivative at exactly 0 is taken to be 0, as in PyTorch. Training runs one-pass Numba
loops with the same contract (minicnn/fast/activation.py), tested against these.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._common import check_array


def relu_forward(x):
    """Rectified linear unit, elementwise.

    ReLU(x) = max(0, x)

    Parameters
    ----------
    x : array of any shape, float32 or float64

    Returns
    -------
    out : array, same shape and dtype as x
    cache : tuple ``(x,)``, the input (the gradient only needs to know where x > 0)
    """
    check_array(x, "x", "relu")
    # BEGIN SOLUTION
    out = np.maximum(x, 0)          # elementwise; x's dtype is kept
    cache = (x,)
    # END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Gradient of ReLU: the upstream gradient passes where the input was positive.

    dL/dx = dL/dout * 1[x > 0]

    Parameters
    ----------
    dout : array, same shape as x, upstream gradient dL/dout
    cache : tuple ``(x,)`` from ``relu_forward``

    Returns
    -------
    dx : array, same shape and dtype as x
    """
    (x,) = cache
    check_array(dout, "dout", "relu_backward")
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout has shape {dout.shape} but the input to "
                         f"relu_forward had shape {x.shape}")
    # BEGIN SOLUTION
    dx = np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)   # 1[x > 0] * dout
    # END SOLUTION
    return dx
