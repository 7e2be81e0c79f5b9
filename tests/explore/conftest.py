"""Checkpoints for the explorer's tests: a quick ``minicnn train`` run on the bundled sample
(one epoch, 128 images: about a second), and a GAPCNN saved by hand."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A run directory as ``minicnn train --sample`` writes it (last.npz, best.npz)."""
    from minicnn.train import TrainConfig, train
    out = tmp_path_factory.mktemp("explore") / "run"
    train(TrainConfig(sample=True, epochs=1, subset=128, batch_size=32, val_size=64,
                      figures=False, progress=False, threads=1, out=str(out)), log=None)
    return out


@pytest.fixture(scope="session")
def checkpoint(run_dir):
    return run_dir / "last.npz"


@pytest.fixture(scope="session")
def gap_checkpoint(tmp_path_factory):
    """A GAPCNN checkpoint saved with minicnn.save (no training config: the default recipe's
    normalisation), to show the explorer is not tied to the lecture's CNN."""
    import minicnn
    from minicnn.models import GAPCNN
    model = GAPCNN(seed=3)
    model.eval()
    model(np.zeros((2, 1, 28, 28), dtype=np.float32))       # traced once, like a trained one
    path = tmp_path_factory.mktemp("explore-gap") / "gap.npz"
    minicnn.save(path, model, epoch=7)
    return path


@pytest.fixture(scope="session")
def explored(checkpoint):
    from minicnn.explore.model import ExploredModel
    return ExploredModel(checkpoint)


@pytest.fixture(scope="session")
def test_images(explored):
    from minicnn.explore.server import TestImages
    return TestImages.of(explored, log=lambda message: None)
