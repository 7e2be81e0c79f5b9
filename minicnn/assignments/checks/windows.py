"""Windowed layers (convolution, pooling): their geometry, and where a wrong array is wrong.

``locate_windows`` turns the mask of wrong entries of an ``out`` or ``dx`` into a hint that
names a place (the border, where windows overlap, the last row of windows, ...), never a
value; :class:`Windowed` gives the conv and pooling specs that ``locate``.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.compare import locate_common


def output_size(size, kernel, stride, padding):
    """The lecture's formula: floor((size + 2*padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def as_pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def window_geometry(p):
    """``(kh, kw, sh, sw, ph, pw, H, W, H_out, W_out)`` of a conv or pooling case."""
    kh, kw = as_pair(p["k"])
    stride = p.get("stride")
    sh, sw = as_pair(stride if stride is not None else p["k"])
    ph, pw = as_pair(p.get("padding", 0))
    return (kh, kw, sh, sw, ph, pw, p["H"], p["W"], output_size(p["H"], kh, sh, ph),
            output_size(p["W"], kw, sw, pw))


class Windowed:
    """Conv and pooling: say where a wrong ``out`` or ``dx`` is wrong (the border, where
    windows overlap, the last row, ...), from the case's window geometry."""

    def locate(self, case, what, wrong):
        if what in ("dx", "out"):
            side = "input" if what == "dx" else "output"
            return locate_windows(wrong, window_geometry(case.params), side) or \
                locate_common(case, wrong)
        return locate_common(case, wrong)


def window_coverage(size, kernel, stride, padding, out_size) -> np.ndarray:
    """How many windows cover each input position along one axis."""
    count = np.zeros(size, dtype=np.int64)
    for i in range(out_size):
        start = i * stride - padding
        count[max(start, 0):max(min(start + kernel, size), 0)] += 1
    return count


def locate_windows(wrong, geometry, side) -> str:
    """Where a wrong (N, C, H, W) array is wrong, for windowed layers (conv, pooling).

    ``geometry``: ``(kh, kw, sh, sw, ph, pw, H, W, Ho, Wo)``; ``side``: "input" (dx) or
    "output" (out)."""
    if wrong is None or wrong.ndim != 4 or not wrong.any():
        return ""
    kh, kw, sh, sw, ph, pw, height, width, out_h, out_w = geometry
    where = wrong.any(axis=(0, 1))                          # (rows, cols) that are wrong
    if side == "input" and where.shape == (height, width):
        cover = window_coverage(height, kh, sh, ph, out_h)[:, None] * \
            window_coverage(width, kw, sw, pw, out_w)[None, :]
        if cover.max() >= 2 and not where[cover < 2].any():
            return ("dx is wrong only where windows overlap (inputs that several windows "
                    "share): the gradients of overlapping windows add up (+=, not =)")
        if (cover == 0).any() and not where[cover > 0].any():
            return ("dx is wrong only at inputs that no window covers (the last rows/columns "
                    "when the stride does not fit): their gradient is 0")
        if ph or pw:
            border = np.zeros_like(where)
            border[:ph], border[height - ph:] = True, True
            border[:, :pw], border[:, width - pw:] = True, True
            if not where[~border].any():
                return ("dx wrong only on the border rows and columns: look at the padding "
                        "(pad the input, and drop the padded border from dx)")
    if side == "output" and where.shape == (out_h, out_w):
        rows = np.arange(out_h) * sh - ph
        cols = np.arange(out_w) * sw - pw
        touches = ((rows < 0) | (rows + kh > height))[:, None] | \
            ((cols < 0) | (cols + kw > width))[None, :]
        if (ph or pw) and touches.any() and not where[~touches].any():
            return ("out wrong only for windows that reach into the padding: look at the "
                    "padding (what the padded positions hold, and what they count for)")
        last = np.zeros_like(where)
        last[-1, :], last[:, -1] = True, True
        if (out_h > 1 or out_w > 1) and not where[~last].any():
            return ("out wrong only in the last output row/column: check where the last "
                    "window starts and ends")
        if (sh > 1 or sw > 1) and not where[0, 0] and where.any():
            first = np.zeros_like(where)
            first[0, :] = sh > 1
            first[:, 0] |= sw > 1
            if not where[first].any():
                return ("right for the first row/column of windows only: window (i, j) starts "
                        "at (i*stride, j*stride)")
    return ""
