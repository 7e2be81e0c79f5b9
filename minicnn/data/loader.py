"""Mini-batches: a seeded train/validation split and a reproducible DataLoader.

Reproducibility. A DataLoader with ``seed=s`` derives, for epoch e,

* the shuffle order from ``default_rng((s, e, 0))``, and
* the Generator for batch b's random transforms from ``default_rng((s, e, 1, b))``,

so epoch e's batches are the same whatever happened before, and exact resumption of training
needs only ``(seed, epoch)``: ``loader.state_dict()`` / ``loader.load_state_dict(state)``,
or ``loader.set_epoch(e)``. Each ``iter(loader)`` (each ``for`` loop) uses the current
``loader.epoch`` and then advances it by one, so plain ``for epoch in range(E): for x, y in
loader:`` reshuffles every epoch. ``seed=None`` draws a seed once from the OS (stored in
``loader.seed``, so even that run can be repeated).

Augmentation belongs to the training set only: a DataLoader refuses a random transform unless
it is built with ``train=True``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .fashion_mnist import ArrayDataset
from .transforms import ToTensor, Transform, check_eval_transform

__all__ = ["DataLoader", "train_val_split"]


def train_val_split(dataset, val_size=5000, seed=0, stratify=True):
    """Split a dataset into training and validation views, reproducibly.

    Parameters
    ----------
    dataset : anything with ``images``, ``labels`` (and optionally ``classes``, ``source``,
        ``is_sample``), e.g. ``FashionMNIST("train")``
    val_size : number of validation images (int), or a fraction in (0, 1)
    seed : the split depends only on this seed (and the dataset)
    stratify : keep the class proportions equal in both parts (per class, the validation
        share is rounded so the total is exactly ``val_size``)

    Returns
    -------
    train, val : :class:`ArrayDataset` views with ``.images``, ``.labels``, ``.classes`` and
        ``.indices`` (positions in ``dataset``, sorted); ``split`` is "train" and "val"
    """
    labels = np.asarray(dataset.labels)
    n = len(labels)
    if isinstance(val_size, numbers.Integral) and not isinstance(val_size, bool):
        n_val = int(val_size)
    elif isinstance(val_size, numbers.Real) and 0 < val_size < 1:
        n_val = int(round(val_size * n))
    else:
        raise ValueError(f"train_val_split: val_size must be an int or a fraction in (0, 1), "
                         f"got {val_size!r}")
    if not 0 < n_val < n:
        raise ValueError(f"train_val_split: val_size={val_size!r} leaves {n - n_val} of {n} "
                         f"images for training; need at least one in each part")
    rng = np.random.default_rng(seed)
    if stratify:
        classes, counts = np.unique(labels, return_counts=True)
        quota = counts * (n_val / n)
        take = np.floor(quota).astype(np.int64)
        # largest remainders get the leftover places, so the total is exactly n_val
        leftover = n_val - take.sum()
        take[np.argsort(-(quota - take), kind="stable")[:leftover]] += 1
        val_idx = np.concatenate([
            rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)])
    else:
        val_idx = rng.permutation(n)[:n_val]
    val_mask = np.zeros(n, dtype=bool)
    val_mask[val_idx] = True
    return _view(dataset, np.flatnonzero(~val_mask), "train"), \
        _view(dataset, np.flatnonzero(val_mask), "val")


def _view(dataset, indices, split):
    return ArrayDataset(np.asarray(dataset.images)[indices], np.asarray(dataset.labels)[indices],
                        classes=getattr(dataset, "classes", ()), split=split,
                        source=getattr(dataset, "source", None),
                        is_sample=getattr(dataset, "is_sample", False), indices=indices)


class DataLoader:
    """Batches ``(x, y)``: x float32 (B, C, H, W) from ``transform``, y int64 (B,).

    Parameters
    ----------
    dataset : has ``images`` (N, H, W) uint8 and ``labels`` (N,) (fast path: one fancy-index
        gather per batch), or any sequence of ``(image, label)`` pairs
    batch_size : images per batch; the last batch may be smaller unless ``drop_last``
    shuffle : a new order every epoch, from the seed and the epoch number
    seed : int, or None for a seed drawn once from the OS (see ``loader.seed``)
    drop_last : drop the final incomplete batch
    transform : applied to each whole batch as ``transform(images, rng)``; must yield float32
        (B, C, H, W). Default: ``ToTensor()`` (scale to [0, 1], add the channel axis).
    train : True for the training loader. Only a training loader accepts a random transform
        (augmentation is for the training set only); the default, False, refuses one.

    ``len(loader)`` is the number of batches per epoch.

    >>> loader = DataLoader(train, batch_size=64, shuffle=True, seed=0,      # doctest: +SKIP
    ...                     transform=lecture_train_transform(), train=True)
    >>> for epoch in range(10):                                              # doctest: +SKIP
    ...     for x, y in loader: ...      # epoch 0, then 1, ... (loader.epoch advances)
    """

    def __init__(self, dataset, batch_size=64, shuffle=False, seed=None, drop_last=False,
                 transform=None, train=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not train:
            check_eval_transform(transform, "DataLoader(train=False)")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = ToTensor() if transform is None else transform
        self.train = bool(train)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.seed = int(seed)
        self.epoch = 0
        self._images = getattr(dataset, "images", None)
        self._labels = getattr(dataset, "labels", None)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch``'s order and augmentation."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the exact batch sequence."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def order(self, epoch: int) -> np.ndarray:
        """The sample order used in ``epoch`` (identity when not shuffling)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng((self.seed, epoch, 0)).permutation(n)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return self._batches(epoch)

    def _batches(self, epoch):
        order = self.order(epoch)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            images, labels = self._gather(idx)
            rng = np.random.default_rng((self.seed, epoch, 1, b))
            x = self.transform(images, rng) if isinstance(self.transform, Transform) \
                else self.transform(images)
            if not (isinstance(x, np.ndarray) and x.ndim == 4 and x.dtype == np.float32):
                raise TypeError(
                    f"DataLoader: the transform must produce float32 (B, C, H, W) batches, got "
                    f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}; "
                    f"end the pipeline with ToTensor() (and Normalize)")
            yield x, labels

    def _gather(self, idx):
        if self._images is not None and self._labels is not None:
            return self._images[idx], np.asarray(self._labels[idx], dtype=np.int64)
        pairs = [self.dataset[int(i)] for i in idx]
        return (np.stack([np.asarray(p[0]) for p in pairs]),
                np.asarray([p[1] for p in pairs], dtype=np.int64))

    def __repr__(self) -> str:
        return (f"DataLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"train={self.train}, epoch={self.epoch})")

