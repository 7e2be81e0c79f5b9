"""Fashion-MNIST for minicnn: IDX reader, locate/download, shipped sample, splits, batches.

>>> from minicnn.data import FashionMNIST, train_val_split, DataLoader          # doctest: +SKIP
>>> from minicnn.data import lecture_train_transform, lecture_eval_transform    # doctest: +SKIP
>>> full = FashionMNIST("train")                  # 60,000 images (or the sample, with a warning)
>>> train, val = train_val_split(full, val_size=5000, seed=0)
>>> train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0,
...                           transform=lecture_train_transform(), train=True)
>>> val_loader = DataLoader(val, batch_size=256, transform=lecture_eval_transform())

Where the data comes from: see :mod:`minicnn.data.fashion_mnist`. The sample:
``FashionMNIST(split, root="sample")``.
"""

from . import transforms
from .fashion_mnist import (CLASSES, ArrayDataset, ChecksumError, DatasetNotFoundError,
                            FashionMNIST, SampleDataWarning, cache_dir, load_sample,
                            search_places)
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, train_val_split
from .transforms import (LECTURE_MEAN, LECTURE_STD, check_eval_transform,
                         lecture_eval_transform, lecture_train_transform)

__all__ = ["CLASSES", "ArrayDataset", "ChecksumError", "DatasetNotFoundError", "FashionMNIST",
           "SampleDataWarning", "cache_dir", "load_sample", "search_places", "IDXError",
           "read_idx", "write_idx", "DataLoader", "train_val_split", "transforms",
           "LECTURE_MEAN", "LECTURE_STD", "check_eval_transform", "lecture_eval_transform",
           "lecture_train_transform"]
