"""ImageFolder: a student's own images, one folder per class, decoded with Pillow.

    root/
      cat/    img001.jpg  img002.png  ...
      dog/    a.bmp  b.webp  holiday/c.jpg  ...

Every ``root/<class>/`` folder is a class (names sorted, so label 0 is the first name in
sorted order); every image inside it, at any depth, is one example of that class. A file
whose extension is not an image format (``notes.txt``, ``.DS_Store``) is skipped and counted
(``dataset.skipped``, and a :class:`SkippedFilesWarning`); a file with an image extension
that Pillow cannot decode is an error naming it.

Images come out as the other data sets' do: uint8 (N, H, W, 3) RGB, or (N, H, W) with
``grayscale=True``; a photo's EXIF orientation is applied; a transparent pixel becomes white;
16-bit grey images are scaled to 8 bits (not clipped).
Images of different sizes need ``image_size``, to which every image is resized (bilinear,
with antialiasing when shrinking; the aspect ratio is not kept). Memory is bounded: images
are decoded one at a time into one preallocated array, whose size is checked against
``max_bytes`` before it is allocated.

For training, :func:`image_folder_splits` gives a train and a test set: the ``train/`` and
``test/`` folders when ``root`` has both, otherwise a seeded, stratified split of one folder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .dataset import ArrayDataset, DataFileError

__all__ = ["ImageFolder", "image_folder_splits", "SkippedFilesWarning", "IMAGE_EXTENSIONS"]

# Extensions read as images (lower case); anything else is skipped and counted.
IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp", ".tif",
    ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico"})

MAX_BYTES = 2 * 1024 ** 3        # default bound on the images array: 2 GiB


class SkippedFilesWarning(UserWarning):
    """Some files in an image folder are not images and were skipped."""


class ImageFolder(ArrayDataset):
    """Every image under ``root/<class>/``, with the class folder's name as its label.

    Parameters
    ----------
    root : the folder holding one sub-folder per class
    image_size : None (every image must then have the same size), an int s (s x s) or
        (height, width): every image is resized to it
    grayscale : True for (N, H, W) grey images; False (default) for (N, H, W, 3) RGB
    classes : the class names in label order; default: the sorted names of the sub-folders.
        With it given (e.g. a test folder read with the training folder's classes), a listed
        class may have no folder, and a folder that is not listed is an error.
    max_bytes : refuse to allocate an images array larger than this (default 2 GiB), with
        advice to pass a smaller ``image_size``

    Attributes
    ----------
    images, labels (int64), classes, split (None), source (``root``), files (the image paths,
    in dataset order: class by class, sorted), skipped (the paths that are not images)

    >>> data = ImageFolder("my_photos", image_size=64)         # doctest: +SKIP
    >>> data.images.shape, data.classes                        # doctest: +SKIP
    ((120, 64, 64, 3), ('cat', 'dog'))
    """

    def __init__(self, root, image_size=None, grayscale: bool = False, classes=None,
                 max_bytes: int = MAX_BYTES):
        root = Path(root).expanduser()
        size = _as_size(image_size)
        if not root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {root} is not a directory; expected a folder "
                                    f"with one sub-folder of images per class")
        classes, files, labels, skipped = _scan(root, classes)
        if skipped:
            shown = ", ".join(str(path.relative_to(root)) for path in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            warnings.warn(
                f"ImageFolder({root}): skipped {len(skipped)} file(s) that are not images "
                f"({shown}{more}); images end in {', '.join(sorted(IMAGE_EXTENSIONS))}",
                SkippedFilesWarning, stacklevel=2)
        images = _decode_all(root, files, size, grayscale, max_bytes)
        super().__init__(images, np.asarray(labels, dtype=np.int64), classes, None, str(root))
        self.files = tuple(files)
        self.skipped = tuple(skipped)


def _as_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"ImageFolder: image_size must be None, an int or (height, width), "
                         f"got {image_size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"ImageFolder: image_size must be positive, got {image_size!r}")
    return height, width


def _scan(root: Path, classes):
    """``(classes, image paths, labels, skipped paths)``, class by class, files sorted."""
    folders = sorted(entry.name for entry in os.scandir(root)
                     if entry.is_dir() and not entry.name.startswith("."))
    skipped = sorted(path for path in root.iterdir() if path.is_file())   # not in a class
    given = classes is not None
    if not given:
        classes = tuple(folders)
        if not classes:
            raise FileNotFoundError(f"ImageFolder: {root} has no sub-folders; put each class's "
                                    f"images in a folder of its own, root/<class>/<image>")
        if {"train", "test"} <= set(folders) and set(folders) <= {"train", "test", "val"}:
            raise ValueError(f"ImageFolder: {root} holds train/ and test/ folders, not classes; "
                             f"use image_folder_splits({str(root)!r}) for the two sets, or "
                             f"ImageFolder on {root / 'train'}")
    else:
        classes = tuple(classes)
        unknown = sorted(set(folders) - set(classes))
        if unknown:
            raise ValueError(f"ImageFolder: {root} has folders {unknown} that are not among the "
                             f"classes {list(classes)}")
    files, labels = [], []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            continue
        found = []
        for directory, subdirs, names in os.walk(folder):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            for file_name in names:
                path = Path(directory) / file_name
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    found.append(path)
                else:
                    skipped.append(path)
        if not found and not given:
            raise ValueError(f"ImageFolder: the class folder {folder} holds no images")
        found.sort()
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(f"ImageFolder: no images under {root} (looked for "
                         f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    return classes, files, labels, sorted(skipped)


def _decode_all(root, files, size, grayscale, max_bytes):
    """Decode each file in turn into one preallocated uint8 array."""
    images = None
    first = None
    for n, path in enumerate(files):
        image = _decode(path, grayscale)
        if size is not None:
            if image.shape[:2] != size:
                image = _resize(image, size)
        elif first is None:
            first = (path, image.shape[:2])
        elif image.shape[:2] != first[1]:
            raise ValueError(
                f"ImageFolder({root}): images differ in size: {first[0]} is "
                f"{_hw(first[1])} but {path} is {_hw(image.shape[:2])}; pass image_size "
                f"(e.g. image_size={min(first[1])} or image_size=(height, width)) to resize "
                f"every image to one size")
        if images is None:
            shape = (len(files), *image.shape)
            needed = int(np.prod(shape, dtype=np.int64))
            if needed > max_bytes:
                raise MemoryError(
                    f"ImageFolder({root}): {len(files)} images of {_hw(image.shape[:2])}"
                    f"{'' if grayscale else ' x 3'} need {needed / 1e9:.1f} GB in memory "
                    f"(max_bytes={max_bytes / 1e9:.1f} GB); pass a smaller image_size (e.g. "
                    f"image_size=64) to resize them as they load, or raise max_bytes")
            images = np.empty(shape, dtype=np.uint8)
        images[n] = image
    return images


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]} (height x width)"


def _decode(path: Path, grayscale: bool) -> np.ndarray:
    """One image file as uint8 (H, W, 3) RGB or (H, W) grey; an error names a broken file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode == "I" or image.mode.startswith("I;16"):
                # 16-bit grey (a PNG, a TIFF): Pillow's convert would clip at 255, so scale
                depth16 = np.asarray(image, dtype=np.float64)
                image = Image.fromarray(np.clip(np.rint(depth16 / 257), 0, 255)
                                        .astype(np.uint8), "L")
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P"
                                                      and "transparency" in image.info):
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(white, rgba)
            image = image.convert("L" if grayscale else "RGB")
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
            ValueError) as exc:
        raise DataFileError(f"{path}: cannot be decoded as an image ({exc}); the file is "
                            f"broken or not the image its extension says; delete or replace "
                            f"it") from exc


def _resize(image: np.ndarray, size) -> np.ndarray:
    from PIL import Image

    height, width = size
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


# ----------------------------------------------------------------------------- splits

def image_folder_splits(root, image_size=None, grayscale: bool = False,
                        test_fraction: float = 0.2, seed: int = 0, stratify: bool = True,
                        max_bytes: int = MAX_BYTES):
    """The train and test sets of a folder of images, for training.

    When ``root`` has both a ``train/`` and a ``test/`` folder, they are the two sets (the
    test folder is read with the training folder's classes, so labels agree). Otherwise the
    images under ``root`` are split: ``test_fraction`` of them (at least one) go to the test
    set, chosen by ``seed`` and, with ``stratify``, in each class's proportion.

    Parameters
    ----------
    root, image_size, grayscale, max_bytes : as for :class:`ImageFolder`
    test_fraction : share of the images held out when there is no train/test layout
    seed : the split depends only on this seed (and the images)

    Returns
    -------
    train, test : :class:`ArrayDataset` with ``split`` "train" and "test"; a split of one
        folder has ``indices`` (positions in the ``ImageFolder(root)`` order)
    """
    root = Path(root).expanduser()
    options = dict(image_size=image_size, grayscale=grayscale, max_bytes=max_bytes)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = ImageFolder(root / "train", **options)
        test = ImageFolder(root / "test", classes=train.classes, **options)
        train.split, test.split = "train", "test"
        if train.images.shape[1:] != test.images.shape[1:]:
            raise ValueError(f"image_folder_splits: the train images are "
                             f"{train.images.shape[1:]} but the test images "
                             f"{test.images.shape[1:]}; pass image_size to give both one size")
        return train, test
    if not 0 < test_fraction < 1:
        raise ValueError(f"image_folder_splits: test_fraction must be in (0, 1), got "
                         f"{test_fraction!r}")
    from .loader import train_val_split

    full = ImageFolder(root, **options)
    if len(full) < 2:
        raise ValueError(f"image_folder_splits: {root} holds {len(full)} image; need at least "
                         f"2 to split into train and test")
    n_test = min(len(full) - 1, max(1, int(round(test_fraction * len(full)))))
    train, test = train_val_split(full, val_size=n_test, seed=seed, stratify=stratify)
    test.split = "test"
    return train, test
