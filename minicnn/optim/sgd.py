"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update rule.

    For each parameter p with gradient g, at every step:

        g = g + weight_decay * p                                     (L2, if weight_decay)
        b = g                                  on the first step      (momentum buffer)
        b = momentum * b + (1 - dampening) * g on later steps
        g = g + momentum * b  if nesterov, else  g = b               (if momentum)
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Parameters, or of dicts (parameter groups)
    lr : learning rate (required)
    momentum, dampening, weight_decay : floats >= 0 (default 0)
    nesterov : bool, Nesterov momentum (needs momentum > 0 and dampening = 0)
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        for key in ("momentum", "dampening", "weight_decay"):
            value = group[key]
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SGD: invalid {key}={value!r} (need a number >= 0)")
            group[key] = float(value)
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0")

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            nesterov, weight_decay = group["nesterov"], group["weight_decay"]
            for p in self._params_to_update(group):
                state = self.state.setdefault(p, {})
                # BEGIN SOLUTION
                grad = p.grad
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data
                if momentum != 0:
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = state["momentum_buffer"] = np.array(grad, copy=True)
                    else:
                        buffer *= momentum
                        buffer += (1 - dampening) * grad
                    grad = grad + momentum * buffer if nesterov else buffer
                p.data -= lr * grad
                # END SOLUTION
