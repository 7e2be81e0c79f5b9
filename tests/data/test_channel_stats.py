"""channel_stats: per-channel mean and std of the images in [0, 1], against NumPy."""

import numpy as np
import pytest

from minicnn.data import ArrayDataset, channel_stats, transforms as T
from minicnn.data import stats


def numpy_stats(images):
    scaled = images.astype(np.float64) / 255
    axes = tuple(range(images.ndim - 1)) if images.ndim == 4 else None
    return scaled.mean(axis=axes), scaled.std(axis=axes)


def test_rgb_stats_match_numpy(rng):
    images = rng.integers(0, 256, size=(17, 9, 11, 3), dtype=np.uint8)
    images[..., 2] //= 4                                  # channels really differ
    mean, std = channel_stats(ArrayDataset(images, np.zeros(17), classes=("x",)))
    expected_mean, expected_std = numpy_stats(images)
    assert len(mean) == len(std) == 3 and all(isinstance(v, float) for v in mean + std)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std, expected_std, rtol=1e-12)


def test_grayscale_stats_are_one_channel(rng):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    mean, std = channel_stats(images)
    expected_mean, expected_std = numpy_stats(images)
    assert len(mean) == 1
    np.testing.assert_allclose(mean[0], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std[0], expected_std, rtol=1e-12)


def test_chunks_give_the_same_answer(rng, monkeypatch):
    images = rng.integers(0, 256, size=(7, 5, 5, 3), dtype=np.uint8)
    whole = channel_stats(images)
    monkeypatch.setattr(stats, "_CHUNK", 13)              # chunks cut through images
    assert channel_stats(images) == whole


def test_constant_images_have_zero_std():
    mean, std = channel_stats(np.full((3, 4, 4, 3), 51, np.uint8))
    assert mean == (0.2, 0.2, 0.2) and std == (0.0, 0.0, 0.0)


def test_normalize_with_the_stats_standardises_each_channel(rng):
    images = rng.integers(0, 256, size=(8, 6, 6, 3), dtype=np.uint8)
    images[..., 1] = images[..., 1] // 2 + 100
    mean, std = channel_stats(images)
    x = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(images)
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_float_images_are_refused():
    with pytest.raises(TypeError, match="expects uint8 images"):
        channel_stats(np.zeros((2, 4, 4, 3), np.float32))
