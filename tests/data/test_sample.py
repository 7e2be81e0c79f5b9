"""The sample shipped inside the package: size, balance, licence, provenance, rebuild."""

import numpy as np
import pytest

from minicnn.data import CLASSES, load_sample
from minicnn.data import fashion_mnist
from minicnn.data.make_sample import build_sample, save_npz_deterministic

SAMPLE_DIR = fashion_mnist.SAMPLE_PATH.parent


@pytest.mark.parametrize("split, n", [("train", 2000), ("test", 500)])
def test_sample_shapes_and_dtypes(split, n):
    images, labels = load_sample(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64


@pytest.mark.parametrize("split, per_class", [("train", 200), ("test", 50)])
def test_sample_is_class_balanced_with_labels_in_range(split, per_class):
    _, labels = load_sample(split)
    assert labels.min() >= 0 and labels.max() < len(CLASSES)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [per_class] * 10)


def test_sample_is_smaller_than_2_mb():
    assert fashion_mnist.SAMPLE_PATH.stat().st_size < 2_000_000


def test_sample_images_are_real_images_not_blank():
    images, _ = load_sample("train")
    assert 0.2 < images.mean() / 255 < 0.4 and images.max() == 255


def test_licence_ships_next_to_the_sample():
    text = (SAMPLE_DIR / "LICENSE").read_text()
    assert "Copyright (c) 2017 Zalando SE" in text
    assert "Permission is hereby granted, free of charge" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


def test_sample_paths_match_setup_cfg_package_data():
    # setup.cfg ships minicnn.data: sample/*.npz, sample/LICENSE*
    assert fashion_mnist.SAMPLE_PATH.suffix == ".npz" and SAMPLE_DIR.name == "sample"
    assert SAMPLE_DIR.parent.name == "data"


def test_sample_rebuilds_identically_from_the_official_files(tmp_path, fakes):
    directory = fakes.real_debian_dir
    if not (directory / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{directory} absent: apt install dataset-fashion-mnist to run this test")
    arrays = build_sample(data_dir=directory)
    with np.load(fashion_mnist.SAMPLE_PATH) as shipped:
        assert sorted(shipped.files) == sorted(arrays)
        for name in arrays:
            np.testing.assert_array_equal(shipped[name], arrays[name], err_msg=name)
    rebuilt = save_npz_deterministic(tmp_path / "s.npz", arrays)
    assert rebuilt.read_bytes() == fashion_mnist.SAMPLE_PATH.read_bytes()


def test_deterministic_npz_writer(tmp_path, rng):
    arrays = {"a": rng.integers(0, 9, (5, 3), dtype=np.uint8), "b": np.arange(4)}
    first = save_npz_deterministic(tmp_path / "1.npz", arrays).read_bytes()
    second = save_npz_deterministic(tmp_path / "2.npz", arrays).read_bytes()
    assert first == second
    with np.load(tmp_path / "1.npz") as loaded:
        np.testing.assert_array_equal(loaded["a"], arrays["a"])
