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
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from minicnn._atomic import atomic_write

from .idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx, read_idx, read_idx_bytes

__all__ = ["CLASSES", "FILES", "SHA256", "OFFICIAL_GZ_MD5", "BASE_URL", "DEBIAN_DIR",
           "SAMPLE_PATH", "SAMPLE", "ArrayDataset", "FashionMNIST", "DatasetNotFoundError",
           "ChecksumError", "SampleDataWarning", "cache_dir", "search_places"]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# split -> (images file, labels file), without the .gz suffix
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

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

_IMAGE_SIZE = (28, 28)
_sample_notice_given = False


class DatasetNotFoundError(FileNotFoundError):
    """The full dataset is in none of the places searched and could not be downloaded."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 does not match the official one (the file was deleted)."""


class SampleDataWarning(UserWarning):
    """Training is running on the small shipped sample, not the full Fashion-MNIST."""


# ----------------------------------------------------------------------------- datasets

class ArrayDataset:
    """Images and labels held in memory, the shape every minicnn dataset takes.

    Attributes
    ----------
    images : uint8 (N, 28, 28)
    labels : int64 (N,)
    classes : tuple of class names, ``classes[label]``
    split : "train", "test", "val", ...
    source : where the data came from (a directory, or "sample")
    is_sample : True when this is (part of) the shipped sample, not the full dataset
    indices : positions in the parent dataset for a view made by ``train_val_split``, else None
    """

    def __init__(self, images, labels, classes=CLASSES, split=None, source=None,
                 is_sample=False, indices=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if len(images) != len(labels):
            raise ValueError(f"ArrayDataset: {len(images)} images but {len(labels)} labels")
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
        """``(image uint8 (28, 28), label)``; an index array or slice gives a batch."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        kind = type(self).__name__
        return (f"{kind}(split={self.split!r}, n={len(self)}, source={self.source!r}"
                + (", sample" if self.is_sample else "") + ")")


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
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minicnn" / "fashion-mnist"


def search_places(root=None) -> list[tuple[str, Path | None]]:
    """The directories searched, in order, as ``(description, path)``; path None = unset."""
    if root is not None:
        first = ("root argument (--data-dir)", Path(root).expanduser())
    else:
        env = os.environ.get("MINICNN_DATA")
        first = ("$MINICNN_DATA", Path(env).expanduser() if env else None)
    return [first,
            ("user cache", cache_dir()),
            ("Debian package dataset-fashion-mnist", Path(DEBIAN_DIR))]


def _find_file(directory: Path, name: str) -> Path | None:
    for candidate in (directory / (name + ".gz"), directory / name):
        if candidate.is_file():
            return candidate
    return None


def _locate_or_download(split, root, download):
    """Return ``((directory, images path, labels path) or None, report lines)``."""
    names = FILES[split]
    report = []
    for description, directory in search_places(root):
        if directory is None:
            report.append(f"{description}: not set")
            continue
        paths = [_find_file(directory, name) for name in names]
        if all(paths):
            return (directory, *paths), report
        missing = ", ".join(f"{name}[.gz]" for name, path in zip(names, paths) if path is None)
        state = "no such directory" if not directory.is_dir() else f"missing {missing}"
        report.append(f"{description}: {directory} ({state})")
    url = BASE_URL
    if not download:
        report.append(f"download from {url}: not attempted (download=False)")
        return None, report
    target = cache_dir()
    try:
        paths = [_find_file(target, name) or _download(url, name, target) for name in names]
    except ChecksumError:
        raise
    except Exception as exc:   # network down, DNS, timeout, HTTP error, unwritable cache
        report.append(f"download from {url}: failed ({_short(exc)})")
        return None, report
    return (target, *paths), report


def _not_found_message(split, report) -> str:
    names = FILES["train"] + FILES["test"]
    lines = [f"Fashion-MNIST ({split} split) was not found. Places tried, in order:"]
    lines += [f"  {i}. {line}" for i, line in enumerate(report, 1)]
    lines += [
        "Three ways to fix it:",
        "  - install the Debian package: sudo apt install dataset-fashion-mnist",
        "  - put the four files (" + ", ".join(n + ".gz" for n in names) + ") in a directory "
        "and pass root=DIR (CLI: --data-dir DIR) or set MINICNN_DATA=DIR",
        f"  - allow network access to {BASE_URL} and keep download=True "
        f"(files go to {cache_dir()})",
        "Or use the small sample shipped with minicnn: FashionMNIST(split, root='sample').",
    ]
    return "\n".join(lines)


def _give_sample_notice(split, error):
    global _sample_notice_given
    if _sample_notice_given:
        return
    _sample_notice_given = True
    warnings.warn(
        "Using the SAMPLE shipped with minicnn (2,000 train / 500 test images), not the full "
        "Fashion-MNIST; accuracies will not match the lecture's.\n" + error,
        SampleDataWarning, stacklevel=3)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


# ----------------------------------------------------------------------------- reading

def _read_split(image_path: Path, label_path: Path):
    images = read_idx(image_path, IMAGES_MAGIC)
    labels = read_idx(label_path, LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != _IMAGE_SIZE:
        raise IDXError(f"{image_path}: images of shape {images.shape}, expected (N, 28, 28)")
    if len(images) != len(labels):
        raise IDXError(f"{image_path} holds {len(images)} images but {label_path} holds "
                       f"{len(labels)} labels; the two files do not belong together")
    if len(labels) and labels.max() >= len(CLASSES):
        raise IDXError(f"{label_path}: label {labels.max()} out of range 0..{len(CLASSES) - 1}")
    return images, labels.astype(np.int64)


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


# ----------------------------------------------------------------------------- download

def _download(base_url: str, name: str, target: Path) -> Path:
    """Fetch ``name``.gz into ``target``, check its SHA-256, then move it into place."""
    filename = name + ".gz"
    url = base_url.rstrip("/") + "/" + filename
    final = target / filename
    response = url_opener(url, timeout=DOWNLOAD_TIMEOUT)   # fails fast when offline
    with response:
        target.mkdir(parents=True, exist_ok=True)
        with atomic_write(final, check=lambda tmp: _verify(tmp, name, url),
                          suffix=".part") as out:
            total = _content_length(response)
            progress = _Progress(filename, total)
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                progress.update(len(chunk))
            progress.close()
    return final


def _verify(path: Path, name: str, url: str) -> None:
    try:
        data = read_idx_bytes(path)
    except IDXError as exc:
        raise ChecksumError(f"{url}: the downloaded file is not valid gzip data ({exc}); "
                            f"it was not kept") from exc
    digest = hashlib.sha256(data).hexdigest()
    expected = SHA256[name]
    if digest != expected:
        raise ChecksumError(f"{url}: SHA-256 of the downloaded {name} is {digest}, expected "
                            f"{expected}; the file is corrupt or not the official one and "
                            f"was not kept")
    parse_idx(data, url, IMAGES_MAGIC if "images" in name else LABELS_MAGIC)


def _content_length(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Progress:
    """The download's progress bar (tqdm, in MB): a live bar on a terminal or in a notebook, a
    few lines in a log, between a "Downloading" line and a "received" line."""

    def __init__(self, name, total, stream=None):
        from tqdm.auto import tqdm

        self.name, self.total, self.done = name, total, 0
        self.stream = stream if stream is not None else sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.stream.write(f"Downloading {name}" + (f" ({total / 1e6:.1f} MB)" if total else "")
                          + "\n")
        # in a log (not a terminal), redraw at most every 10 s: a handful of lines, not a
        # carriage return per chunk
        self.bar = tqdm(total=total, file=self.stream, unit="B", unit_scale=True,
                        unit_divisor=1000, desc="  " + name, mininterval=0.1 if tty else 10.0,
                        disable=not total)

    def update(self, n):
        self.done += n
        self.bar.update(n)

    def close(self):
        self.bar.close()
        self.stream.write(f"  {self.name}: {self.done / 1e6:.1f} MB received\n")
        self.stream.flush()
