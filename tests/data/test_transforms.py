"""Batch transforms: shapes, dtypes, ranges, exact results on tiny arrays, seeding, eval guard."""

import numpy as np
import pytest

from minicnn.data import DataLoader, check_eval_transform
from minicnn.data import transforms as T


@pytest.fixture
def batch(rng):
    return rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8)


ALL_RANDOM = [
    T.RandomHorizontalFlip(),
    T.RandomCrop(28, padding=2),
    T.RandomRotation(15),
    T.RandomRotation(15, interpolation="bilinear"),
    T.RandomErasing(),
    T.ColorJitter(brightness=0.4, contrast=0.4),
]


# ----------------------------------------------------------------------------- ToTensor, Normalize

def test_to_tensor_adds_the_channel_axis_and_scales(batch):
    out = T.ToTensor()(batch)
    assert out.shape == (16, 1, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out[:, 0], batch / 255.0, rtol=1e-6)


def test_to_tensor_moves_channels_first(rng):
    rgb = rng.integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
    out = T.ToTensor()(rgb)
    assert out.shape == (4, 3, 5, 6) and out.flags.c_contiguous
    np.testing.assert_allclose(out[2, 1], rgb[2, :, :, 1] / 255.0, rtol=1e-6)


def test_to_tensor_refuses_an_already_converted_batch(batch):
    with pytest.raises(TypeError, match="ToTensor expects uint8"):
        T.ToTensor()(T.ToTensor()(batch))


def test_normalize_per_channel(rng):
    x = rng.random((3, 2, 4, 4), dtype=np.float32)
    out = T.Normalize([0.5, 0.25], [2.0, 0.5])(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - 0.5) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 0.25) / 0.5, rtol=1e-6)


def test_normalize_needs_tensors_and_matching_channels(batch, rng):
    with pytest.raises(TypeError, match="after ToTensor"):
        T.Normalize(0.286, 0.353)(batch)
    with pytest.raises(ValueError, match="2 means/stds but the batch has 3 channels"):
        T.Normalize([0, 0], [1, 1])(rng.random((1, 3, 2, 2)))


def test_lecture_pipelines_give_normalised_float32_nchw(batch):
    train = T.lecture_train_transform()(batch, np.random.default_rng(0))
    evaluation = T.lecture_eval_transform()(batch)
    for out in (train, evaluation):
        assert out.shape == (16, 1, 28, 28) and out.dtype == np.float32
        assert out.min() >= (0 - 0.286) / 0.353 - 1e-6 and out.max() <= (1 - 0.286) / 0.353 + 1e-6
    np.testing.assert_allclose(evaluation, (batch[:, None] / 255.0 - 0.286) / 0.353, atol=1e-5)


# ----------------------------------------------------------------------------- flip

def test_flip_p1_mirrors_every_image_and_p0_none():
    x = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x, 0), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x, 0), x)


def test_flip_chooses_per_image(batch):
    out = T.RandomHorizontalFlip(p=0.5)(batch, np.random.default_rng(3))
    flipped = [np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)]
    kept = [np.array_equal(o, b) for o, b in zip(out, batch)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(batch)


def test_flip_does_not_modify_its_input(batch):
    before = batch.copy()
    T.RandomHorizontalFlip(p=1.0)(batch, 0)
    np.testing.assert_array_equal(batch, before)


# ----------------------------------------------------------------------------- crop

def test_crop_matches_a_per_image_reference_on_a_tiny_array():
    x = (np.arange(6 * 3 * 4) % 250 + 1).astype(np.uint8).reshape(6, 3, 4)
    out = T.RandomCrop((2, 3), padding=1)(x, np.random.default_rng(7))
    np.testing.assert_array_equal(out, reference_crop_hw(x, (2, 3), 1, np.random.default_rng(7)))


def reference_crop_hw(x, size, padding, rng):
    """One image at a time, with the same random draws as RandomCrop (top offsets, then left)."""
    n, height, width = x.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, height + 2 * padding - size[0] + 1, size=n)
    left = rng.integers(0, width + 2 * padding - size[1] + 1, size=n)
    return np.stack([padded[i, t:t + size[0], l:l + size[1]]
                     for i, (t, l) in enumerate(zip(top, left))])


def test_crop_pads_with_zeros_and_visits_every_offset():
    x = np.full((400, 2, 2), 9, dtype=np.uint8)
    out = T.RandomCrop(2, padding=1)(x, np.random.default_rng(0))
    assert out.shape == (400, 2, 2)
    # offset (i, j) in {0,1,2}^2 is identified by where the zeros are
    patterns = {tuple((o == 9).ravel()) for o in out}
    assert len(patterns) == 9


def test_crop_without_padding_to_full_size_is_identity(batch):
    np.testing.assert_array_equal(T.RandomCrop(28)(batch, 0), batch)


def test_crop_larger_than_padded_image_is_an_error(batch):
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(33, padding=2)(batch, 0)


# ----------------------------------------------------------------------------- rotation

def test_rotation_by_90_degrees_turns_counter_clockwise():
    x = np.arange(1, 26, dtype=np.uint8).reshape(1, 5, 5)
    for interpolation in ("nearest", "bilinear"):
        out = T.RandomRotation((90, 90), interpolation=interpolation)(x, 0)
        np.testing.assert_array_equal(out[0], np.rot90(x[0], k=1))


def test_rotation_by_zero_is_identity_and_fill_is_used_outside(batch):
    np.testing.assert_array_equal(T.RandomRotation(0)(batch, 0), batch)
    ones = np.full((4, 10, 10), 200, dtype=np.uint8)
    out = T.RandomRotation((45, 45), fill=7)(ones, 0)
    assert out[0, 0, 0] == 7 and out[0, 5, 5] == 200


def test_rotation_angle_differs_per_image():
    x = np.zeros((8, 9, 9), dtype=np.uint8)
    x[:, 0, 4] = 255                         # a dot at the top centre
    out = T.RandomRotation(90)(x, np.random.default_rng(0))
    where = {tuple(np.argwhere(o == 255)[0]) for o in out if (o == 255).any()}
    assert len(where) > 1


# ----------------------------------------------------------------------------- erasing, jitter

def test_erasing_p1_blanks_one_rectangle_of_the_allowed_area():
    x = np.full((50, 20, 20), 255, dtype=np.uint8)
    out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), value=0)(x, np.random.default_rng(0))
    for image in out:
        rows, cols = np.nonzero(image == 0)
        assert len(rows) > 0
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == height * width                         # a filled rectangle
        assert 0.05 <= len(rows) / 400 <= 0.3                      # scale, up to rounding


def test_erasing_p0_is_identity(batch):
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(batch, 0), batch)


def test_color_jitter_keeps_the_valid_range(batch):
    out = T.ColorJitter(brightness=0.9, contrast=0.9)(batch, 0)
    assert out.dtype == np.uint8 and out.shape == batch.shape
    tensors = T.ToTensor()(batch)
    out = T.ColorJitter(brightness=0.9, contrast=0.9)(tensors, 0)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_color_jitter_zero_is_identity(batch):
    np.testing.assert_array_equal(T.ColorJitter()(batch, 0), batch)


def test_color_jitter_saturation_blends_each_pixel_with_its_grey():
    rgb = np.random.default_rng(0).random((3, 3, 5, 4)).astype(np.float32) * 0.5   # (N,C,H,W)
    grey = np.tensordot([0.299, 0.587, 0.114], rgb, axes=(0, 1)).astype(np.float32)
    # a factor drawn from (0, 0): the image turns grey; (1, 1): unchanged
    out = T.ColorJitter(saturation=(0.0, 0.0))(rgb, 0)
    np.testing.assert_allclose(out, np.repeat(grey[:, None], 3, axis=1), atol=1e-6)
    np.testing.assert_array_equal(T.ColorJitter(saturation=(1.0, 1.0))(rgb, 0), rgb)
    # brightness and contrast draw as before saturation existed: the same images
    np.testing.assert_array_equal(T.ColorJitter(0.5, 0.5, saturation=0.0)(rgb, 3),
                                  T.ColorJitter(0.5, 0.5)(rgb, 3))


# ----------------------------------------------------------------------------- all augmentations

@pytest.mark.parametrize("transform", ALL_RANDOM, ids=repr)
def test_works_on_uint8_images_and_float_tensors_alike(transform, batch):
    """Before ToTensor (uint8 N,H,W) or after (float N,C,H,W): same result, same draws."""
    before = T.ToTensor()(transform(batch, np.random.default_rng(5)))
    after = transform(T.ToTensor()(batch), np.random.default_rng(5))
    assert after.shape == (16, 1, 28, 28) and after.dtype == np.float32
    np.testing.assert_allclose(before, after, atol=1.5 / 255)


@pytest.mark.parametrize("transform", ALL_RANDOM, ids=repr)
def test_same_seed_same_output_different_seed_different(transform, batch):
    a = transform(batch, np.random.default_rng(1))
    b = transform(batch, np.random.default_rng(1))
    c = transform(batch, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert a.shape == batch.shape and a.dtype == batch.dtype
    assert not np.array_equal(a, c)


def test_channels_last_uint8_images_are_supported(rng):
    rgb = rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    out = T.RandomHorizontalFlip(p=1.0)(rgb, 0)
    np.testing.assert_array_equal(out, rgb[:, :, ::-1, :])
    assert T.RandomCrop(6, padding=1)(rgb, 0).shape == (3, 6, 6, 3)


def test_a_single_image_is_refused_with_advice():
    with pytest.raises(ValueError, match="expects a batch.*x\\[None\\]"):
        T.RandomHorizontalFlip()(np.zeros((28, 28), np.uint8))


def test_constructor_seed_makes_calls_without_rng_reproducible(batch):
    a = T.lecture_train_transform(seed=3)(batch)
    b = T.lecture_train_transform(seed=3)(batch)
    np.testing.assert_array_equal(a, b)


def test_compose_passes_one_generator_through_in_order(batch):
    composed = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2)])
    rng = np.random.default_rng(4)
    expected = T.RandomCrop(28, padding=2)(T.RandomHorizontalFlip()(batch, rng), rng)
    np.testing.assert_array_equal(composed(batch, np.random.default_rng(4)), expected)


# ----------------------------------------------------------------------------- random flag, repr

def test_random_attribute():
    assert all(t.random for t in ALL_RANDOM)
    assert not T.ToTensor().random and not T.Normalize(0, 1).random
    assert T.lecture_train_transform().random
    assert not T.lecture_eval_transform().random


def test_repr_reads_like_torchvision():
    assert repr(T.lecture_train_transform()) == (
        "Compose(\n"
        "    RandomHorizontalFlip(p=0.5)\n"
        "    RandomCrop(size=(28, 28), padding=2)\n"
        "    ToTensor()\n"
        "    Normalize(mean=[0.286], std=[0.353])\n"
        ")")
    assert repr(T.RandomErasing()) == ("RandomErasing(p=0.5, scale=(0.02, 0.33), "
                                       "ratio=(0.3, 3.3), value=0)")


# ----------------------------------------------------------------------------- train-only

def test_eval_loader_refuses_a_random_transform(batch):
    from minicnn.data import ArrayDataset
    data = ArrayDataset(batch, np.zeros(16))
    with pytest.raises(ValueError, match="training set only"):
        DataLoader(data, transform=T.lecture_train_transform())
    with pytest.raises(ValueError, match="training set only"):
        DataLoader(data, transform=T.RandomErasing(), train=False)
    DataLoader(data, transform=T.lecture_eval_transform())                 # fine
    DataLoader(data, transform=T.lecture_train_transform(), train=True)    # fine


def test_check_eval_transform():
    check_eval_transform(T.lecture_eval_transform())
    check_eval_transform(None)
    with pytest.raises(ValueError, match="RandomHorizontalFlip"):
        check_eval_transform(T.lecture_train_transform(), "evaluate()")
