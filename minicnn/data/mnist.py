"""MNIST, the handwritten digits: the four official IDX files, found or fetched like Fashion-MNIST.

Where the files are looked for, in this order (the first place holding both files of the split
wins; see :mod:`minicnn.data.locate`):

1. the ``root`` argument (CLI: ``--data-dir``), or else ``$MINICNN_DATA``; in each, the
   directory itself, then its ``mnist/`` sub-directory (so one ``$MINICNN_DATA`` can hold
   Fashion-MNIST at the top and MNIST in ``mnist/``: both publish the same file names, and a
   directory holding Fashion-MNIST's files is skipped, with a note, when MNIST is asked for);
2. the user cache, ``$XDG_CACHE_HOME/minicnn/mnist`` (default ``~/.cache/minicnn/mnist``);
3. a download (``download=True``) into the user cache, each file's SHA-256 checked.

Debian ships no MNIST package (``apt-cache search mnist`` finds only Fashion-MNIST), so no
system directory is searched. Files may be gzip-compressed (as published) or raw.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from . import mnist_format
from .dataset import ArrayDataset
from .locate import DatasetNotFoundError, locate, not_found_message, try_download, user_cache
from .locate import search_places as _search_places
from .mnist_format import FILES

__all__ = ["MNIST", "CLASSES", "SHA256", "OFFICIAL_GZ_MD5", "BASE_URL", "cache_dir",
           "search_places"]

CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

# SHA-256 of each file's decompressed IDX bytes (as published with several MNIST loaders; the
# published .gz archives' MD5s are below).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# MD5 of the published .gz archives (for reference).
OFFICIAL_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

# Module attributes, read at call time so that tests (and mirrors) can override them. The
# dataset's home page (http://yann.lecun.com/exdb/mnist/) no longer serves the files freely;
# this mirror serves the same archives.
BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
DOWNLOAD_TIMEOUT = 15.0          # seconds, per network operation
url_opener = urllib.request.urlopen   # (url, timeout=...) -> file-like with .read(n)

SUBDIRS = ("", "mnist")          # inside each place searched


class MNIST(ArrayDataset):
    """The MNIST train (60,000) or test (10,000) split as uint8 images and labels.

    Parameters
    ----------
    split : "train" or "test"
    root : directory holding the IDX files (raw or .gz), or a ``mnist/`` sub-directory of it;
        defaults to ``$MINICNN_DATA``
    download : fetch the files into the user cache if they are not found

    Attributes
    ----------
    images uint8 (N, 28, 28), labels int64 (N,), classes ("0" .. "9"), split, source (the
    directory the files came from), files (the two paths read)

    >>> test = MNIST("test")                                   # doctest: +SKIP
    >>> test.images.shape, test.classes[test.labels[0]]        # doctest: +SKIP
    ((10000, 28, 28), '7')
    """

    def __init__(self, split: str = "train", root=None, download: bool = True):
        if split not in FILES:
            raise ValueError(f"MNIST: split must be 'train' or 'test', got {split!r}")
        from . import fashion_mnist
        found, report = locate(
            search_places(root), mnist_format.wanted_files(split), SUBDIRS,
            reject=mnist_format.other_data_set_check("Fashion-MNIST", fashion_mnist.SHA256))
        if found is not None:
            directory, (image_path, label_path) = found
        else:
            fetched = try_download(
                lambda: mnist_format.fetch_split(split, BASE_URL, SHA256, cache_dir(),
                                                 opener=url_opener, timeout=DOWNLOAD_TIMEOUT),
                BASE_URL, download, report)
            if fetched is None:
                raise DatasetNotFoundError(_not_found_message(split, report))
            directory, image_path, label_path = fetched
        images, labels = mnist_format.read_split(image_path, label_path, len(CLASSES))
        super().__init__(images, labels, CLASSES, split, str(directory))
        self.files = (image_path, label_path)


def cache_dir() -> Path:
    """The user cache for MNIST's downloads: ``$XDG_CACHE_HOME/minicnn/mnist``."""
    return user_cache("mnist")


def search_places(root=None) -> list[tuple[str, Path | None]]:
    """The directories searched, in order, as ``(description, path)``; path None = unset."""
    return _search_places(root, cache_dir())


def _not_found_message(split, report) -> str:
    names = FILES["train"] + FILES["test"]
    fixes = [
        "put the four files (" + ", ".join(n + ".gz" for n in names) + ") in a directory "
        "(or its mnist/ sub-directory) and pass root=DIR (CLI: --data-dir DIR) or set "
        "MINICNN_DATA=DIR",
        f"put them in the user cache, {cache_dir()}, where they are found without root",
        f"allow network access to {BASE_URL} and keep download=True "
        f"(files go to {cache_dir()})",
    ]
    return not_found_message(f"MNIST ({split} split)", report, fixes)
