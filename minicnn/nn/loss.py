"""``CrossEntropyLoss``: log-softmax + negative log-likelihood on raw logits, in one step."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from minicnn import functional as F
from minicnn.nn import trace
from minicnn.nn.module import Module

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(Module):
    """Mean cross-entropy between raw logits (N, K) and integer labels (N,).

    loss = sum_n w[y_n] * (-log softmax(z_n)[y_n]) / sum_n w[y_n]     (w = 1 without ``weight``)

    With ``label_smoothing`` eps, each sample's target is (1 - eps) on its label plus eps / K
    on every class (PyTorch's semantics, with or without ``weight``; the formula is in
    ``minicnn.functional.cross_entropy_forward``).

    ``loss = criterion(logits, labels)`` returns the loss (a NumPy scalar);
    ``criterion.backward()`` returns dL/dlogits (N, K) for that call, to feed
    ``model.backward``. No softmax belongs at the end of the model: this loss applies it.

    Parameters
    ----------
    weight : optional (K,) per-class weights (for imbalanced classes), as in PyTorch
    label_smoothing : float in [0, 1] (default 0.0: none), as in PyTorch
    """

    def __init__(self, weight=None, label_smoothing=0.0):
        super().__init__()
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be a number in [0, 1] "
                             f"(0: no smoothing), got {label_smoothing!r}")
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.label_smoothing = float(label_smoothing)
        self._cache = None

    def forward(self, logits, labels):
        note = trace.activated_output_note(logits)
        if note is not None:
            warnings.warn(f"CrossEntropyLoss expects raw logits, but {note}; remove the "
                          f"activation after the final Linear (the loss applies log-softmax "
                          f"itself)", trace.DesignRuleWarning,
                          stacklevel=trace.user_stacklevel())
        weight = self.weight
        if weight is not None and isinstance(logits, np.ndarray) and weight.dtype != logits.dtype:
            weight = weight.astype(logits.dtype)
        loss, self._cache = F.cross_entropy_forward(logits, labels, weight,
                                                    label_smoothing=self.label_smoothing)
        return loss

    def backward(self, dout=None):
        """dL/dlogits of the last call (times ``dout``, a scalar, when given)."""
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss: backward() was called before the loss was "
                               "computed (or twice for one loss); run loss = criterion(logits, "
                               "labels) first")
        cache, self._cache = self._cache, None
        dlogits = F.cross_entropy_backward(cache)
        if dout is not None:
            dlogits = dlogits * np.asarray(dout, dtype=dlogits.dtype)
        return dlogits

    def extra_repr(self) -> str:
        parts = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)
