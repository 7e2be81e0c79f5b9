"""Adam's step as one pass over each parameter: the update of minicnn/optim/adam.py, faster.

Written with NumPy operators the update makes about ten passes over a parameter and its two
moment arrays, most with a fresh temporary; ``adam_update`` (minicnn/fast/kernels/optim.py)
does the same arithmetic element by element in one loop (benchmarks/HISTORY.md, "Fused
elementwise kernels").
"""

from __future__ import annotations

import numpy as np

from minicnn.fast.kernels.optim import adam_update

__all__ = ["adam_step_fused"]


def adam_step_fused(p, state, group, decoupled) -> bool:
    """One Adam (AdamW when ``decoupled``) step of parameter ``p`` in place, with its
    ``state`` (step, exp_avg, exp_avg_sq) and ``group`` (lr, betas, eps, weight_decay), as
    ``Adam.step`` computes it. Returns False, touching nothing, when the arrays cannot be
    updated through flat views (mixed dtypes or shapes, not C-contiguous, read-only)."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    arrays = (p.data, p.grad, exp_avg, exp_avg_sq)
    if not (p.data.dtype in (np.float32, np.float64)
            and all(a.dtype == p.data.dtype and a.shape == p.data.shape
                    and a.flags.c_contiguous and a.flags.writeable for a in arrays)):
        return False
    beta1, beta2 = group["betas"]
    state["step"] += 1
    t = state["step"]
    adam_update(p.data.reshape(-1), p.grad.reshape(-1), exp_avg.reshape(-1),
                exp_avg_sq.reshape(-1), group["lr"], beta1, beta2, group["eps"],
                group["weight_decay"], decoupled, 1 - beta1 ** t, 1 - beta2 ** t)
    return True
