"""Fixtures shared by the whole suite."""

import os

import numpy as np
import pytest

from torch_reference import RECORDER_KEY, TorchReference

# Tests must never reach for the network or a user's real cache.
os.environ.setdefault("MPLBACKEND", "Agg")
# The suite runs on one thread: threads="auto" (the training default) means 1 here and in
# every child process, whatever the machine (tests that need more threads say so).
os.environ["MINICNN_THREADS"] = "1"


@pytest.fixture
def rng():
    """A fresh, seeded Generator per test: failures reproduce exactly."""
    return np.random.default_rng(0)


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


@pytest.fixture
def torch():
    """PyTorch itself, for the few tests that need live torch modules (moving weights with
    minicnn.interop); skipped, with the reason, when it is absent. A cross-check of numbers
    uses ``torch_reference`` instead, which runs without torch too."""
    module = _import_torch()
    if module is None:
        pytest.skip("PyTorch is not installed: pip install torch==2.13.0 (or .[torch])")
    return module


def pytest_addoption(parser):
    parser.addoption("--torch-recorded", action="store_true",
                     help="PyTorch cross-checks read tests/torch_recordings/ even where torch is "
                          "installed, as they do on a machine without it")


@pytest.fixture
def torch_reference(request):
    """``torch_reference(compute, *inputs)``: what ``compute(torch, *inputs)`` returns, from live
    PyTorch when it is installed (and the recording must agree), else (or with
    --torch-recorded) from the recording in tests/torch_recordings/ (see
    tests/torch_reference.py)."""
    recorder = request.config.stash.get(RECORDER_KEY, None)
    live = recorder is not None or not request.config.getoption("--torch-recorded")
    return TorchReference(request.node, _import_torch() if live else None, recorder)


def pytest_collection_modifyitems(items):
    """Every test that asks for ``torch`` or ``torch_reference`` carries the ``torch`` marker,
    so ``pytest -m torch`` runs exactly the PyTorch cross-checks."""
    for item in items:
        if {"torch", "torch_reference"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.torch)
