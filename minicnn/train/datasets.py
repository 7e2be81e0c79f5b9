"""The data of a run: the data set split into train / validation / test, the normalisation,
transforms and loaders."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minicnn.train.config import TrainConfig

__all__ = ["Splits", "load_datasets", "open_split", "normalisation", "make_transforms",
           "make_loaders"]

_NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}


@dataclass
class Splits:
    """The three data sets of a run and where they came from."""
    train: object
    val: object
    test: object
    classes: list
    source: str
    is_sample: bool
    # with test_subset: each scored test image's position in the whole test split (the
    # number minicnn explain --index takes); None when every test image is scored
    test_positions: object = None


def open_split(config: TrainConfig, split: str, log):
    """The ``split`` ("train" or "test") of ``config.dataset`` from where ``config`` says
    (sample / data_dir / the usual places). For "folder", both come from
    ``image_folder_splits`` (see load_datasets)."""
    from minicnn import data as mdata
    if config.dataset == "folder":
        return _folder_splits(config, log)[0 if split == "train" else 1]
    if config.sample:
        root, allow_sample = "sample", True
    elif config.data_dir is not None:
        root, allow_sample = Path(config.data_dir).expanduser(), False
        if not root.is_dir():
            raise FileNotFoundError(f"data directory {config.data_dir} does not exist")
    else:
        root, allow_sample = None, True
    if config.dataset == "mnist":
        return mdata.MNIST(split, root=root, download=config.download)
    if config.dataset == "cifar10":
        return mdata.CIFAR10(split, root=root, download=config.download)
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


def _folder_splits(config: TrainConfig, log):
    """The train and test sets of the student's own folder of images: its ``train/`` and
    ``test/`` folders, or a seeded fifth of the images held out for testing."""
    from minicnn import data as mdata
    root = Path(config.data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {config.data_dir} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mdata.SkippedFilesWarning)
        train, test = mdata.image_folder_splits(root, image_size=config.image_size,
                                                grayscale=config.grayscale, seed=config.seed)
    for warning in caught:
        if issubclass(warning.category, mdata.SkippedFilesWarning):
            log(f"note: {warning.message}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    layout = ("its train/ and test/ folders" if (root / "train").is_dir()
              and (root / "test").is_dir() else "a seeded fifth held out for testing")
    log(f"data: {root}: {len(train)} training and {len(test)} test images, "
        f"{len(train.classes)} classes ({layout})")
    return train, test


def load_datasets(config: TrainConfig, *, log=None) -> Splits:
    """``config.dataset`` split into train / validation (``val_size`` images, seeded) / test.

    With ``config.sample`` the sample bundled in the package; with ``config.data_dir`` that
    directory (it must exist; no silent fall-back to the sample); otherwise the usual places,
    then a download, then (Fashion-MNIST only) the bundled sample (``log`` says so). On a data
    set too small for ``val_size`` (the sample, a folder of photos) a tenth of the training
    images is held out instead. ``config.subset`` keeps N of the remaining training images
    (seeded); ``config.test_subset`` keeps N test images (stratified, seeded: the same N for
    every run with that seed), so a quick run does not spend most of its epochs scoring all
    of them.
    """
    from minicnn import data as mdata

    log = log or (lambda message: None)
    if config.dataset == "folder":
        full_train, test = _folder_splits(config, log)
    else:
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
    positions = None                                         # every test image scored
    if config.test_subset is not None and config.test_subset < len(test):
        log(f"note: scoring {config.test_subset} of the {len(test)} test images each epoch "
            f"(test_subset): an estimate; minicnn evaluate scores them all")
        part = mdata.train_val_split(test, config.test_subset, seed=config.seed)[1]
        positions = part.indices                             # in the test split
        # a folder's seeded test fifth holds indices into the folder: the part keeps them
        indices = positions if test.indices is None else test.indices[positions]
        test = mdata.ArrayDataset(part.images, part.labels, test.classes, "test", test.source,
                                  test.is_sample, indices)
    return Splits(train, val, test, list(full_train.classes), str(full_train.source),
                  bool(full_train.is_sample), positions)


def normalisation(config: TrainConfig, train=None) -> tuple[list, list]:
    """``(mean, std)``, one value per channel: ``config.mean``/``config.std`` when given, the
    lecture's 0.286 / 0.353 for Fashion-MNIST, else the training images' own statistics
    (``minicnn.data.channel_stats``; ``minicnn data stats`` prints them)."""
    from minicnn.data import LECTURE_MEAN, LECTURE_STD, channel_stats
    if config.mean is not None:
        return ([float(v) for v in np.atleast_1d(config.mean)],
                [float(v) for v in np.atleast_1d(config.std)])
    if config.dataset == "fashion-mnist":
        return list(LECTURE_MEAN), list(LECTURE_STD)
    if train is None:
        raise ValueError(f"the normalisation of {config.dataset} is measured on its training "
                         f"images: pass them, or give mean and std")
    mean, std = channel_stats(train)
    return [round(float(v), 4) for v in mean], [round(float(v), 4) for v in std]


def make_transforms(config: TrainConfig, image_shape=(28, 28)):
    """``(train_transform, eval_transform)``: section 9's augmentation (if ``augment``) then
    ToTensor + Normalize(mean, std); evaluation only normalises.

    The augmentation is RandomHorizontalFlip + RandomCrop(size, padding=size // 14) (2 for
    28x28, the lecture's; 2 for 32x32), and for RGB images (``image_shape`` (H, W, 3)) a
    ColorJitter of brightness, contrast and saturation, "for RGB datasets where lighting
    varies" (section 9). ``config.mean``/``std`` must be resolved (see ``normalisation``)."""
    from minicnn.data import transforms as T
    mean, std = normalisation(config)
    normalise = [T.ToTensor(), T.Normalize(mean=mean, std=std)]
    augment = []
    if config.augment:
        height, width = image_shape[:2]
        augment = [T.RandomHorizontalFlip(),
                   T.RandomCrop((height, width), padding=max(1, min(height, width) // 14))]
        if len(image_shape) == 3 and image_shape[2] == 3:
            augment.append(T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2))
    return T.Compose(augment + normalise), T.Compose(normalise)


def make_loaders(splits: Splits, config: TrainConfig):
    """``(train_loader, val_loader, test_loader)``. The training loader's order and
    augmentation in epoch ``e`` depend only on ``(config.seed, e)`` (``loader.set_epoch(e)``);
    the evaluation loaders go in order, in batches of at least 256 (no gradients to keep)."""
    from minicnn.data import DataLoader
    train_tf, eval_tf = make_transforms(config, splits.train.images.shape[1:])
    eval_batch = max(config.batch_size, 256)
    return (DataLoader(splits.train, batch_size=config.batch_size, shuffle=True,
                       seed=config.seed, transform=train_tf, train=True),
            DataLoader(splits.val, batch_size=eval_batch, transform=eval_tf),
            DataLoader(splits.test, batch_size=eval_batch, transform=eval_tf))
