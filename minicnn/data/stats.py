"""Per-channel mean and standard deviation of a data set's images: what ``Normalize`` needs.

    mean[c] = (1 / M) sum over every pixel p of x[p, c] / 255
    std[c]  = sqrt((1 / M) sum over p of (x[p, c] / 255 - mean[c])^2)

with M the number of pixels in all images (the population standard deviation, as the
lecture's 0.286 / 0.353 for Fashion-MNIST were computed). The sums are exact: each channel's
histogram of the 256 byte values is counted chunk by chunk, so a large data set never needs
a float copy in memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_stats"]

_CHUNK = 1 << 22                 # pixels per chunk


def channel_stats(dataset):
    """``(mean, std)``, tuples with one float per channel, of the images scaled to [0, 1].

    Parameters
    ----------
    dataset : anything with uint8 ``images`` (N, H, W) (one channel) or (N, H, W, C), e.g. a
        training set; or such an array itself. Compute it on the training images only.

    >>> mean, std = channel_stats(CIFAR10("train"))             # doctest: +SKIP
    >>> Normalize(mean, std)                                    # doctest: +SKIP
    """
    images = np.asarray(getattr(dataset, "images", dataset))
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise TypeError(f"channel_stats expects uint8 images (N, H, W) or (N, H, W, C), got "
                        f"{images.dtype} {images.shape}")
    if images.size == 0:
        raise ValueError("channel_stats: the data set holds no images")
    pixels = images.reshape(-1, 1 if images.ndim == 3 else images.shape[-1])
    channels = pixels.shape[1]
    counts = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(pixels), _CHUNK):
        chunk = pixels[start:start + _CHUNK]
        for c in range(channels):
            counts[c] += np.bincount(chunk[:, c], minlength=256)
    values = np.arange(256, dtype=object)       # Python ints: the sums below are exact
    mean, std = [], []
    for c in range(channels):
        hist = counts[c].astype(object)
        n = int(hist.sum())
        s1 = int((hist * values).sum())
        s2 = int((hist * values * values).sum())
        mean.append(s1 / (255 * n))
        std.append(float(np.sqrt((n * s2 - s1 * s1) / (n * n))) / 255)
    return tuple(mean), tuple(std)
