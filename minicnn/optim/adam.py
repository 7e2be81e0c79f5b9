"""Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from minicnn.functional import fast_paths
from minicnn.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's update rule (Kingma & Ba, 2015).

    For each parameter p with gradient g, at step t = 1, 2, ...:

        g = g + weight_decay * p                          (L2, PyTorch's Adam weight_decay)
        m = beta1 * m + (1 - beta1) * g                   (first moment)
        v = beta2 * v + (1 - beta2) * g**2                (second moment)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)     (bias correction)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : iterable of Parameters, or of dicts (parameter groups)
    lr : learning rate (default 1e-3)
    betas : (beta1, beta2), default (0.9, 0.999)
    eps : added to the denominator (default 1e-8)
    weight_decay : L2 penalty added to the gradient (default 0); see AdamW for the decoupled form
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        name = type(self).__name__
        betas = group["betas"]
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"{name}: betas must be a pair of numbers in [0, 1), got {betas!r}")
        group["betas"] = (float(betas[0]), float(betas[1]))
        for key in ("eps", "weight_decay"):
            value = group[key]
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: invalid {key}={value!r} (need a number >= 0)")
            group[key] = float(value)

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        # the engine's one-pass update (minicnn/fast/optim.py), or None
        fused_update = fast_paths.implementation("adam_step", None)
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            for p in self._params_to_update(group):
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)       # m
                    state["exp_avg_sq"] = np.zeros_like(p.data)    # v
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if fused_update is not None and fused_update(p, state, group, self._decoupled):
                    continue
                # BEGIN SOLUTION
                state["step"] += 1
                t = state["step"]
                bias_correction1 = 1 - beta1 ** t
                bias_correction2 = 1 - beta2 ** t
                grad = p.grad
                if weight_decay != 0:
                    if self._decoupled:                 # AdamW: shrink the weights directly
                        p.data *= 1 - lr * weight_decay
                    else:                               # Adam: L2 term in the gradient
                        grad = grad + weight_decay * p.data
                m += (1 - beta1) * (grad - m)           # m = beta1 * m + (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * grad * grad          # v = beta2 * v + (1 - beta2) * g**2
                # lr * m_hat / (sqrt(v_hat) + eps), arranged as PyTorch computes it
                denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
                p.data -= (lr / bias_correction1) * m / denom
                # END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as PyTorch's AdamW.

    Each step first shrinks the weights, p = p * (1 - lr * weight_decay), and then takes an
    Adam step on the plain gradient (no L2 term in m and v). Default ``weight_decay=1e-2``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
