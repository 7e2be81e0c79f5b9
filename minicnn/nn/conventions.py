"""Where a CS231n habit silently means something else here: the warnings that say so.

minicnn follows PyTorch's conventions. A student trained on CS231n's assignments meets four
that differ without any error (README, "Coming from CS231n or PyTorch"):

- BatchNorm ``momentum``: here (and in PyTorch) the weight of the NEW batch,
  ``running = (1 - momentum) * running + momentum * batch``; CS231n's ``momentum=0.9`` is the
  weight of the OLD running value, so it is ``momentum=0.1`` here. Values above 0.5 warn.
- Dropout ``p``: here the probability of ZEROING a unit; CS231n's ``p`` is the probability
  of keeping it, so CS231n's ``p=0.75`` is ``p=0.25`` here. Values above 0.5 warn.
- Linear ``weight``: here (out_features, in_features); CS231n's affine layers use
  (in, out). A non-square weight in CS231n's layout is an error that says so; a square one
  cannot be told apart (transpose it: ``W.T``).
- ``cross_entropy_forward`` returns ``(loss, cache)``, not CS231n's ``softmax_loss``'s
  ``(loss, dx)``; passing that cache where a gradient belongs is an error that says so
  (``minicnn.functional._common.check_array``).

The thresholds sit where the two readings part: PyTorch's own defaults (momentum 0.1,
p 0.5) and every value in common PyTorch use are at or below 0.5.
"""

from __future__ import annotations

import warnings

from minicnn.nn.trace import user_stacklevel

__all__ = ["ConventionWarning", "warn_batch_norm_momentum", "warn_dropout_p",
           "linear_weight_layout_error"]


class ConventionWarning(UserWarning):
    """An argument that means something else in CS231n's code than here (PyTorch's meaning)."""


def warn_batch_norm_momentum(owner: str, momentum: float | None) -> None:
    """Warn when BatchNorm ``momentum`` > 0.5: probably CS231n's sense (weight of the old
    running value), which is ``1 - momentum`` here."""
    if momentum is None or momentum <= 0.5:
        return
    warnings.warn(
        f"{owner}: momentum={momentum:g} puts {100 * momentum:.0f}% of the weight on each NEW "
        f"batch: running = (1 - momentum) * running + momentum * batch_statistic (PyTorch's "
        f"convention; default 0.1). CS231n's momentum={momentum:g} weights the OLD running "
        f"value and is momentum={1 - momentum:.2g} here.",
        ConventionWarning, stacklevel=user_stacklevel())


def warn_dropout_p(owner: str, p: float) -> None:
    """Warn when Dropout ``p`` > 0.5: probably CS231n's keep probability, which is
    ``1 - p`` here."""
    if p <= 0.5:
        return
    warnings.warn(
        f"{owner}: p={p:g} ZEROES {100 * p:.0f}% of the units in training (p is the "
        f"probability of dropping, as in PyTorch). CS231n's p is the probability of keeping "
        f"a unit: its p={p:g} is p={1 - p:.2g} here.",
        ConventionWarning, stacklevel=user_stacklevel())


def linear_weight_layout_error(owner: str, weight_shape, in_features: int,
                               out_features: int) -> ValueError:
    """The error for a Linear weight whose shape is not (out_features, in_features)."""
    expected = (out_features, in_features)
    message = (f"{owner}: weight has shape {tuple(weight_shape)}, expected (out_features, "
               f"in_features) = {expected} (PyTorch's layout)")
    if tuple(weight_shape) == (in_features, out_features):
        message += ("; this is CS231n's (in, out) layout, where out = x @ W + b: here "
                    "out = x @ W.T + b, so store W.T")
    return ValueError(message)
