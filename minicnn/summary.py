"""``summary(model, input_shape)``: the lecture's table (section 5), computed, with receptive
fields.

    >>> from minicnn import summary
    >>> from minicnn.models import CNN
    >>> print(summary(CNN(), (1, 28, 28)))          # doctest: +SKIP

The table has one row per layer that runs: its dotted name and type, its output shape (without
the batch axis), its parameter count and its receptive field, the size of the input region
that one output unit sees. Receptive fields grow as in the lecture (section 5):
each k x k window adds (k - 1) * jump input pixels, and each stride s multiplies the jump
(the distance in input pixels between neighbouring units) by s:

    rf_out = rf_in + (k - 1) * jump_in,      jump_out = jump_in * s

After Flatten (or global pooling) every unit sees the whole image. AdaptiveAvgPool2d to a
larger size counts as a pool with kernel = stride = H / H_out (an upper bound when H_out does
not divide H).

**The lecture's table is wrong about one number.** It lists Linear(3136 -> 256) with 802,048
parameters; the layer has 3136 * 256 weights + 256 biases = **803,072**. The table also leaves
out the BatchNorm layers' gamma and beta (2 * (32 + 64 + 256) = 704 parameters). The lecture's
CNN has **825,162** parameters in total, all trainable (PyTorch's ``sum(p.numel() for p in
model.parameters())`` agrees). BatchNorm's running statistics are buffers, not parameters,
and are not counted.

The model is run once on zeros (batch of 2, the parameters' dtype) in evaluation mode, so
nothing it holds changes: its mode, buffers and forward caches are put back afterwards. The
same pass checks the lecture's design rules (``minicnn.nn.trace``): a BatchNorm that does
not get ``num_features`` channels is an error naming both layers; a misplaced Dropout or an
activation after the final Linear is a ``DesignRuleWarning``.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["summary", "Summary", "SummaryRow"]


@dataclass(frozen=True)
class SummaryRow:
    """One layer of the table."""

    name: str                   # dotted name, e.g. "conv_block1.0"
    layer: str                  # e.g. "Conv2d(1, 32)"
    output_shape: tuple         # without the batch axis, e.g. (32, 28, 28)
    params: int                 # parameters owned by this layer
    trainable: int              # of which trainable (requires_grad)
    receptive_field: tuple | None   # (height, width) in input pixels; None if not spatial


@dataclass(frozen=True)
class Summary:
    """What ``summary`` returns: ``str(s)`` is the table; ``rows``, ``total_params``,
    ``trainable_params``, ``input_shape`` and ``output_shape`` hold the numbers."""

    model_name: str
    input_shape: tuple
    output_shape: tuple
    rows: tuple
    total_params: int
    trainable_params: int
    buffers: int
    warnings: tuple = ()

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def row(self, name: str) -> SummaryRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer named {name!r} in the summary of {self.model_name}")

    def __str__(self) -> str:
        header = ("Layer", "Output Shape", "Param #", "Receptive field")
        body = [("Input", _shape_text(self.input_shape), "-", "1x1")]
        for row in self.rows:
            rf = "-" if row.receptive_field is None else "x".join(map(str, row.receptive_field))
            body.append((f"{row.name} {row.layer}".strip(), _shape_text(row.output_shape),
                         f"{row.params:,}" if row.params else "-", rf))
        widths = [max(len(line[i]) for line in [header] + body) for i in range(4)]

        def fmt(line):
            return (f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  "
                    f"{line[2]:>{widths[2]}}  {line[3]:>{widths[3]}}").rstrip()

        rule = "-" * len(fmt(header))
        lines = [f"{self.model_name} summary, input {_shape_text(self.input_shape)}", rule,
                 fmt(header), rule, *map(fmt, body), rule,
                 f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}",
                 f"Non-trainable params: {self.non_trainable_params:,}",
                 f"Buffers (BatchNorm running statistics, not parameters): {self.buffers:,}"]
        lines += [f"Warning: {message}" for message in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle):        # IPython / Jupyter
        printer.text(str(self))


def _shape_text(shape) -> str:
    if len(shape) == 1:
        return f"{shape[0]:,}"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _normalise_input_shape(model, input_shape) -> tuple:
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a tuple of ints such as (1, 28, 28), "
                        f"got {input_shape!r}") from None
    if not shape or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                            and s > 0 for s in shape):
        raise ValueError(f"summary: input_shape must be positive ints such as (1, 28, 28), "
                         f"got {input_shape!r}")
    # (C, H, W) or (N, C, H, W) for a model that starts with a 2-d layer; (F,) or (N, F) else
    spatial = _first_leaf_is_spatial(model)
    if spatial and len(shape) == 4 or not spatial and len(shape) == 2:
        shape = shape[1:]
    return tuple(int(s) for s in shape)


def _first_leaf_is_spatial(model) -> bool:
    from minicnn.nn.layers import BatchNorm1d, BatchNorm2d, Linear
    for module in model.modules():
        if not module._modules:
            if isinstance(module, Linear):
                return False
            if isinstance(module, (BatchNorm1d, BatchNorm2d)):
                return 4 in module._input_ndims
            return True
    return True


def _window(module, record):
    """``(kernel, stride)`` pairs of a Conv2d, a pooling layer or an AdaptiveAvgPool2d.

    Adaptive pooling from H to H_out is exact as kernel = stride = H / H_out when H_out
    divides H; otherwise it counts as its longest window at stride ceil(H / H_out), so the
    receptive field shown is an upper bound."""
    from minicnn.functional.pool import adaptive_bins
    from minicnn.functional import as_pair
    from minicnn.nn.layers import AvgPool2d, Conv2d, MaxPool2d
    if isinstance(module, Conv2d):
        return module.kernel_size, module.stride
    if isinstance(module, (MaxPool2d, AvgPool2d)):
        return (as_pair(module.kernel_size, "kernel_size", "summary"),
                as_pair(module.stride, "stride", "summary"))
    in_hw, out_hw = record.input_shape[-2:], record.output_shape[-2:]
    kernel = tuple(max(end - start for start, end in adaptive_bins(size_in, size_out))
                   for size_in, size_out in zip(in_hw, out_hw))
    stride = tuple(-(-size_in // size_out) for size_in, size_out in zip(in_hw, out_hw))
    return kernel, stride


def _receptive_fields(records, image_hw):
    """(height, width) receptive field of each record, or None before the first spatial layer
    when the input is not an image."""
    from minicnn.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Linear,
                                    MaxPool2d)
    if image_hw is None:
        return [None] * len(records)
    rf, jump = [1, 1], [1, 1]
    whole = False
    fields = []
    for record in records:
        module = record.module
        global_pool = (isinstance(module, AdaptiveAvgPool2d)
                       and record.output_shape[-2:] == (1, 1))
        if global_pool or isinstance(module, (Flatten, Linear)):
            whole = True
        elif isinstance(module, (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)):
            kernel, stride = _window(module, record)
            for axis in range(2):
                rf[axis] += (kernel[axis] - 1) * jump[axis]
                jump[axis] *= stride[axis]
        fields.append(tuple(image_hw) if whole else (rf[0], rf[1]))
    return fields


def summary(model, input_shape) -> Summary:
    """The lecture's table for ``model``: layer, output shape, parameter count, receptive field.

    Parameters
    ----------
    model : a ``minicnn.nn.Module``
    input_shape : the shape of one input without the batch axis, e.g. ``(1, 28, 28)``; a
        shape with a batch axis, ``(N, 1, 28, 28)``, is accepted too (N is ignored)

    Returns
    -------
    Summary : ``print(s)`` shows the table; ``s.rows`` (one ``SummaryRow`` per layer that
        runs), ``s.total_params`` (825,162 for the lecture's CNN: the lecture's 802,048 for
        Linear(3136 -> 256) is a slip, the layer has 803,072), ``s.trainable_params``

    Raises
    ------
    ValueError : ``input_shape`` does not fit the model (the message names the layer where
        it breaks, what it got and the shapes up to there), or BatchNorm's ``num_features``
        differs from the channels that reach it (naming both layers)

    Warns
    -----
    DesignRuleWarning : Dropout outside the classifier head, or an activation after the final
        Linear (CrossEntropyLoss expects raw logits)
    """
    from minicnn.nn import trace as tracing
    from minicnn.nn.module import Module
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a minicnn.nn.Module, got "
                        f"{type(model).__name__}")
    shape = _normalise_input_shape(model, input_shape)
    dtype = model.dtype or np.float32
    x = np.zeros((2, *shape), dtype=dtype)

    modules = list(model.modules())
    modes = [m.training for m in modules]
    caches = [m.__dict__.get("_cache") for m in modules]
    buffers = {name: np.array(b, copy=True) for name, b in model.named_buffers()}
    model.eval()
    try:
        out, trace = tracing.run_traced(model, (x,))
    except (ValueError, TypeError) as exc:
        done = ", ".join(f"{r.name or r.module.short_repr()} -> {_shape_text(r.output_shape[1:])}"
                         for r in getattr(exc, "_minicnn_records", []))
        trail = f"\n  shapes so far: input {_shape_text(shape)}" + (f", {done}" if done else "")
        raise type(exc)(f"summary({type(model).__name__}, input_shape={tuple(input_shape)}) "
                        f"fails {exc}{trail}") from exc
    finally:
        for module, mode, cache in zip(modules, modes, caches):
            object.__setattr__(module, "training", mode)
            if "_cache" in module.__dict__:
                object.__setattr__(module, "_cache", cache)
        for name, module in model.named_modules():
            prefix = f"{name}." if name else ""
            for key, buffer in module._buffers.items():
                if buffer is not None and prefix + key in buffers:
                    buffer[...] = buffers[prefix + key]

    records = trace.records
    image_hw = shape[1:3] if len(shape) == 3 else None
    fields = _receptive_fields(records, image_hw)
    rows = []
    counted = set()
    for record, field in zip(records, fields):
        params = trainable = 0
        for param in record.module._parameters.values():
            if param is None or id(param) in counted:
                continue
            counted.add(id(param))
            params += param.size
            trainable += param.size if param.requires_grad else 0
        rows.append(SummaryRow(record.name, record.module.short_repr(), record.output_shape[1:],
                               params, trainable, field))
    # parameters of modules that did not run count in the totals too
    total = sum(p.size for p in model.parameters())
    total_trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    n_buffers = sum(int(np.size(b)) for name, b in model.named_buffers()
                    if not name.endswith("num_batches_tracked"))
    messages = tuple(message for _, message in trace.design_warnings())
    for message in messages:
        warnings.warn(message, tracing.DesignRuleWarning,
                      stacklevel=tracing.user_stacklevel())
    return Summary(type(model).__name__, shape, tuple(np.shape(out))[1:], tuple(rows), total,
                   total_trainable, n_buffers, messages)


class _CallableModule(type(sys.modules[__name__])):
    """``minicnn.summary`` is both this module and the function: after ``import
    minicnn.summary`` the package attribute is the module, and ``minicnn.summary(model,
    shape)`` must still work."""

    def __call__(self, model, input_shape):
        return summary(model, input_shape)


sys.modules[__name__].__class__ = _CallableModule
