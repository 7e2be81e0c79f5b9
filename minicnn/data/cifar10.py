"""CIFAR-10, the binary version: 60,000 RGB images of 32x32 in ten classes.

Only the official *binary* version is read (``cifar-10-binary.tar.gz``, unpacked as
``cifar-10-batches-bin/``). The pickled "python version" (``cifar-10-batches-py``) is never
loaded: unpickling a file runs code from it.

The binary format (https://www.cs.toronto.edu/~kriz/cifar.html): each file is a sequence of
3,073-byte records, one per image::

    <1 label byte 0..9> <1024 red bytes> <1024 green bytes> <1024 blue bytes>

each colour plane a 32x32 image stored row by row (the first 32 bytes are its top row).
``data_batch_1.bin`` .. ``data_batch_5.bin`` hold the 50,000 training images, ``test_batch.bin``
the 10,000 test images, and ``batches.meta.txt`` the ten class names, one a line, in label
order. Images are returned channels last, uint8 (N, 32, 32, 3), the layout ``ToTensor`` reads.

Where the files are looked for (see :mod:`minicnn.data.locate`): the ``root`` argument (CLI
``--data-dir``) or ``$MINICNN_DATA``, then the user cache ``~/.cache/minicnn/cifar10``; in each,
its ``cifar-10-batches-bin/`` sub-directory, then the directory itself. Then a download of the
archive (``download=True``, SHA-256 checked), of which only the seven files above are unpacked
into the cache, each checked again. Debian ships no CIFAR-10 package.

Files found on disk are checked structurally: a size that is not a whole number of records, a
label out of range or a class list that is not ten names is an error naming the file.
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from minicnn._atomic import atomic_write

from .dataset import ArrayDataset, DataFileError
from .locate import (DatasetNotFoundError, check_sha256, download_file, locate,
                     not_found_message, try_download, user_cache)
from .locate import search_places as _search_places

__all__ = ["CIFAR10", "CLASSES", "FILES", "META_FILE", "DIRECTORY", "ARCHIVE", "SHA256",
           "BASE_URL", "RECORD_BYTES", "read_batch", "read_meta", "cache_dir", "search_places"]

# The official names, in label order (batches.meta.txt is read for the real list).
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")

DIRECTORY = "cifar-10-batches-bin"
FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
META_FILE = "batches.meta.txt"
ARCHIVE = "cifar-10-binary.tar.gz"

IMAGE_SHAPE = (32, 32, 3)
PLANE_BYTES = 32 * 32
RECORD_BYTES = 1 + 3 * PLANE_BYTES          # 3,073: the label byte, then the R, G, B planes

# SHA-256 of the archive (its published MD5 is c32a1d4ab5d03f1284b67883e8d87530, 170,052,171
# bytes) and of the batch files inside it; checked when downloaded.
SHA256 = {
    ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
}

# Module attributes, read at call time so that tests (and mirrors) can override them.
BASE_URL = "https://www.cs.toronto.edu/~kriz/"
DOWNLOAD_TIMEOUT = 15.0          # seconds, per network operation
url_opener = urllib.request.urlopen   # (url, timeout=...) -> file-like with .read(n)

SUBDIRS = (DIRECTORY, "")        # inside each place searched


class CIFAR10(ArrayDataset):
    """The CIFAR-10 train (50,000) or test (10,000) split as RGB uint8 images and labels.

    Parameters
    ----------
    split : "train" or "test"
    root : directory holding ``cifar-10-batches-bin/`` (or that directory itself); defaults
        to ``$MINICNN_DATA``
    download : fetch the binary archive into the user cache if the files are not found

    Attributes
    ----------
    images uint8 (N, 32, 32, 3) (channels last: ``images[n, row, col]`` is an (R, G, B)
    pixel), labels int64 (N,), classes (from batches.meta.txt), split, source (the directory
    the files came from), files (the batch files read, then batches.meta.txt)

    >>> test = CIFAR10("test")                                 # doctest: +SKIP
    >>> test.images.shape, test.classes[test.labels[0]]        # doctest: +SKIP
    ((10000, 32, 32, 3), 'cat')
    """

    def __init__(self, split: str = "train", root=None, download: bool = True):
        if split not in FILES:
            raise ValueError(f"CIFAR10: split must be 'train' or 'test', got {split!r}")
        names = FILES[split] + (META_FILE,)
        places = search_places(root)
        found, report = locate(places, {name: (name,) for name in names}, SUBDIRS)
        if found is None:
            found = try_download(lambda: _fetch(names), archive_url(), download, report)
            if found is None:
                raise DatasetNotFoundError(_not_found_message(split, report, places))
        directory, paths = found
        classes = read_meta(paths[-1])
        images, labels = read_batches(paths[:-1], len(classes))
        super().__init__(images, labels, classes, split, str(directory))
        self.files = tuple(paths)


# ----------------------------------------------------------------------------- reading

def read_meta(path) -> tuple[str, ...]:
    """The class names in ``batches.meta.txt``: one a line, blank lines ignored; ten of them."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not a text file ({exc}); expected CIFAR-10's ten class "
                            f"names, one a line") from exc
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != len(CLASSES):
        raise DataFileError(f"{path}: {len(names)} class names, expected {len(CLASSES)} (one a "
                            f"line); the file is truncated or not CIFAR-10's batches.meta.txt")
    return names


def read_batch(path, n_classes: int = 10):
    """One binary batch file as ``(images uint8 (N, 32, 32, 3), labels int64 (N,))``.

    record n = file[3073 n : 3073 (n + 1)];  label = record[0];
    images[n, i, j, c] = record[1 + 1024 c + 32 i + j]   (c = 0, 1, 2 for R, G, B)
    """
    path = Path(path)
    records = _records(path, n_classes)
    return _pixels(records), records[:, 0].astype(np.int64)


def read_batches(paths, n_classes: int = 10):
    """Several batch files, concatenated in order, into one preallocated array."""
    counts = [_record_count(Path(path)) for path in paths]
    images = np.empty((sum(counts), *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(sum(counts), dtype=np.int64)
    start = 0
    for path, count in zip(paths, counts):
        records = _records(Path(path), n_classes)
        images[start:start + count] = _pixels(records)
        labels[start:start + count] = records[:, 0]
        start += count
    return images, labels


def _record_count(path: Path) -> int:
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path}: the file is empty; expected {RECORD_BYTES}-byte records "
                            f"of CIFAR-10's binary version")
    if size % RECORD_BYTES:
        raise DataFileError(
            f"{path}: size {size:,} bytes is not a multiple of {RECORD_BYTES} (1 label byte + "
            f"3 x 1024 pixel bytes per image): the file is truncated or not a CIFAR-10 binary "
            f"batch; delete it and fetch cifar-10-binary.tar.gz again")
    return size // RECORD_BYTES


def _records(path: Path, n_classes: int) -> np.ndarray:
    count = _record_count(path)
    records = np.fromfile(path, dtype=np.uint8)
    if records.size != count * RECORD_BYTES:        # changed while being read
        raise DataFileError(f"{path}: read {records.size} bytes, expected "
                            f"{count * RECORD_BYTES}")
    records = records.reshape(count, RECORD_BYTES)
    bad = np.flatnonzero(records[:, 0] >= n_classes)
    if bad.size:
        raise DataFileError(
            f"{path}: record {bad[0]} (byte offset {bad[0] * RECORD_BYTES}) has label "
            f"{records[bad[0], 0]}, out of range 0..{n_classes - 1}; the file is corrupt or not "
            f"a CIFAR-10 binary batch (CIFAR-100's files have two label bytes per record)")
    return records


def _pixels(records: np.ndarray) -> np.ndarray:
    """(N, 3073) records -> (N, 32, 32, 3) images: planes R, G, B of 32 rows of 32 bytes."""
    planes = records[:, 1:].reshape(len(records), 3, 32, 32)       # (N, C, H, W)
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1))      # (N, H, W, C)


# ----------------------------------------------------------------------------- locating

def cache_dir() -> Path:
    """The user cache for CIFAR-10's download: ``$XDG_CACHE_HOME/minicnn/cifar10``."""
    return user_cache("cifar10")


def search_places(root=None) -> list[tuple[str, Path | None]]:
    """The directories searched, in order, as ``(description, path)``; path None = unset."""
    return _search_places(root, cache_dir())


def archive_url() -> str:
    """Where the binary archive is downloaded from (``BASE_URL`` + the archive's name)."""
    return BASE_URL.rstrip("/") + "/" + ARCHIVE


def _fetch(names):
    """Download the archive, unpack the seven files into the cache, delete the archive;
    ``(directory, [paths of names])``."""
    target = cache_dir()
    url = archive_url()
    archive = download_file(url, target / ARCHIVE, opener=url_opener, timeout=DOWNLOAD_TIMEOUT,
                            check=lambda tmp: check_sha256(tmp, SHA256[ARCHIVE], ARCHIVE, url))
    try:
        _unpack(archive, target / DIRECTORY, url)
    finally:
        archive.unlink(missing_ok=True)
    directory = target / DIRECTORY
    return directory, [directory / name for name in names]


def _unpack(archive: Path, directory: Path, url: str) -> None:
    """Copy only the expected regular files out of the archive (no path from it is trusted)."""
    wanted = set(FILES["train"] + FILES["test"] + (META_FILE,))
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not (member.isfile() and len(parts) == 2 and parts[0] == DIRECTORY
                    and parts[1] in wanted):
                continue
            name = parts[1]
            source = tar.extractfile(member)
            check = None
            if name in SHA256:
                check = (lambda tmp, name=name:
                         check_sha256(tmp, SHA256[name], f"{ARCHIVE}: {name}", url))
            with source, atomic_write(directory / name, check=check) as out:
                shutil.copyfileobj(source, out)
            wanted.discard(name)
    if wanted:
        raise DataFileError(f"{archive}: the archive lacks {', '.join(sorted(wanted))}; it is "
                            f"not the binary version of CIFAR-10")


def _not_found_message(split, report, places) -> str:
    for description, place in places:
        if place is not None and ((place / "cifar-10-batches-py").is_dir()
                                  or (place / "data_batch_1").is_file()):
            report.append(f"note: {place} holds the pickled Python version of CIFAR-10, which "
                          f"minicnn never loads (unpickling a file runs code from it)")
    needed = ", ".join(FILES[split] + (META_FILE,))
    fixes = [
        f"download the binary version, {archive_url()} (162 MB; not the python version), "
        f"unpack it (tar xzf {ARCHIVE}) and pass root=DIR (CLI: --data-dir DIR) or set "
        f"MINICNN_DATA=DIR, DIR being where {DIRECTORY}/ is (it holds {needed})",
        f"unpack it into the user cache, {cache_dir()}, where it is found without root",
        f"allow network access to {BASE_URL} and keep download=True "
        f"(the files go to {cache_dir() / DIRECTORY})",
    ]
    return not_found_message(f"CIFAR-10 ({split} split, binary version)", report, fixes)
