"""The first call of a model is traced: design-rule checks and errors that name the layer.

``Module.__call__`` runs ``forward`` directly, except on a module's first call (and inside
``summary``), when it records every leaf layer that runs, in order, with its dotted name and
input/output shapes. That record lets errors and warnings speak the lecture's language:

- a layer that rejects its input is named with where it sits and what fed it
  (``at classifier.1: Linear(3136, 256) expects input (N, 3136), got shape (2, 4096) ...
  (fed by Flatten() at classifier.0)``);
- BatchNorm whose ``num_features`` differs from the channels that reach it is an error naming
  both layers (the lecture's first design rule; it would crash anyway);
- Dropout anywhere but between the penultimate and the final Linear is a
  ``DesignRuleWarning`` (a style rule: the lecture puts dropout in the classifier head only);
- an activation after the final Linear is remembered, and ``CrossEntropyLoss`` warns when it
  gets that output (it expects raw logits).

After the first successful call the whole tree is marked as checked and calls cost nothing
extra.

This file imports no layer (``module.py`` imports it; ``layers.py`` imports ``module.py``): the
checks recognise a layer by its ``trace_role`` class attribute.
"""

from __future__ import annotations

import contextvars
import weakref
from dataclasses import dataclass

import numpy as np

__all__ = ["DesignRuleWarning", "Record", "Trace", "call", "run_traced"]


class DesignRuleWarning(UserWarning):
    """A model breaks one of the lecture's style rules (it runs, but probably not as meant)."""


@dataclass
class Record:
    """One leaf layer that ran: its dotted name, the module and the shapes in and out."""

    name: str
    module: object
    input_shape: tuple
    output_shape: tuple

    @property
    def label(self) -> str:
        return _label(self.module, self.name)


def _role(module) -> str | None:
    """What the checks need to know of a layer, from its class attribute ``trace_role``
    (set by the layers in ``layers.py``, so this file need not import them): ``"conv"``,
    ``"linear"``, ``"batch_norm"``, ``"dropout"``, ``"flatten"``, ``"global_pool"``
    (AdaptiveAvgPool2d), ``"activation"`` (ReLU), or None."""
    return getattr(type(module), "trace_role", None)


def _label(module, name: str) -> str:
    return f"{module.short_repr()} at {name}" if name else module.short_repr()


_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("minicnn_trace", default=None)
_last_activated = [None, ""]          # (weakref to a model output, what activated it)


def activated_output_note(logits):
    """If ``logits`` is a traced model output that passed through an activation after the final
    Linear, say so; otherwise None."""
    ref, note = _last_activated
    if ref is not None and ref() is logits:
        return note
    return None


class Trace:
    def __init__(self, root):
        self.root = root
        self.names = {}
        for name, module in root.named_modules():
            self.names.setdefault(id(module), name)
        self.records: list[Record] = []

    def name_of(self, module) -> str:
        return self.names.get(id(module), "")

    def _source(self) -> str:
        if not self.records:
            return "the model's input"
        return self.records[-1].label

    def run(self, module, args, kwargs):
        leaf = not module._modules
        x = args[0] if args else None
        if leaf:
            self._check_batch_norm(module, x)
        try:
            out = module.forward(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            if leaf and not getattr(exc, "_minicnn_located", False):
                located = _locate(exc, self._locate_message(module, exc))
                located._minicnn_records = list(self.records)
                raise located from exc
            raise
        if leaf:
            self.records.append(Record(self.name_of(module), module, tuple(np.shape(x)),
                                       tuple(np.shape(out))))
        return out

    def _locate_message(self, module, exc) -> str:
        name = self.name_of(module)
        where = f"at {name}: " if name else ""
        if module is self.root:
            return f"{where}{exc}"
        return f"{where}{exc} (fed by {self._source()})"

    def _check_batch_norm(self, module, x) -> None:
        if _role(module) != "batch_norm" or not isinstance(x, np.ndarray) or x.ndim < 2:
            return
        if x.shape[1] == module.num_features or module is self.root:
            return          # a BatchNorm on its own: its own check speaks
        got = x.shape[1]
        message = (f"{_label(module, self.name_of(module))} gets {got} {module._noun} from "
                   f"{self._producer()}; num_features must equal the preceding "
                   f"{module._producer}")
        located = _locate(ValueError(message), message)
        located._minicnn_records = list(self.records)
        raise located

    def _producer(self) -> str:
        for record in reversed(self.records):
            if _role(record.module) in ("conv", "linear"):
                return record.label
        return self._source()

    # -- the style rules, checked once the forward pass has completed ----------------------------

    def design_warnings(self) -> list[tuple[str, str]]:
        """``(rule, message)`` for each style rule this forward pass broke; rule is
        ``"dropout"`` or ``"activation"``."""
        records = self.records
        linears = [i for i, r in enumerate(records) if _role(r.module) == "linear"]
        if not linears:
            return []
        final = linears[-1]
        if len(linears) >= 2:
            head_start = linears[-2]
            head = f"between the penultimate {records[head_start].label} and the final " \
                   f"{records[final].label}"
        else:
            head_start = max((i for i, r in enumerate(records[:final])
                              if _role(r.module) in ("flatten", "global_pool")), default=-1)
            head = f"just before the final {records[final].label}"
        messages = []
        for i, record in enumerate(records):
            if _role(record.module) == "dropout" and not head_start < i < final:
                messages.append(("dropout", f"{record.label} is outside the classifier head: "
                                            f"the lecture's rule puts Dropout {head} only"))
        activation = self.activation_after_final_linear()
        if activation is not None:
            messages.append(("activation", f"{activation}: the final Linear should output raw "
                                           f"logits when the model is trained with "
                                           f"CrossEntropyLoss"))
        return messages

    def activation_after_final_linear(self):
        linears = [i for i, r in enumerate(self.records) if _role(r.module) == "linear"]
        if not linears:
            return None
        for record in self.records[linears[-1] + 1:]:
            if _role(record.module) == "activation":
                return (f"the output passes through {record.label} after the final "
                        f"{self.records[linears[-1]].label}")
        return None


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the first frame outside minicnn's
    ``nn`` package and ``summary`` (the user's line that called the model or the loss)."""
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    summary_file = os.path.join(os.path.dirname(here), "summary.py")
    frame, level = sys._getframe(1), 1
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not (filename.startswith(here + os.sep) or filename == summary_file):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _locate(exc, message):
    try:
        located = type(exc)(message)
    except Exception:       # an exception type with an unusual constructor: keep it as is
        located = exc
    located._minicnn_located = True
    return located


def run_traced(root, args, kwargs=None):
    """Run ``root(*args)`` with a fresh trace; returns ``(out, trace)``."""
    trace = Trace(root)
    token = _ACTIVE.set(trace)
    try:
        out = trace.run(root, args, kwargs or {})
    finally:
        _ACTIVE.reset(token)
    return out, trace


def call(module, args, kwargs):
    """``Module.__call__``: forward, traced on the module's first call (see the module docs)."""
    trace = _ACTIVE.get()
    if trace is not None:
        return trace.run(module, args, kwargs)
    if module.__dict__.get("_design_checked", False):
        return module.forward(*args, **kwargs)
    out, trace = run_traced(module, args, kwargs)
    import warnings
    for rule, message in trace.design_warnings():
        if rule == "dropout":      # the activation rule is CrossEntropyLoss's to report
            warnings.warn(message, DesignRuleWarning, stacklevel=user_stacklevel())
    activation = trace.activation_after_final_linear()
    if activation is not None and isinstance(out, np.ndarray):
        _last_activated[0] = weakref.ref(out)
        _last_activated[1] = activation
    for sub in module.modules():
        object.__setattr__(sub, "_design_checked", True)
    return out
