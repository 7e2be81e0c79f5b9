"""The data of a run: Fashion-MNIST split into train / validation / test, transforms, loaders."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minicnn.train.config import TrainConfig

__all__ = ["Splits", "load_datasets", "make_transforms", "make_loaders"]


@dataclass
class Splits:
    """The three data sets of a run and where they came from."""
    train: object
    val: object
    test: object
    classes: list
    source: str
    is_sample: bool


def open_split(config: TrainConfig, split: str, log):
    """``FashionMNIST(split)`` from where ``config`` says (sample / data_dir / search)."""
    from minicnn import data as mdata
    if config.sample:
        root, allow_sample = "sample", True
    elif config.data_dir is not None:
        root, allow_sample = Path(config.data_dir).expanduser(), False
        if not root.is_dir():
            raise FileNotFoundError(f"data directory {config.data_dir} does not exist")
    else:
        root, allow_sample = None, True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mdata.SampleDataWarning)
        dataset = mdata.FashionMNIST(split, root=root, download=config.download,
                                     allow_sample=allow_sample)
    for warning in caught:
        if not issubclass(warning.category, mdata.SampleDataWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    if dataset.is_sample and not config.sample:
        log(f"note: the full Fashion-MNIST {split} files were not found (searched "
            f"$MINICNN_DATA, ~/.cache/minicnn, /usr/share/datasets/fashion-mnist; no download); "
            f"using the sample bundled in the package ({len(dataset)} images)")
    elif isinstance(root, Path) and Path(dataset.source) != root:
        log(f"note: {root} does not hold the Fashion-MNIST {split} files; using "
            f"{dataset.source}")
    return dataset


def load_datasets(config: TrainConfig, *, log=None) -> Splits:
    """Fashion-MNIST split into train / validation (``val_size`` images, seeded) / test.

    With ``config.sample`` the sample bundled in the package; with ``config.data_dir`` that
    directory (it must exist; no silent fall-back to the sample); otherwise the usual places,
    then a download, then the bundled sample (``log`` says so). On a data set too small for
    ``val_size`` (the sample) a tenth of the training images is held out instead.
    ``config.subset`` keeps N of the remaining training images (seeded).
    """
    from minicnn import data as mdata

    log = log or (lambda message: None)
    full_train = open_split(config, "train", log)
    test = open_split(config, "test", log)
    val_size = config.val_size
    if val_size > len(full_train) // 10:
        val_size = max(1, len(full_train) // 10)
        log(f"note: {val_size} validation images (a tenth of the {len(full_train)} training "
            f"images), not {config.val_size}")
    train, val = mdata.train_val_split(full_train, val_size, seed=config.seed)
    if config.subset is not None and config.subset < len(train):
        keep = np.sort(np.random.default_rng((config.seed, 2)).permutation(len(train))
                       [:config.subset])
        train = mdata.ArrayDataset(train.images[keep], train.labels[keep], train.classes,
                                   "train", train.source, train.is_sample, train.indices[keep])
    return Splits(train, val, test, list(full_train.classes), str(full_train.source),
                  bool(full_train.is_sample))


def make_transforms(config: TrainConfig):
    """``(train_transform, eval_transform)``: section 9's augmentation (if ``augment``) then
    ToTensor + Normalize(mean, std); evaluation only normalises."""
    from minicnn.data import transforms as T
    normalise = [T.ToTensor(), T.Normalize(mean=[config.mean], std=[config.std])]
    augment = [T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2)] if config.augment else []
    return T.Compose(augment + normalise), T.Compose(normalise)


def make_loaders(splits: Splits, config: TrainConfig):
    """``(train_loader, val_loader, test_loader)``. The training loader's order and
    augmentation in epoch ``e`` depend only on ``(config.seed, e)`` (``loader.set_epoch(e)``);
    the evaluation loaders go in order, in batches of at least 256 (no gradients to keep)."""
    from minicnn.data import DataLoader
    train_tf, eval_tf = make_transforms(config)
    eval_batch = max(config.batch_size, 256)
    return (DataLoader(splits.train, batch_size=config.batch_size, shuffle=True,
                       seed=config.seed, transform=train_tf, train=True),
            DataLoader(splits.val, batch_size=eval_batch, transform=eval_tf),
            DataLoader(splits.test, batch_size=eval_batch, transform=eval_tf))
