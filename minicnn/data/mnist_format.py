"""MNIST's file layout, shared by MNIST and Fashion-MNIST: two IDX files per split.

Both data sets publish the same four file names (gzip-compressed as ``.gz``), 28x28 uint8
images and uint8 labels 0..9. A directory may hold them compressed or raw. Their checksums are
SHA-256 digests of the *decompressed* IDX bytes, so a re-compressed copy (Debian's) is accepted
and anything else rejected. Since the names are the same, a directory holding one data set's
files is skipped, with a note in the report, when the other is asked for (their label files'
digests tell them apart).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx, read_idx, read_idx_bytes
from .locate import ChecksumError, check_sha256, download_file, find_file

__all__ = ["FILES", "IMAGE_SIZE", "wanted_files", "read_split", "other_data_set_check",
           "fetch_split"]

# split -> (images file, labels file), without the .gz suffix
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGE_SIZE = (28, 28)


def wanted_files(split: str) -> dict:
    """``{label: candidates}`` for :func:`minicnn.data.locate.locate`: .gz first, then raw."""
    return {f"{name}[.gz]": (name + ".gz", name) for name in FILES[split]}


def read_split(image_path: Path, label_path: Path, n_classes: int = 10):
    """``(images uint8 (N, 28, 28), labels int64 (N,))``, every file checked; errors name it."""
    images = read_idx(image_path, IMAGES_MAGIC)
    labels = read_idx(label_path, LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SIZE:
        raise IDXError(f"{image_path}: images of shape {images.shape}, expected (N, 28, 28)")
    if len(images) != len(labels):
        raise IDXError(f"{image_path} holds {len(images)} images but {label_path} holds "
                       f"{len(labels)} labels; the two files do not belong together")
    if len(labels) and labels.max() >= n_classes:
        raise IDXError(f"{label_path}: label {labels.max()} out of range 0..{n_classes - 1}")
    return images, labels.astype(np.int64)


def other_data_set_check(other_name: str, other_sha256: dict):
    """A ``reject`` for :func:`locate`: skip a directory whose label file is ``other_name``'s
    (its decompressed SHA-256 is one of ``other_sha256``'s label digests)."""
    label_digests = {digest for name, digest in other_sha256.items() if "labels" in name}

    def reject(directory, paths):
        try:
            digest = hashlib.sha256(read_idx_bytes(paths[1])).hexdigest()
        except IDXError:
            return None            # damaged: reading it later gives the error naming it
        if digest in label_digests:
            return f"holds {other_name}'s files, not these"
        return None

    return reject


def fetch_split(split: str, base_url: str, sha256: dict, target: Path, *, opener,
                timeout: float):
    """Download the split's missing ``.gz`` files into ``target``; ``(target, *paths)``."""
    paths = [find_file(target, (name + ".gz", name))
             or _download_gz(base_url, name, target, sha256, opener, timeout)
             for name in FILES[split]]
    return (target, *paths)


def _download_gz(base_url, name, target, sha256, opener, timeout) -> Path:
    """Fetch ``name``.gz into ``target``, check its SHA-256, then move it into place."""
    url = base_url.rstrip("/") + "/" + name + ".gz"
    return download_file(url, Path(target) / (name + ".gz"), opener=opener, timeout=timeout,
                         check=lambda tmp: _verify(tmp, name, url, sha256[name]))


def _verify(path: Path, name: str, url: str, expected: str) -> None:
    try:
        data = read_idx_bytes(path)
    except IDXError as exc:
        raise ChecksumError(f"{url}: the downloaded file is not valid gzip data ({exc}); "
                            f"it was not kept") from exc
    check_sha256(data, expected, name, url)
    parse_idx(data, url, IMAGES_MAGIC if "images" in name else LABELS_MAGIC)
