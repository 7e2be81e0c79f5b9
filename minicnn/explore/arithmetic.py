"""The arithmetic behind one value of a convolution's feature map, from the arrays the model
computed (``LayerRecord``\\ s of ``record_layers``):

    Z[o, i, j] = sum_{c, u, v} W[o, c, u, v] * X_padded[c, i*s + u, j*s + v] + b[o]

``conv_arithmetic`` returns the window X_padded[:, i*s : i*s + kH, j*s : j*s + kW] of the
layer's input, the filter W[o], their products, the sum plus bias, and the value the model
put in its map (the two agree to float rounding: the model may compute the sum another way,
im2col or Winograd). Then what the layers that follow position by position did to that value
(BatchNorm in evaluation: (z - running_mean) / sqrt(running_var + eps) * weight + bias; ReLU:
max(0, z)), each computed here and next to the model's own value.

``receptive_field`` is the square of input pixels that one map position can see, found by
walking back through the layers that fed it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv_arithmetic", "receptive_field", "ArithmeticRequestError"]


class ArithmeticRequestError(ValueError):
    """A request the arithmetic cannot answer (not a conv layer, a position off the map)."""


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else (int(value[0]), int(value[1]))


def _is_spatial(module) -> bool:
    """A layer that slides a window (Conv2d, MaxPool2d, AvgPool2d)."""
    return all(hasattr(module, name) for name in ("kernel_size", "stride", "padding"))


def _is_positionwise(record) -> bool:
    """A layer that maps each position on its own (BatchNorm, ReLU, Dropout, Identity): same
    shape out as in, no window."""
    return record.input.shape == record.output.shape and not _is_spatial(record.module)


def receptive_field(records, index: int, row: int, col: int):
    """The input pixels that position (row, col) of ``records[index]``'s output depends on.

    Going back one sliding layer (kernel k, stride s, padding p), output rows [a, b] read
    input rows [a*s - p, b*s - p + k - 1]; position-wise layers keep the rows. The walk
    follows each record's ``source`` back to the model's input.

    Returns
    -------
    dict with ``top``, ``left``, ``bottom``, ``right`` (inclusive, in input pixels; may reach
    into the padding, outside 0..H-1) and ``size`` (rows, cols); or None when the path back
    crosses a layer that is neither (a Linear, a global pooling, a residual sum)
    """
    from minicnn.explore.model import MODEL_INPUT
    top = bottom = int(row)
    left = right = int(col)
    while True:
        record = records[index]
        if _is_spatial(record.module):
            (kh, kw), (sh, sw), (ph, pw) = (_pair(record.module.kernel_size),
                                            _pair(record.module.stride),
                                            _pair(record.module.padding))
            top, bottom = top * sh - ph, bottom * sh - ph + kh - 1
            left, right = left * sw - pw, right * sw - pw + kw - 1
        elif not _is_positionwise(record):
            return None
        if record.source == MODEL_INPUT:
            return dict(top=top, left=left, bottom=bottom, right=right,
                        size=[bottom - top + 1, right - left + 1])
        if record.source is None:
            return None
        index = record.source


def conv_arithmetic(records, layer: str, channel: int, row: int, col: int) -> dict:
    """The computation of the value at (channel, row, col) of Conv2d ``layer``'s map.

    Parameters
    ----------
    records : the ``LayerRecord`` list of one forward pass of one image
    layer : the Conv2d's dotted name (``conv_block2.0``)
    channel, row, col : the position in its output (C_out, H_out, W_out)

    Returns
    -------
    dict with ``layer``, ``channel``, ``row``, ``col``, ``kernel_size``, ``stride``,
    ``padding``, ``window`` (C_in, kH, kW: the input values under the filter, 0 in the
    padding), ``in_padding`` (kH, kW booleans), ``weight`` (C_in, kH, kW: the filter),
    ``products`` (C_in, kH, kW), ``channel_sums`` (C_in,), ``bias``, ``sum`` (of the products,
    plus the bias, in float64), ``value`` (the model's map value), ``reads_input`` (whether the
    window is on the model's input), ``receptive_field`` and ``then``: a list of steps, one per
    position-wise layer that follows (``name``, ``type``, ``formula``, ``input``, ``result``
    computed here, ``value`` in the model's map)
    """
    from minicnn.explore.model import MODEL_INPUT
    index = next((i for i, r in enumerate(records) if r.name == layer), None)
    if index is None:
        raise ArithmeticRequestError(f"the model has no layer {layer!r}")
    record = records[index]
    conv = record.module
    if type(conv).__name__ != "Conv2d":
        raise ArithmeticRequestError(f"{layer} is a {type(conv).__name__}; the arithmetic is shown "
                               f"for Conv2d layers")
    out = record.output[0]                                   # (C_out, H_out, W_out)
    for name, value, size in (("channel", channel, out.shape[0]), ("row", row, out.shape[1]),
                              ("col", col, out.shape[2])):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < size:
            raise ArithmeticRequestError(
                f"{name} must be an integer in 0..{size - 1} for {layer}'s "
                f"{out.shape[0]}x{out.shape[1]}x{out.shape[2]} map, got {value!r}")
    (kh, kw), (sh, sw), (ph, pw) = (_pair(conv.kernel_size), _pair(conv.stride),
                                    _pair(conv.padding))
    x = record.input[0].astype(np.float64)                   # (C_in, H, W)
    x_padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    window = x_padded[:, row * sh:row * sh + kh, col * sw:col * sw + kw]
    rows = np.arange(row * sh - ph, row * sh - ph + kh)
    cols = np.arange(col * sw - pw, col * sw - pw + kw)
    in_padding = ((rows < 0) | (rows >= x.shape[1]))[:, None] | \
                 ((cols < 0) | (cols >= x.shape[2]))[None, :]
    weight = conv.weight.data[channel].astype(np.float64)
    bias = 0.0 if conv.bias is None else float(conv.bias.data[channel])
    products = window * weight
    total = float(products.sum() + bias)
    value = float(out[channel, row, col])

    then, current, computed = [], index, value
    while True:
        following = next((i for i in range(current + 1, len(records))
                          if records[i].source == current), None)
        if following is None or not _is_positionwise(records[following]):
            break
        step = _positionwise_step(records[following], channel, row, col, computed)
        if step is None:
            break
        then.append(step)
        computed = step["value"]
        current = following

    return dict(layer=layer, channel=int(channel), row=int(row), col=int(col),
                kernel_size=[kh, kw], stride=[sh, sw], padding=[ph, pw],
                in_channels=int(x.shape[0]), input_shape=list(x.shape),
                window=window, in_padding=in_padding, weight=weight, products=products,
                channel_sums=products.sum(axis=(1, 2)), bias=bias, sum=total, value=value,
                reads_input=record.source == MODEL_INPUT,
                receptive_field=receptive_field(records, index, row, col), then=then)


def _positionwise_step(record, channel, row, col, z: float):
    """What a BatchNorm2d, ReLU, Dropout or Identity did to the value z at one position,
    computed here from its parameters (float64), next to the model's own output there."""
    module, kind = record.module, type(record.module).__name__
    value = float(record.output[0][channel, row, col])
    if kind == "BatchNorm2d":
        mean, var = float(module.running_mean[channel]), float(module.running_var[channel])
        gamma, beta = float(module.weight.data[channel]), float(module.bias.data[channel])
        result = (z - mean) / np.sqrt(var + module.eps) * gamma + beta
        return dict(name=record.name, type=kind, input=z, result=float(result), value=value,
                    formula="(z - running_mean) / sqrt(running_var + eps) * weight + bias",
                    params=dict(running_mean=mean, running_var=var, eps=module.eps,
                                weight=gamma, bias=beta))
    if kind == "ReLU":
        return dict(name=record.name, type=kind, input=z, result=max(0.0, z), value=value,
                    formula="max(0, z)", params={})
    if kind in ("Dropout", "Identity"):
        return dict(name=record.name, type=kind, input=z, result=z, value=value,
                    formula="z (the identity in evaluation)", params={})
    return None
