"""Fused optimiser updates: one pass over each parameter instead of one per NumPy operator.

Adam's update written with NumPy operators (minicnn/optim/adam.py) makes about ten passes over
each parameter and its two moment arrays, most of them with a fresh temporary; for the lecture
CNN (825,162 parameters, mostly Linear(3136, 256)'s weight) that is memory traffic, not
arithmetic. ``adam_update`` does the same arithmetic element by element in one loop
(benchmarks/HISTORY.md, "Fused elementwise kernels").

The kernel is built serial and parallel (minicnn/fast/kernels/_two_builds.py: the parallel
build runs when minicnn runs more than one thread; elements are independent) and holds to its
NumPy twin ``adam_update_numpy`` in tests/fast/kernels/test_optim_kernels.py.
With ``NUMBA_DISABLE_JIT=1`` it runs as the plain Python below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from minicnn.fast.kernels._two_builds import serial_and_parallel

__all__ = ["adam_update", "adam_update_numpy"]


@serial_and_parallel(cache=True)
def adam_update(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                decoupled, bias_correction1, bias_correction2):
    """One Adam (or AdamW) step, in place, on 1-d arrays of one dtype (flattened parameters).

    For every element, with g = grad[i], p = param[i], m = exp_avg[i], v = exp_avg_sq[i]:

        decoupled (AdamW):  p = p * (1 - lr * weight_decay)
        else (Adam, L2):    g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        p = p - (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)

    Computed in the arrays' dtype, like the NumPy twin (the scalars are rounded to it first,
    so float32 results may differ from the twin's in the last bits).
    """
    # every scalar in the arrays' dtype, so the loop stays in float32 for float32 arrays (8
    # lanes per SIMD instruction; float64 arithmetic there was slower than NumPy's ten passes)
    typed = param.dtype.type
    step_size = typed(lr / bias_correction1)
    inv_sqrt_bc2 = typed(1.0 / math.sqrt(bias_correction2))
    shrink = typed(1.0 - lr * weight_decay)
    decay = typed(weight_decay)
    keep1, keep2 = typed(1.0 - beta1), typed(beta2)
    keep_sq = typed(1.0 - beta2)
    eps = typed(eps)
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if decoupled:
            p = p * shrink
        else:
            g = g + decay * p
        m = exp_avg[i]
        m = m + keep1 * (g - m)
        v = keep2 * exp_avg_sq[i] + keep_sq * g * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        param[i] = p - step_size * m / (math.sqrt(v) * inv_sqrt_bc2 + eps)


def adam_update_numpy(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                      decoupled, bias_correction1, bias_correction2):
    """NumPy twin of :func:`adam_update` (the operators of Adam.step, in place)."""
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    exp_avg += (1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * exp_avg / denom
