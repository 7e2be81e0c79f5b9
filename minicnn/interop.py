"""Moving weights between minicnn and PyTorch.

``state_dict`` keys and shapes are the same in both (``conv_block1.0.weight``, ...), so only
the array type differs:

    model.load_state_dict(from_torch(torch_model.state_dict()))     # PyTorch -> minicnn
    torch_model.load_state_dict(to_torch(model))                    # minicnn -> PyTorch

PyTorch is imported only by ``to_torch`` (and only if it is installed).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["from_torch", "to_torch"]


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("minicnn.interop.to_torch needs PyTorch, which is not installed: "
                          "pip install torch (or pip install -e '.[torch]')") from None
    return torch


def from_torch(state_dict) -> "OrderedDict[str, np.ndarray]":
    """A PyTorch ``state_dict`` (tensors) as NumPy arrays, same keys, copied.

    Accepts tensors (on any device, with or without ``requires_grad``) or anything
    ``np.asarray`` takes; ``num_batches_tracked`` stays a 0-d int64 array.
    """
    arrays = OrderedDict()
    for key, value in state_dict.items():
        if hasattr(value, "detach"):                 # a torch.Tensor
            value = value.detach().cpu().numpy()
        arrays[key] = np.array(value, copy=True)
    return arrays


def to_torch(model_or_state) -> "OrderedDict[str, object]":
    """A minicnn module's ``state_dict`` (or a dict of arrays) as PyTorch tensors, copied, ready
    for ``torch_model.load_state_dict``."""
    torch = _import_torch()
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") \
        else model_or_state
    return OrderedDict((key, torch.from_numpy(np.array(value, copy=True)))
                       for key, value in state.items())
