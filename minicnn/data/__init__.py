"""minicnn's data: Fashion-MNIST, MNIST, CIFAR-10 (binary), your own images; splits, batches.

>>> from minicnn.data import FashionMNIST, train_val_split, DataLoader          # doctest: +SKIP
>>> from minicnn.data import lecture_train_transform, lecture_eval_transform    # doctest: +SKIP
>>> full = FashionMNIST("train")                  # 60,000 images (or the sample, with a warning)
>>> train, val = train_val_split(full, val_size=5000, seed=0)
>>> train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0,
...                           transform=lecture_train_transform(), train=True)
>>> val_loader = DataLoader(val, batch_size=256, transform=lecture_eval_transform())

Every data set is an :class:`ArrayDataset`: uint8 images (N, H, W) grey or (N, H, W, 3) RGB,
int64 labels, ``classes``. ``MNIST(split)`` and ``CIFAR10(split)`` are found like
Fashion-MNIST (``root``/``--data-dir``, ``$MINICNN_DATA``, the user cache, a download; see
``minicnn/data/locate.py``); ``ImageFolder(root)`` reads ``root/<class>/<image>`` and
``image_folder_splits(root)`` gives its train and test sets; ``channel_stats(train)`` gives
the mean and std a ``Normalize`` needs.

Where Fashion-MNIST comes from: see :mod:`minicnn.data.fashion_mnist`. The sample:
``FashionMNIST(split, root="sample")``.
"""

from . import transforms
from .cifar10 import CIFAR10
from .dataset import ArrayDataset, DataFileError
from .fashion_mnist import (CLASSES, ChecksumError, DatasetNotFoundError, FashionMNIST,
                            SampleDataWarning, cache_dir, load_sample, search_places)
from .idx import IDXError, read_idx, write_idx
from .image_folder import IMAGE_EXTENSIONS, ImageFolder, SkippedFilesWarning, image_folder_splits
from .loader import DataLoader, train_val_split
from .mnist import MNIST
from .stats import channel_stats
from .transforms import (LECTURE_MEAN, LECTURE_STD, check_eval_transform,
                         lecture_eval_transform, lecture_train_transform)

__all__ = ["CLASSES", "ArrayDataset", "ChecksumError", "DatasetNotFoundError", "FashionMNIST",
           "SampleDataWarning", "cache_dir", "load_sample", "search_places", "IDXError",
           "read_idx", "write_idx", "DataLoader", "train_val_split", "transforms",
           "LECTURE_MEAN", "LECTURE_STD", "check_eval_transform", "lecture_eval_transform",
           "lecture_train_transform", "MNIST", "CIFAR10", "ImageFolder", "image_folder_splits",
           "channel_stats", "DataFileError", "SkippedFilesWarning", "IMAGE_EXTENSIONS"]
