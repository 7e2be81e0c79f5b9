"""Image transforms for whole batches, with torchvision's names, vectorised and seeded.

Every transform takes a *batch* (batch-first array) and returns a new one; none loops over
images in Python. Two layouts are understood, so the lecture's order works unchanged
(flip, crop, ToTensor, Normalize)::

    uint8  (N, H, W) or (N, H, W, C)    images, as read from disk (before ToTensor)
    float  (N, C, H, W)                 tensors, values in [0, 1] after ToTensor, any after
                                        Normalize

The spatial augmentations (flip, crop, rotation, erasing, colour jitter) accept both;
``ToTensor`` turns images into tensors; ``Normalize`` needs tensors.

Randomness: call a random transform as ``t(x, rng)`` with a ``numpy.random.Generator`` (the
DataLoader does this, deriving one Generator per batch from its seed and epoch, so a whole
epoch is reproducible). ``rng`` may also be an int seed. Called without ``rng``, a transform
uses its own Generator, made from the ``seed`` given to its constructor (None: fresh entropy).

Each transform has a ``random`` attribute: True for augmentations, False for the
deterministic ones; a ``Compose`` is random if any part is. The evaluation loader refuses
random transforms (augmentation belongs to the training set only).

>>> from minicnn.data.transforms import lecture_train_transform
>>> print(lecture_train_transform())
Compose(
    RandomHorizontalFlip(p=0.5)
    RandomCrop(size=(28, 28), padding=2)
    ToTensor()
    Normalize(mean=[0.286], std=[0.353])
)
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Transform", "Compose", "ToTensor", "Normalize", "RandomHorizontalFlip",
           "RandomCrop", "RandomRotation", "RandomErasing", "ColorJitter",
           "LECTURE_MEAN", "LECTURE_STD", "lecture_train_transform", "lecture_eval_transform",
           "check_eval_transform"]

LECTURE_MEAN = (0.286,)
LECTURE_STD = (0.353,)


# ----------------------------------------------------------------------------- helpers

def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {rng!r}")


def _channels_last(x: np.ndarray, name: str):
    """A (N, H, W, C) view of a batch and the function that restores the original layout.

    uint8 (N, H, W) and (N, H, W, C) are images; float (N, C, H, W) are tensors.
    """
    if not isinstance(x, np.ndarray) or x.ndim not in (3, 4):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{name} expects a batch: uint8 (N, H, W) or (N, H, W, C) images, or "
                         f"float (N, C, H, W) tensors; got {shape}. For one image use "
                         f"x[None] (a batch of 1).")
    if x.ndim == 3:
        return x[..., None], lambda y: y[..., 0]
    if x.dtype == np.uint8:
        return x, lambda y: y
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: a 4-D batch must be uint8 (N, H, W, C) or float "
                        f"(N, C, H, W), got dtype {x.dtype}")
    return x.transpose(0, 2, 3, 1), lambda y: np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def _fill_value(fill, dtype):
    return np.asarray(fill).astype(dtype)


def _range(value, name, center=None, minimum=None):
    """torchvision's convention: a number v means (center - v, center + v), or (-v, v)."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
        low, high = (-value, value) if center is None else (center - value, center + value)
    else:
        low, high = value
        if low > high:
            raise ValueError(f"{name} range must be (min, max), got {value!r}")
    if minimum is not None:
        low = max(low, minimum)
    return float(low), float(high)


def _fmt(value):
    return repr(tuple(value)) if isinstance(value, (tuple, list)) else repr(value)


# ----------------------------------------------------------------------------- base classes

class Transform:
    """Base class: ``out = t(x, rng=None)`` on a batch; ``random`` says whether it augments."""

    random = False

    def __call__(self, x, rng=None):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomTransform(Transform):
    """Base class for augmentations; owns a Generator used when none is passed in."""

    random = True

    def __init__(self, seed=None):
        self.seed = seed
        self._own_rng = None

    def _generator(self, rng) -> np.random.Generator:
        if rng is not None:
            return _as_generator(rng)
        if self._own_rng is None:
            self._own_rng = np.random.default_rng(self.seed)
        return self._own_rng


class Compose(Transform):
    """Apply ``transforms`` in order, passing the same Generator to each random one.

    Parameters
    ----------
    transforms : list of transforms (any callable ``f(x)`` is allowed; it counts as random
        only if it has a true ``random`` attribute)
    seed : seed for the Generator used when the Compose is called without ``rng``
    """

    def __init__(self, transforms, seed=None):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable")
        self.seed = seed
        self._own_rng = None

    @property
    def random(self) -> bool:
        return any(getattr(t, "random", False) for t in self.transforms)

    def __call__(self, x, rng=None):
        if rng is None and self.random:
            if self._own_rng is None:
                self._own_rng = np.random.default_rng(self.seed)
            rng = self._own_rng
        elif rng is not None:
            rng = _as_generator(rng)
        for t in self.transforms:
            x = t(x, rng) if isinstance(t, Transform) else t(x)
        return x

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"


# ----------------------------------------------------------------------------- deterministic

class ToTensor(Transform):
    """uint8 images (N, H, W) or (N, H, W, C) -> float32 tensors (N, C, H, W) in [0, 1].

    x_out = x / 255
    """

    def __call__(self, x, rng=None):
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim not in (3, 4):
            raise TypeError(
                "ToTensor expects uint8 images (N, H, W) or (N, H, W, C); got "
                f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}. "
                "Is ToTensor listed twice, or the batch already converted?")
        out = x.astype(np.float32)
        out *= np.float32(1.0 / 255.0)
        if x.ndim == 3:
            return out[:, None]
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


class Normalize(Transform):
    """Per-channel standardisation of float tensors (N, C, H, W).

    x_out[:, c] = (x[:, c] - mean[c]) / std[c]

    Parameters
    ----------
    mean, std : a number or one value per channel (the lecture: 0.286, 0.353)
    """

    def __init__(self, mean, std):
        self.mean = [float(m) for m in np.atleast_1d(mean)]
        self.std = [float(s) for s in np.atleast_1d(std)]
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: {len(self.mean)} means but {len(self.std)} stds")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, x, rng=None):
        if not isinstance(x, np.ndarray) or x.ndim != 4 or not np.issubdtype(x.dtype,
                                                                             np.floating):
            raise TypeError(
                "Normalize expects float tensors (N, C, H, W); got "
                f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}. "
                "Put Normalize after ToTensor().")
        channels = x.shape[1]
        if len(self.mean) not in (1, channels):
            raise ValueError(f"Normalize has {len(self.mean)} means/stds but the batch has "
                             f"{channels} channels")
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(1, -1, 1, 1)
        inv_std = (1.0 / np.asarray(self.std, dtype=np.float64)).astype(x.dtype)
        out = x - mean
        out *= inv_std.reshape(1, -1, 1, 1)
        return out

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


# ----------------------------------------------------------------------------- augmentations

class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (independently per image)."""

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x, rng=None):
        rng = self._generator(rng)
        view, _ = _channels_last(x, "RandomHorizontalFlip")
        flip = rng.random(view.shape[0]) < self.p
        out = x.copy()
        out_view, _ = _channels_last(out, "RandomHorizontalFlip")
        out_view[flip] = view[flip][:, :, ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop(RandomTransform):
    """Zero-pad by ``padding`` on every side, then cut a ``size`` window at a random offset.

    Each image gets its own offset (i, j), uniform over every window that fits:
    out[n] = padded[n, i_n : i_n + h, j_n : j_n + w].
    """

    def __init__(self, size, padding=0, seed=None):
        super().__init__(seed)
        self.size = (int(size), int(size)) if isinstance(size, numbers.Integral) else tuple(
            int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"RandomCrop: size must be an int or (h, w), got {size!r}")
        if not isinstance(padding, numbers.Integral) or padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int, got {padding!r}")
        self.padding = int(padding)

    def __call__(self, x, rng=None):
        rng = self._generator(rng)
        view, restore = _channels_last(x, "RandomCrop")
        n, height, width, channels = view.shape
        p = self.padding
        crop_h, crop_w = self.size
        if crop_h > height + 2 * p or crop_w > width + 2 * p:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image "
                             f"({height + 2 * p}, {width + 2 * p})")
        if p:
            padded = np.zeros((n, height + 2 * p, width + 2 * p, channels), dtype=x.dtype)
            padded[:, p:p + height, p:p + width] = view
        else:
            padded = view
        top = rng.integers(0, height + 2 * p - crop_h + 1, size=n)
        left = rng.integers(0, width + 2 * p - crop_w + 1, size=n)
        # windows[n, i, j] is the (C, h, w) crop at offset (i, j): a view, no copy
        windows = sliding_window_view(padded, (crop_h, crop_w), axis=(1, 2))
        out = windows[np.arange(n), top, left]                            # (N, C, h, w)
        return restore(np.moveaxis(out, 1, -1))                           # (N, h, w, C) view

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomRotation(RandomTransform):
    """Rotate each image about its centre by its own angle, uniform in ``degrees``.

    Positive angles turn counter-clockwise (as torchvision). Each output pixel p reads the
    input at R(-theta) (p - c) + c, with c the image centre; pixels from outside are ``fill``.

    Parameters
    ----------
    degrees : d means (-d, d); or a (min, max) pair
    interpolation : "nearest" (torchvision's default) or "bilinear"
    fill : value for pixels rotated in from outside the image
    """

    def __init__(self, degrees, interpolation="nearest", fill=0, seed=None):
        super().__init__(seed)
        self.degrees = _range(degrees, "RandomRotation degrees")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomRotation: interpolation must be 'nearest' or 'bilinear', "
                             f"got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = fill

    def __call__(self, x, rng=None):
        rng = self._generator(rng)
        view, restore = _channels_last(x, "RandomRotation")
        n, height, width, _ = view.shape
        theta = np.deg2rad(rng.uniform(*self.degrees, size=n))
        return restore(self.rotate(view, theta))

    def rotate(self, view, theta):
        """Rotate a (N, H, W, C) batch by ``theta`` radians per image (deterministic)."""
        n, height, width, _ = view.shape
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
        dy = (np.arange(height) - cy)[None, :, None]
        dx = (np.arange(width) - cx)[None, None, :]
        cos = np.cos(theta)[:, None, None]
        sin = np.sin(theta)[:, None, None]
        src_x = cos * dx - sin * dy + cx                                  # (N, H, W)
        src_y = sin * dx + cos * dy + cy
        batch = np.arange(n)[:, None, None]
        fill = _fill_value(self.fill, np.float32 if view.dtype == np.uint8 else view.dtype)
        if self.interpolation == "nearest":
            xi, yi = np.rint(src_x).astype(np.intp), np.rint(src_y).astype(np.intp)
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            out = view[batch, np.clip(yi, 0, height - 1), np.clip(xi, 0, width - 1)]
            out[~inside] = _fill_value(self.fill, view.dtype)
            return out
        x0, y0 = np.floor(src_x).astype(np.intp), np.floor(src_y).astype(np.intp)
        wx, wy = (src_x - x0)[..., None], (src_y - y0)[..., None]
        out = np.zeros(view.shape, dtype=np.float32 if view.dtype == np.uint8 else view.dtype)
        for oy, ox, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                               (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
            yy, xx = y0 + oy, x0 + ox
            inside = ((xx >= 0) & (xx < width) & (yy >= 0) & (yy < height))[..., None]
            corner = view[batch, np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)]
            out += weight.astype(out.dtype) * np.where(inside, corner, fill)
        if view.dtype == np.uint8:
            return np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return out

    def __repr__(self) -> str:
        return (f"RandomRotation(degrees={list(self.degrees)}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class RandomErasing(RandomTransform):
    """With probability ``p``, set a random rectangle of each image to ``value``.

    As torchvision: the rectangle's area is a fraction ``scale`` of the image and its aspect
    ratio h/w is log-uniform in ``ratio``; up to 10 draws per image are tried until one
    fits (all drawn at once); an image where none fits is left unchanged.
    """

    ATTEMPTS = 10

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, seed=None):
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if scale[0] > scale[1] or ratio[0] > ratio[1] or scale[0] < 0 or ratio[0] <= 0:
            raise ValueError(f"RandomErasing: scale and ratio must be (min, max) ranges, got "
                             f"scale={scale!r}, ratio={ratio!r}")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def __call__(self, x, rng=None):
        rng = self._generator(rng)
        view, restore = _channels_last(x, "RandomErasing")
        n, height, width, _ = view.shape
        erase = rng.random(n) < self.p
        shape = (n, self.ATTEMPTS)
        area = height * width * rng.uniform(*self.scale, size=shape)
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]),
                                    size=shape))
        h = np.rint(np.sqrt(area * aspect)).astype(np.intp)
        w = np.rint(np.sqrt(area / aspect)).astype(np.intp)
        fits = (h < height) & (w < width) & (h > 0) & (w > 0)
        first = np.argmax(fits, axis=1)                     # first attempt that fits
        erase &= fits[np.arange(n), first]
        h, w = h[np.arange(n), first], w[np.arange(n), first]
        top = (rng.random(n) * (height - h + 1)).astype(np.intp)
        left = (rng.random(n) * (width - w + 1)).astype(np.intp)
        rows = np.arange(height)[None, :, None]
        cols = np.arange(width)[None, None, :]
        mask = ((rows >= top[:, None, None]) & (rows < (top + h)[:, None, None])
                & (cols >= left[:, None, None]) & (cols < (left + w)[:, None, None])
                & erase[:, None, None])
        out = np.where(mask[..., None], _fill_value(self.value, view.dtype), view)
        return restore(out)

    def __repr__(self) -> str:
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value})")


class ColorJitter(RandomTransform):
    """Random brightness, contrast and saturation per image (applied in that order).

    brightness factor b: x * b;  contrast factor c: c * x + (1 - c) * mean(x)  (the image's
    mean grey level);  saturation factor s: s * x + (1 - s) * grey(x)  (each pixel's grey
    level; RGB images only), each clipped to the valid range ([0, 1] for float tensors,
    [0, 255] for uint8). A number v means a factor uniform in (max(0, 1 - v), 1 + v). Use it
    before Normalize: float inputs are taken to be in [0, 1].
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, seed=None):
        super().__init__(seed)
        self.brightness = _range(brightness, "ColorJitter brightness", 1.0, 0.0)
        self.contrast = _range(contrast, "ColorJitter contrast", 1.0, 0.0)
        self.saturation = _range(saturation, "ColorJitter saturation", 1.0, 0.0)

    def __call__(self, x, rng=None):
        rng = self._generator(rng)
        view, restore = _channels_last(x, "ColorJitter")
        n = view.shape[0]
        is_uint8 = view.dtype == np.uint8
        top = 255.0 if is_uint8 else 1.0
        out = view.astype(np.float32 if is_uint8 else view.dtype)
        b = rng.uniform(*self.brightness, size=n).astype(out.dtype)[:, None, None, None]
        c = rng.uniform(*self.contrast, size=n).astype(out.dtype)[:, None, None, None]
        rgb = out.shape[-1] == 3
        if self.brightness != (1.0, 1.0):
            out = np.clip(out * b, 0, top)
        if self.contrast != (1.0, 1.0):
            grey = _grey(out) if rgb else out.mean(axis=-1)
            mean = grey.mean(axis=(1, 2))[:, None, None, None]
            out = np.clip(c * out + (1 - c) * mean, 0, top)
        if self.saturation != (1.0, 1.0) and rgb:     # drawn last: older streams unchanged
            s = rng.uniform(*self.saturation, size=n).astype(out.dtype)[:, None, None, None]
            out = np.clip(s * out + (1 - s) * _grey(out)[..., None], 0, top)
        if is_uint8:
            out = np.rint(out).astype(np.uint8)
        return restore(out)

    def __repr__(self) -> str:
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation})")


def _grey(rgb):
    """Each pixel's grey level (ITU-R 601 luma) of channels-last RGB images."""
    return rgb @ np.asarray([0.299, 0.587, 0.114], dtype=rgb.dtype)


# ----------------------------------------------------------------------------- the lecture's

def lecture_train_transform(seed=None) -> Compose:
    """The lecture's training pipeline (section 9): flip, crop(28, padding=2), ToTensor,
    Normalize(0.286, 0.353)."""
    return Compose([RandomHorizontalFlip(p=0.5), RandomCrop(28, padding=2), ToTensor(),
                    Normalize(LECTURE_MEAN, LECTURE_STD)], seed=seed)


def lecture_eval_transform() -> Compose:
    """The lecture's evaluation pipeline: ToTensor, Normalize(0.286, 0.353); no augmentation."""
    return Compose([ToTensor(), Normalize(LECTURE_MEAN, LECTURE_STD)])


def check_eval_transform(transform, where="evaluation") -> None:
    """Raise ValueError if ``transform`` is random: augmentation is for the training set only."""
    if transform is not None and getattr(transform, "random", False):
        raise ValueError(
            f"{where} got a random transform ({_one_line(transform)}); augmentation is applied "
            f"to the training set only, because validation and test accuracy must measure the "
            f"model on the images as they are. Use lecture_eval_transform() (ToTensor + "
            f"Normalize) here, or pass train=True if this loader really is for training.")


def _one_line(transform) -> str:
    return " ".join(repr(transform).split())
