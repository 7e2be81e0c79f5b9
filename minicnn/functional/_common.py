"""Helpers shared by every functional layer: argument normalisation, output sizes, input checks.

One place decides output sizes, for convolution and pooling alike (``output_length``, which
the Numba kernels call too; ``output_size`` adds the check):

    H_out = floor((H - k + 2p) / s) + 1

Everything here raises errors that name the layer (``func``) and the numbers it got, so a
student never meets an unexplained broadcast error from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.kernels.output_size import output_length

FLOAT_DTYPES = (np.float32, np.float64)


def as_pair(value, name: str, func: str, *, minimum: int = 1) -> tuple[int, int]:
    """Normalise an int-or-pair argument (``kernel_size``, ``stride``, ``padding``) to a pair.

    >>> as_pair(3, "kernel_size", "conv2d")
    (3, 3)
    >>> as_pair((2, 1), "stride", "conv2d")
    (2, 1)
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{func}: {name} must be an int or a pair of ints, got {value!r}")
        pair = tuple(value)
    else:
        pair = (value, value)
    for item in pair:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{func}: {name} must be an int or a pair of ints, got {value!r}")
        if item < minimum:
            raise ValueError(f"{func}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(size: int, kernel: int, stride: int, padding: int, *, func: str,
                dim: str = "H") -> int:
    """Output length along one spatial axis: ``floor((size - kernel + 2*padding) / stride) + 1``.

    Raises ``ValueError`` naming the layer and the numbers when the result is < 1, that is,
    when the kernel is larger than the padded input.
    """
    out = int(output_length(size, kernel, stride, padding))
    if size + 2 * padding < kernel or out < 1:
        raise ValueError(
            f"{func}: kernel {kernel} is larger than the padded input along {dim} "
            f"({dim}={size} + 2*padding {padding} = {size + 2 * padding}); "
            f"output size floor(({size} - {kernel} + 2*{padding}) / {stride}) + 1 = {out} < 1"
        )
    return out


def output_shape2d(height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], *, func: str) -> tuple[int, int]:
    """``(H_out, W_out)`` for a 2-d window of size ``kernel`` sliding with ``stride`` over the
    input padded by ``padding`` on each side."""
    return (output_size(height, kernel[0], stride[0], padding[0], func=func, dim="H"),
            output_size(width, kernel[1], stride[1], padding[1], func=func, dim="W"))


def check_array(x, name: str, func: str, *, ndim=None, float_only: bool = True) -> np.ndarray:
    """Check that ``x`` is a NumPy array of a supported float dtype with the expected rank.

    ``ndim`` may be an int or a tuple of allowed ranks. Returns ``x`` unchanged.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray, got {type(x).__name__}"
                        f"{_cross_entropy_cache_hint(x)}")
    if float_only and x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{func}: {name} must be float32 or float64, got dtype {x.dtype} "
                        f"(convert with {name}.astype(np.float32))")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            expected = " or ".join(f"{d}-d" for d in allowed)
            raise ValueError(f"{func}: {name} must be {expected}, got shape {x.shape}")
    return x


def check_finite(x: np.ndarray, name: str, func: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or infinity (one pass over the data: use it
    where a non-finite value would otherwise poison a result silently, e.g. the loss)."""
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{func}: {name} of shape {x.shape} holds {bad} NaN or infinite "
                         f"value(s); check the learning rate and the input data")


def _cross_entropy_cache_hint(x) -> str:
    """When ``x`` is the cache of ``cross_entropy_forward`` (``(probs, labels, weight)``,
    perhaps with label_smoothing), say so: CS231n's ``softmax_loss`` returns ``(loss, dx)``,
    so ``loss, dx = cross_entropy_forward(...)`` binds the cache to ``dx`` without an error."""
    if not isinstance(x, (tuple, list)) or len(x) not in (3, 4):
        return ""
    probs, labels = x[0], x[1]
    if not (isinstance(probs, np.ndarray) and probs.ndim == 2 and isinstance(labels, np.ndarray)
            and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)):
        return ""
    return (" holding the cache of cross_entropy_forward, which returns (loss, cache), not "
            "CS231n's softmax_loss's (loss, dx): write loss, cache = cross_entropy_forward(...)"
            " and dlogits = cross_entropy_backward(cache)")
