"""Fixtures for the data tests: an isolated environment and small fake Fashion-MNIST files.

Every test here runs with HOME, XDG_CACHE_HOME and MINICNN_DATA pointing into tmp_path, the
Debian directory moved to an empty tmp directory, and the download URL pointing at a local
directory that does not exist, so no test can touch the real cache or the network.
"""

import hashlib

import numpy as np
import pytest

from minicnn.data import fashion_mnist
from minicnn.data.idx import write_idx

REAL_DEBIAN_DIR = fashion_mnist.DEBIAN_DIR


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("MINICNN_DATA", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "no-server").as_uri() + "/")
    monkeypatch.setattr(fashion_mnist, "_sample_notice_given", False)
    return home


def fake_split(n, seed):
    """n random 28x28 uint8 images, labels cycling through the 10 classes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def make_fake_dir(directory, n_train=30, n_test=20, seed=0, compress=True, splits=("train", "test")):
    """Write small IDX files with the official names into ``directory``; return the arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        if split not in splits:
            continue
        images, labels = fake_split(n, seed + (split == "test"))
        image_name, label_name = fashion_mnist.FILES[split]
        write_idx(directory / (image_name + suffix), images)
        write_idx(directory / (label_name + suffix), labels)
        arrays[split] = (images, labels)
    return arrays


def content_sha256(directory):
    """SHA-256 of the IDX content of every .gz file in directory, keyed like fashion_mnist.SHA256."""
    import gzip
    return {path.name[:-3]: hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
            for path in directory.glob("*.gz")}


@pytest.fixture
def fakes():
    """The helpers above, for tests (test modules cannot import from conftest reliably)."""
    class Fakes:
        split = staticmethod(fake_split)
        make_dir = staticmethod(make_fake_dir)
        sha256 = staticmethod(content_sha256)
        real_debian_dir = REAL_DEBIAN_DIR
    return Fakes
