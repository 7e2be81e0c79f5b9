"""Fixtures shared by the whole suite."""

import os

import numpy as np
import pytest

# Tests must never reach for the network or a user's real cache.
os.environ.setdefault("MPLBACKEND", "Agg")


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
    """PyTorch, for cross-checks; the test is skipped (with the reason) when it is absent."""
    module = _import_torch()
    if module is None:
        pytest.skip("PyTorch is not installed: pip install torch==2.13.0 (or .[torch])")
    return module


def pytest_collection_modifyitems(items):
    """Every test that asks for the ``torch`` fixture carries the ``torch`` marker, so
    ``pytest -m torch`` runs exactly the PyTorch cross-checks."""
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
