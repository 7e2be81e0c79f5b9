"""ArrayDataset, the shape every minicnn data set takes, and the error for a damaged data file.

Images are uint8, batch first, in the layout the transforms read (``ToTensor`` turns them into
float32 (N, C, H, W) tensors)::

    (N, H, W)       grayscale (Fashion-MNIST, MNIST, ImageFolder(grayscale=True))
    (N, H, W, 3)    RGB, channels last as read from disk (CIFAR-10, ImageFolder)

Labels are int64 (N,), and ``classes[label]`` names a label's class.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ArrayDataset", "DataFileError"]


class DataFileError(ValueError):
    """A data file is truncated, corrupt or not the kind of file expected; the message names it.

    (IDX files raise :class:`minicnn.data.IDXError`, which predates this class.)
    """


class ArrayDataset:
    """Images and labels held in memory, the shape every minicnn dataset takes.

    Attributes
    ----------
    images : uint8 (N, H, W) for grayscale, (N, H, W, 3) for RGB
    labels : int64 (N,)
    classes : tuple of class names, ``classes[label]``
    split : "train", "test", "val", ...
    source : where the data came from (a directory, or "sample")
    is_sample : True when this is (part of) the shipped sample, not the full dataset
    indices : positions in the parent dataset for a view made by ``train_val_split``, else None
    """

    def __init__(self, images, labels, classes=None, split=None, source=None,
                 is_sample=False, indices=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if len(images) != len(labels):
            raise ValueError(f"ArrayDataset: {len(images)} images but {len(labels)} labels")
        if classes is None:
            # the default since the days when Fashion-MNIST was minicnn's only data set
            from .fashion_mnist import CLASSES as classes
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = tuple(classes)
        self.split = split
        self.source = source
        self.is_sample = bool(is_sample)
        self.indices = indices

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        """``(image uint8 (H, W) or (H, W, 3), label)``; an index array or slice gives a batch."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        kind = type(self).__name__
        return (f"{kind}(split={self.split!r}, n={len(self)}, source={self.source!r}"
                + (", sample" if self.is_sample else "") + ")")
