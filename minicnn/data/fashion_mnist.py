"""Fashion-MNIST: find the official IDX files, or fetch them, or fall back to the shipped sample.

Where the data is looked for, in this order (the first place holding both files of the split
wins):

1. the ``root`` argument (CLI: ``--data-dir``), or else the ``$MINICNN_DATA`` directory;
2. the user cache, ``$XDG_CACHE_HOME/minicnn/fashion-mnist`` (default
   ``~/.cache/minicnn/fashion-mnist``);
3. Debian's package ``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist``;
4. a download from the dataset's home (``download=True``) into the user cache: short
   timeout, progress on stderr, SHA-256 checked, written atomically (temp file + os.replace);
5. the 2,000 + 500 image sample shipped inside minicnn (``allow_sample=True``), with a
   one-time :class:`SampleDataWarning`.

A directory may hold the files gzip-compressed (``train-images-idx3-ubyte.gz``, as published)
or raw (``train-images-idx3-ubyte``). ``root="sample"`` (that exact string) asks for the
shipped sample directly; a directory literally named ``sample`` is ``root="./sample"`` or
``root=Path("sample")``.

Checksums are SHA-256 digests of the *decompressed* IDX bytes. The published ``.gz`` archives
and Debian's re-compressed copies differ byte for byte (Debian's gzip headers omit the file
name) but hold identical IDX data, so hashing the content accepts both and rejects anything
else. Files found on disk are validated structurally (magic number, dimensions, counts,
size); downloaded files are also checksummed before they are kept.

The searching and downloading are shared with MNIST and CIFAR-10 (:mod:`minicnn.data.locate`;
the IDX pair with MNIST in :mod:`minicnn.data.mnist_format`). MNIST publishes the same file
names: a directory holding MNIST's files is skipped, with a note in the report.
"""

from __future__ import annotations

import urllib.request
import warnings
from pathlib import Path

import numpy as np

from . import mnist_format
from .dataset import ArrayDataset
from .locate import (ChecksumError, DatasetNotFoundError, locate, not_found_message,
                     try_download, user_cache)
from .locate import search_places as _search_places
from .mnist_format import FILES

__all__ = ["CLASSES", "FILES", "SHA256", "OFFICIAL_GZ_MD5", "BASE_URL", "DEBIAN_DIR",
           "SAMPLE_PATH", "SAMPLE", "ArrayDataset", "FashionMNIST", "DatasetNotFoundError",
           "ChecksumError", "SampleDataWarning", "cache_dir", "search_places"]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# SHA-256 of each file's decompressed IDX bytes (computed from Debian's dataset-fashion-mnist;
# they agree with the published archives, whose MD5s are below).
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# MD5 of the published .gz archives, as listed in the dataset's README (for reference).
OFFICIAL_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

# Module attributes, read at call time so that tests (and mirrors) can override them.
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT = 15.0          # seconds, per network operation
url_opener = urllib.request.urlopen   # (url, timeout=...) -> file-like with .read(n)

SAMPLE = "sample"
SAMPLE_PATH = Path(__file__).resolve().parent / "sample" / "fashion-mnist-sample.npz"

_sample_notice_given = False


class SampleDataWarning(UserWarning):
    """Training is running on the small shipped sample, not the full Fashion-MNIST."""


# ----------------------------------------------------------------------------- datasets

class FashionMNIST(ArrayDataset):
    """The Fashion-MNIST train (60,000) or test (10,000) split as uint8 images and labels.

    Parameters
    ----------
    split : "train" or "test"
    root : directory holding the IDX files (raw or .gz); defaults to ``$MINICNN_DATA``.
        ``"sample"`` loads the shipped sample (2,000 train / 500 test images) directly.
    download : fetch the files from the dataset's home into the user cache if not found
    allow_sample : when the full set cannot be found or fetched, use the shipped sample
        (with a one-time :class:`SampleDataWarning`) instead of raising
        :class:`DatasetNotFoundError`

    Attributes
    ----------
    images uint8 (N, 28, 28), labels int64 (N,), classes, split, source (the directory the
    files came from, or "sample"), is_sample, files (the two paths read; empty for the sample)

    >>> train = FashionMNIST("train")             # doctest: +SKIP
    >>> train.images.shape, train.classes[train.labels[0]]   # doctest: +SKIP
    ((60000, 28, 28), 'Ankle boot')
    """

    def __init__(self, split: str = "train", root=None, download: bool = True,
                 allow_sample: bool = True):
        if split not in FILES:
            raise ValueError(f"FashionMNIST: split must be 'train' or 'test', got {split!r}")
        self.files: tuple[Path, ...] = ()
        if isinstance(root, str) and root == SAMPLE:      # the string, never a Path
            images, labels = load_sample(split)
            super().__init__(images, labels, CLASSES, split, SAMPLE, is_sample=True)
            return
        found, report = _locate_or_download(split, root, download)
        if found is None:
            error = _not_found_message(split, report)
            if not allow_sample:
                raise DatasetNotFoundError(error)
            _give_sample_notice(split, error)
            images, labels = load_sample(split)
            super().__init__(images, labels, CLASSES, split, SAMPLE, is_sample=True)
            return
        directory, image_path, label_path = found
        images, labels = _read_split(image_path, label_path)
        super().__init__(images, labels, CLASSES, split, str(directory))
        self.files = (image_path, label_path)


# ----------------------------------------------------------------------------- locating

def cache_dir() -> Path:
    """The user cache for downloads: ``$XDG_CACHE_HOME/minicnn/fashion-mnist``."""
    return user_cache("fashion-mnist")


def search_places(root=None) -> list[tuple[str, Path | None]]:
    """The directories searched, in order, as ``(description, path)``; path None = unset."""
    return _search_places(root, cache_dir(),
                          ("Debian package dataset-fashion-mnist", Path(DEBIAN_DIR)))


def _locate_or_download(split, root, download):
    """Return ``((directory, images path, labels path) or None, report lines)``."""
    from . import mnist
    found, report = locate(search_places(root), mnist_format.wanted_files(split),
                           reject=mnist_format.other_data_set_check("MNIST", mnist.SHA256))
    if found is not None:
        directory, paths = found
        return (directory, *paths), report
    fetched = try_download(
        lambda: mnist_format.fetch_split(split, BASE_URL, SHA256, cache_dir(),
                                         opener=url_opener, timeout=DOWNLOAD_TIMEOUT),
        BASE_URL, download, report)
    return fetched, report


def _not_found_message(split, report) -> str:
    names = FILES["train"] + FILES["test"]
    fixes = [
        "install the Debian package: sudo apt install dataset-fashion-mnist",
        "put the four files (" + ", ".join(n + ".gz" for n in names) + ") in a directory "
        "and pass root=DIR (CLI: --data-dir DIR) or set MINICNN_DATA=DIR",
        f"allow network access to {BASE_URL} and keep download=True "
        f"(files go to {cache_dir()})",
    ]
    return (not_found_message(f"Fashion-MNIST ({split} split)", report, fixes)
            + "\nOr use the small sample shipped with minicnn: "
              "FashionMNIST(split, root='sample').")


def _give_sample_notice(split, error):
    global _sample_notice_given
    if _sample_notice_given:
        return
    _sample_notice_given = True
    warnings.warn(
        "Using the SAMPLE shipped with minicnn (2,000 train / 500 test images), not the full "
        "Fashion-MNIST; accuracies will not match the lecture's.\n" + error,
        SampleDataWarning, stacklevel=3)


# ----------------------------------------------------------------------------- reading

def _read_split(image_path: Path, label_path: Path):
    return mnist_format.read_split(image_path, label_path, len(CLASSES))


def load_sample(split: str):
    """The shipped sample's ``(images uint8 (N, 28, 28), labels int64 (N,))`` for ``split``."""
    if split not in FILES:
        raise ValueError(f"load_sample: split must be 'train' or 'test', got {split!r}")
    if not SAMPLE_PATH.is_file():
        raise DatasetNotFoundError(
            f"the shipped sample {SAMPLE_PATH} is missing; rebuild it with "
            f"`python -m minicnn.data.make_sample` or reinstall minicnn")
    with np.load(SAMPLE_PATH) as archive:
        return archive[f"{split}_images"], archive[f"{split}_labels"].astype(np.int64)
