"""minicnn.interop: state dicts move between PyTorch and minicnn unchanged."""

import builtins
import sys

import numpy as np
import pytest

from minicnn import nn
from minicnn.interop import from_torch, to_torch


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype=np.float64),
                         nn.BatchNorm2d(4, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 5, rng=0, dtype=np.float64))


def _torch_model(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                          tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 3 * 3, 5)).double()


@pytest.mark.torch
def test_from_torch_gives_numpy_copies_with_the_same_keys(torch):
    theirs = _torch_model(torch)
    state = from_torch(theirs.state_dict())
    assert list(state) == list(theirs.state_dict())
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["1.num_batches_tracked"].dtype == np.int64
    assert state["1.num_batches_tracked"].shape == ()
    state["0.weight"][...] = 0
    assert theirs[0].weight.abs().sum() > 0                   # a copy
    from_torch({k: v for k, v in theirs.named_parameters()})  # requires_grad tensors work


@pytest.mark.torch
def test_round_trip_gives_the_same_outputs_both_ways(torch, rng):
    ours, theirs = _model().eval(), _torch_model(torch).eval()
    theirs.load_state_dict(to_torch(ours))
    x = rng.standard_normal((3, 1, 6, 6))
    with torch.no_grad():
        np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-12,
                                   atol=1e-14)
    other = _torch_model(torch).eval()
    ours.load_state_dict(from_torch(other.state_dict()))
    with torch.no_grad():
        np.testing.assert_allclose(ours(x), other(torch.tensor(x)).numpy(), rtol=1e-12,
                                   atol=1e-14)
    tensors = to_torch(ours.state_dict())
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())


def test_to_torch_without_torch_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match="needs PyTorch, which is not installed: pip install"):
        to_torch(_model())
    # from_torch works on plain arrays without torch
    assert from_torch({"a": [1.0, 2.0]})["a"].dtype == np.float64
