"""DataLoader and train_val_split: shapes, coverage, determinism per seed and epoch, resume."""

import numpy as np
import pytest

from minicnn.data import (ArrayDataset, DataLoader, FashionMNIST, lecture_eval_transform,
                          lecture_train_transform, train_val_split)
from minicnn.data import transforms as T


@pytest.fixture
def data(rng):
    """103 images whose label is their index, so batches reveal which samples they hold."""
    images = rng.integers(0, 256, size=(103, 28, 28), dtype=np.uint8)
    return ArrayDataset(images, np.arange(103), split="train")


def epoch_labels(loader):
    return [y.copy() for _, y in loader]


# ----------------------------------------------------------------------------- batches

def test_batch_shapes_and_dtypes(data):
    loader = DataLoader(data, batch_size=16)
    batches = list(loader)
    assert len(loader) == len(batches) == 7
    for x, y in batches[:-1]:
        assert x.shape == (16, 1, 28, 28) and x.dtype == np.float32 and x.flags.c_contiguous
        assert y.shape == (16,) and y.dtype == np.int64
    assert batches[-1][0].shape == (7, 1, 28, 28)
    assert 0.0 <= min(x.min() for x, _ in batches) and max(x.max() for x, _ in batches) <= 1.0


def test_drop_last(data):
    loader = DataLoader(data, batch_size=16, drop_last=True)
    assert len(loader) == 6
    assert [len(y) for _, y in loader] == [16] * 6


def test_without_shuffle_the_order_is_the_dataset_order(data):
    loader = DataLoader(data, batch_size=10, transform=lecture_eval_transform())
    x, y = next(iter(loader))
    np.testing.assert_array_equal(y, np.arange(10))
    np.testing.assert_allclose(x[:, 0], (data.images[:10] / 255 - 0.286) / 0.353, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 10, 103, 500])
def test_each_sample_is_seen_exactly_once_per_epoch(data, batch_size):
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, seed=0)
    for _ in range(2):
        seen = np.concatenate(epoch_labels(loader))
        np.testing.assert_array_equal(np.sort(seen), np.arange(103))


def test_shuffle_is_deterministic_per_seed_and_changes_each_epoch(data):
    a = DataLoader(data, batch_size=32, shuffle=True, seed=7)
    b = DataLoader(data, batch_size=32, shuffle=True, seed=7)
    c = DataLoader(data, batch_size=32, shuffle=True, seed=8)
    a0, a1 = np.concatenate(epoch_labels(a)), np.concatenate(epoch_labels(a))
    b0, b1 = np.concatenate(epoch_labels(b)), np.concatenate(epoch_labels(b))
    np.testing.assert_array_equal(a0, b0)
    np.testing.assert_array_equal(a1, b1)
    assert not np.array_equal(a0, a1)                          # reshuffled each epoch
    assert not np.array_equal(a0, np.concatenate(epoch_labels(c)))
    assert not np.array_equal(a0, np.arange(103))


def test_augmented_epochs_are_reproducible(data):
    def run(loader):
        return [x for x, _ in loader]
    make = lambda: DataLoader(data, batch_size=32, shuffle=True, seed=3, train=True,  # noqa: E731
                              transform=lecture_train_transform())
    first, second = make(), make()
    for _ in range(2):
        for xa, xb in zip(run(first), run(second)):
            np.testing.assert_array_equal(xa, xb)


def test_set_epoch_and_state_dict_resume_exactly(data):
    reference = DataLoader(data, batch_size=32, shuffle=True, seed=5, train=True,
                           transform=lecture_train_transform())
    epochs = [[(x, y) for x, y in reference] for _ in range(3)]
    assert reference.state_dict() == {"seed": 5, "epoch": 3}

    resumed = DataLoader(data, batch_size=32, shuffle=True, seed=99, train=True,
                         transform=lecture_train_transform())
    resumed.load_state_dict({"seed": 5, "epoch": 2})
    for (xa, ya), (xb, yb) in zip(epochs[2], resumed):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)

    resumed.set_epoch(1)
    assert np.array_equal(np.concatenate([y for _, y in resumed]),
                          np.concatenate([y for _, y in epochs[1]]))


def test_seed_none_draws_and_records_a_seed(data):
    a, b = DataLoader(data, shuffle=True), DataLoader(data, shuffle=True)
    assert isinstance(a.seed, int) and a.seed != b.seed
    again = DataLoader(data, shuffle=True, seed=a.seed)
    np.testing.assert_array_equal(np.concatenate(epoch_labels(a)),
                                  np.concatenate(epoch_labels(again)))


def test_transform_must_produce_float32_nchw(data):
    loader = DataLoader(data, transform=T.RandomHorizontalFlip(), train=True)
    with pytest.raises(TypeError, match="end the pipeline with ToTensor"):
        next(iter(loader))


def test_sequence_of_pairs_is_accepted(rng):
    pairs = [(rng.integers(0, 256, (28, 28), dtype=np.uint8), i % 10) for i in range(10)]
    x, y = next(iter(DataLoader(pairs, batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and y.tolist() == [0, 1, 2, 3]


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader([], batch_size=0)


# ----------------------------------------------------------------------------- train_val_split

@pytest.fixture
def labelled(rng):
    labels = np.repeat(np.arange(10), [100, 80, 120, 100, 100, 90, 110, 100, 100, 100])
    images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
    return ArrayDataset(images, labels, split="train", source="somewhere")


def test_split_sizes_disjoint_and_complete(labelled):
    train, val = train_val_split(labelled, val_size=100, seed=0)
    assert len(train) == 900 and len(val) == 100
    assert not set(train.indices) & set(val.indices)
    np.testing.assert_array_equal(np.sort(np.r_[train.indices, val.indices]), np.arange(1000))
    np.testing.assert_array_equal(val.images, labelled.images[val.indices])
    np.testing.assert_array_equal(val.labels, labelled.labels[val.indices])
    assert val.classes == labelled.classes and val.split == "val" and train.split == "train"
    assert val.source == "somewhere" and not val.is_sample


def test_split_is_stratified(labelled):
    _, val = train_val_split(labelled, val_size=0.1, seed=0)
    np.testing.assert_array_equal(np.bincount(val.labels),
                                  [10, 8, 12, 10, 10, 9, 11, 10, 10, 10])


def test_split_depends_only_on_the_seed(labelled):
    a = train_val_split(labelled, 100, seed=1)[1].indices
    b = train_val_split(labelled, 100, seed=1)[1].indices
    c = train_val_split(labelled, 100, seed=2)[1].indices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unstratified_split(labelled):
    train, val = train_val_split(labelled, val_size=250, seed=0, stratify=False)
    assert len(val) == 250 and len(train) == 750


@pytest.mark.parametrize("val_size", [0, 1000, 1.5, -0.1, "10%"])
def test_split_rejects_impossible_sizes(labelled, val_size):
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(labelled, val_size=val_size)


def test_split_of_the_sample_by_fraction_stays_balanced():
    sample = FashionMNIST("train", root="sample")
    train, val = train_val_split(sample, val_size=0.1, seed=0)
    assert len(val) == 200 and np.all(np.bincount(val.labels) == 20) and val.is_sample
