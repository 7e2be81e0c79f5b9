"""Fixtures shared by the whole suite."""

import os

import numpy as np
import pytest

from support.torch_reference import RECORDER_KEY, TorchReference
from support.work_units import ByWorkUnit

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
    tests/support/torch_reference.py)."""
    recorder = request.config.stash.get(RECORDER_KEY, None)
    live = recorder is not None or not request.config.getoption("--torch-recorded")
    return TorchReference(request.node, _import_torch() if live else None, recorder)


# Most workers the suite starts (pytest-xdist); MINICNN_TEST_WORKERS overrides, 0 for none
MAX_WORKERS = 4


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Run the suite on pytest-xdist's workers, one a core up to MAX_WORKERS, when it is
    installed (``pip install -e ".[test]"`` installs it) and the command line did not choose
    (``-n``, ``-p no:xdist``, ``--pdb``); on workers, chosen here or by ``-n``, the grading
    tests run together, and so do the engine's kernel tests (pytest_xdist_make_scheduler).
    Each worker still runs one thread of BLAS and Numba; the suite's time on 2 cores is in
    benchmarks/RESULTS.md ("The suite's time")."""
    if (not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput")
            or config.getoption("usepdb", False)):
        return
    if config.getoption("numprocesses", None) is None:
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 1)                    # the cores this process may use
        workers = int(os.environ.get("MINICNN_TEST_WORKERS", min(MAX_WORKERS, cores)))
        if workers > 1:
            config.option.numprocesses = workers


if ByWorkUnit is not None:                       # pytest-xdist is installed
    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(config, log):
        """(pytest-xdist, in the main process.) Tests in units of work_unit
        (tests/support/work_units.py): every grading test in one, every test of the engine's
        kernels in another, each run by one worker."""
        return ByWorkUnit(config, log)


def pytest_collection_modifyitems(items):
    """Every test that asks for ``torch`` or ``torch_reference`` carries the ``torch`` marker,
    so ``pytest -m torch`` runs exactly the PyTorch cross-checks.

    The notebooks are collected first, the last chapters (which train the most) first. They
    are the longest single tests (benchmarks/RESULTS.md, "The suite's time"), and the workers
    take units of work in collection order once the two large units (the grading and kernel
    tests, tests/support/work_units.py) are handed out: collected where they fall, after
    most of the suite, a late notebook could leave one worker running it alone at the end
    while the other had nothing left. The two large units still go first (xdist orders the
    units by their number of tests): dispatched before them (28d165a), the notebooks compiled
    every kernel cold in their own copies, whose Numba cache was then a copy of the
    checkout's (benchmarks/HISTORY.md, "The suite's time: earlier rows"); the copies now share
    the checkout's cache (tests/support/notebook_runner.py, seed_numba_cache)."""
    for item in items:
        if {"torch", "torch_reference"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.torch)
    notebooks = sorted((item for item in items if item.get_closest_marker("notebook")),
                       key=lambda item: item.name, reverse=True)
    rest = [item for item in items if not item.get_closest_marker("notebook")]
    items[:] = notebooks + rest
