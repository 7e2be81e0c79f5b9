"""Catalogued variants of the pooling tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant, edit

MAX_FORWARD = "max_pool2d_forward"
MAX_BACKWARD = "max_pool2d_backward"
AVG_FORWARD = "avg_pool2d_forward"
AVG_BACKWARD = "avg_pool2d_backward"

_MAX_FORWARD_LOOPS = """
kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                         "max_pool2d_forward")
(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
n_batch, channels, height, width = x.shape
x_pad = np.full((n_batch, channels, height + 2 * ph, width + 2 * pw), -np.inf, dtype=x.dtype)
x_pad[:, :, ph:ph + height, pw:pw + width] = x
out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
argmax = np.empty((n_batch, channels, out_h, out_w), dtype=np.int64)
for i in range(out_h):
    for j in range(out_w):
        window = x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(
            n_batch, channels, -1)
        position = window.argmax(axis=2)                  # the first maximum on a tie
        out[:, :, i, j] = np.take_along_axis(window, position[..., None], axis=2)[..., 0]
        argmax[:, :, i, j] = ((i * sh - ph + position // kw) * width
                              + (j * sw - pw + position % kw))
cache = (x.shape, argmax, kernel, stride, padding)
"""

_MAX_FORWARD_SLIDING = """
from numpy.lib.stride_tricks import sliding_window_view

kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                         "max_pool2d_forward")
(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
n_batch, channels, height, width = x.shape
x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
windows = windows.reshape(n_batch, channels, out_h, out_w, kh * kw)
position = windows.argmax(axis=-1)
out = np.take_along_axis(windows, position[..., None], axis=-1)[..., 0]
rows = (np.arange(out_h) * sh - ph)[:, None] + position // kw
cols = (np.arange(out_w) * sw - pw)[None, :] + position % kw
argmax = (rows * width + cols).astype(np.int64)
cache = (x.shape, argmax, kernel, stride, padding)
"""

_MAX_BACKWARD_ADD_AT = """
x_shape, argmax, kernel, stride, padding = cache
n_batch, channels, height, width = x_shape
planes = n_batch * channels
dx = np.zeros((planes, height * width), dtype=dout.dtype)
plane = np.broadcast_to(np.arange(planes)[:, None], (planes, argmax[0, 0].size))
np.add.at(dx, (plane, argmax.reshape(planes, -1)), dout.reshape(planes, -1))
dx = dx.reshape(x_shape)
"""

_MAX_BACKWARD_LOOPS = """
x_shape, argmax, kernel, stride, padding = cache
n_batch, channels, height, width = x_shape
dx = np.zeros(x_shape, dtype=dout.dtype)
rows, cols = np.divmod(argmax, width)
for n in range(n_batch):
    for c in range(channels):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[n, c, rows[n, c, i, j], cols[n, c, i, j]] += dout[n, c, i, j]
"""

_MAX = [
    Variant(MAX_FORWARD, "last_tied_maximum", "bug",
            "keeps the LAST maximum of a tied window (>= when scanning)",
            body=edit(_MAX_FORWARD_LOOPS, (
                "position = window.argmax(axis=2)                  # the first maximum on a tie",
                "position = kh * kw - 1 - window[:, :, ::-1].argmax(axis=2)"))),
    Variant(MAX_FORWARD, "window_local_index", "bug",
            "caches the position inside the window, not the flat index into the input plane",
            body=edit(_MAX_FORWARD_LOOPS, (
                "argmax[:, :, i, j] = ((i * sh - ph + position // kw) * width\n"
                "                              + (j * sw - pw + position % kw))",
                "argmax[:, :, i, j] = position"))),
    Variant(MAX_FORWARD, "index_into_padded_input", "bug",
            "flat indices into the padded input (width + 2 pW), not the input",
            body=edit(_MAX_FORWARD_LOOPS, (
                "argmax[:, :, i, j] = ((i * sh - ph + position // kw) * width\n"
                "                              + (j * sw - pw + position % kw))",
                "argmax[:, :, i, j] = ((i * sh + position // kw) * (width + 2 * pw)\n"
                "                      + (j * sw + position % kw))"))),
    Variant(MAX_FORWARD, "stride_ignored", "bug", "window (i, j) starts at (i, j)",
            body=edit(_MAX_FORWARD_LOOPS,
                      ("x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]",
                       "x_pad[:, :, i:i + kh, j:j + kw]"),
                      ("((i * sh - ph + position // kw) * width\n"
                       "                              + (j * sw - pw + position % kw))",
                       "((i - ph + position // kw) * width + (j - pw + position % kw))"))),
    Variant(MAX_FORWARD, "zero_padding", "bug", "pads with 0, not -inf: padding can win",
            body=edit(_MAX_FORWARD_LOOPS, ("-np.inf, dtype=x.dtype)", "0, dtype=x.dtype)"))),
    Variant(MAX_FORWARD, "float64_output", "bug",
            "np.empty without a dtype: float32 input gives float64 output",
            body=edit(_MAX_FORWARD_LOOPS, (
                "out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)",
                "out = np.empty((n_batch, channels, out_h, out_w))"))),
    Variant(MAX_FORWARD, "loops_over_positions", "alternative",
            "a loop over output positions, argmax per window", body=_MAX_FORWARD_LOOPS),
    Variant(MAX_FORWARD, "sliding_window_view", "alternative",
            "every window at once with sliding_window_view", body=_MAX_FORWARD_SLIDING),
    Variant(MAX_BACKWARD, "buffered_fancy_indexing", "bug",
            "dx[idx] += dout with fancy indexing: an input that wins two windows gets one",
            body=edit(_MAX_BACKWARD_ADD_AT, (
                "np.add.at(dx, (plane, argmax.reshape(planes, -1)), dout.reshape(planes, -1))",
                "dx[plane, argmax.reshape(planes, -1)] += dout.reshape(planes, -1)"))),
    Variant(MAX_BACKWARD, "unravel_with_height", "bug",
            "splits the flat index with the height instead of the width",
            body=edit(_MAX_BACKWARD_LOOPS, ("np.divmod(argmax, width)",
                                            "np.divmod(argmax, height)"))),
    Variant(MAX_BACKWARD, "float64_dx", "bug",
            "np.zeros without a dtype: float32 dout gives a float64 dx",
            body=edit(_MAX_BACKWARD_ADD_AT, (
                "dx = np.zeros((planes, height * width), dtype=dout.dtype)",
                "dx = np.zeros((planes, height * width))"))),
    Variant(MAX_BACKWARD, "gradient_shared_like_average", "bug",
            "divides the gradient by the window size, as average pooling does",
            body=edit(_MAX_BACKWARD_LOOPS, ("+= dout[n, c, i, j]",
                                            "+= dout[n, c, i, j] / (kernel[0] * kernel[1])"))),
    Variant(MAX_BACKWARD, "add_at", "alternative", "np.add.at over the flat indices",
            body=_MAX_BACKWARD_ADD_AT),
    Variant(MAX_BACKWARD, "loops", "alternative", "plain loops over the output positions",
            body=_MAX_BACKWARD_LOOPS),
]

_AVG_FORWARD_LOOPS = """
kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                         "avg_pool2d_forward")
(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
out = np.empty(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
for i in range(out_h):
    for j in range(out_w):
        out[:, :, i, j] = x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].sum(
            axis=(2, 3)) / (kh * kw)
cache = (x.shape, kernel, stride, padding)
"""

_AVG_FORWARD_SLIDING = """
from numpy.lib.stride_tricks import sliding_window_view

kernel, stride, padding, _ = pool_arguments(x, kernel_size, stride, padding,
                                            "avg_pool2d_forward")
(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
out = windows.mean(axis=(-2, -1)).astype(x.dtype, copy=False)
cache = (x.shape, kernel, stride, padding)
"""

_AVG_BACKWARD_LOOPS = """
x_shape, kernel, stride, padding = cache
(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
n_batch, channels, height, width = x_shape
dx_pad = np.zeros((n_batch, channels, height + 2 * ph, width + 2 * pw), dtype=dout.dtype)
share = dout / (kh * kw)
for i in range(dout.shape[2]):
    for j in range(dout.shape[3]):
        dx_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += share[:, :, i, j, None, None]
dx = dx_pad[:, :, ph:ph + height, pw:pw + width]
"""

_AVG = [
    Variant(AVG_FORWARD, "padding_not_counted", "bug",
            "divides by the number of real (non-padding) positions: count_include_pad=False",
            body=edit(_AVG_FORWARD_LOOPS, (
                "axis=(2, 3)) / (kh * kw)",
                "axis=(2, 3)) / np.pad(np.ones(x.shape[2:]), ((ph, ph), (pw, pw)))[\n"
                "            i * sh:i * sh + kh, j * sw:j * sw + kw].sum()"))),
    Variant(AVG_FORWARD, "stride_ignored", "bug", "window (i, j) starts at (i, j)",
            body=edit(_AVG_FORWARD_LOOPS, ("x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]",
                                           "x_pad[:, :, i:i + kh, j:j + kw]"))),
    Variant(AVG_FORWARD, "output_size_off_by_one", "bug",
            "H_out = (H + 2p - k) // s, without the + 1",
            body=edit(_AVG_FORWARD_LOOPS,
                      ("kernel, stride, padding, (out_h, out_w) = pool_arguments(",
                       "kernel, stride, padding, _ = pool_arguments("),
                      ("(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding\n",
                       "(kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding\n"
                       "out_h = (x.shape[2] + 2 * ph - kh) // sh\n"
                       "out_w = (x.shape[3] + 2 * pw - kw) // sw\n"))),
    Variant(AVG_FORWARD, "cache_raw_arguments", "bug",
            "caches the arguments as passed (stride None, ints), not the normalised pairs",
            body=edit(_AVG_FORWARD_LOOPS, (
                "kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, "
                "stride, padding,",
                "raw = (kernel_size, stride, padding)\n"
                "kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, "
                "stride, padding,"),
                ("cache = (x.shape, kernel, stride, padding)", "cache = (x.shape, *raw)"))),
    Variant(AVG_FORWARD, "loops", "alternative", "a loop over output positions",
            body=_AVG_FORWARD_LOOPS),
    Variant(AVG_FORWARD, "sliding_window_view", "alternative",
            "every window at once with sliding_window_view", body=_AVG_FORWARD_SLIDING),
    Variant(AVG_BACKWARD, "assigned_not_accumulated", "bug",
            "dx_pad[window] = share (=, not +=): overlapping windows overwrite each other",
            body=edit(_AVG_BACKWARD_LOOPS, ("] += share[", "] = share["))),
    Variant(AVG_BACKWARD, "not_divided", "bug", "forgets the 1 / (kH*kW) share",
            body=edit(_AVG_BACKWARD_LOOPS, ("share = dout / (kh * kw)", "share = dout"))),
    Variant(AVG_BACKWARD, "divided_by_stride_area", "bug", "divides by sH*sW, not kH*kW",
            body=edit(_AVG_BACKWARD_LOOPS, ("share = dout / (kh * kw)",
                                            "share = dout / (sh * sw)"))),
    Variant(AVG_BACKWARD, "padding_kept", "bug", "returns the padded gradient",
            body=edit(_AVG_BACKWARD_LOOPS, ("dx = dx_pad[:, :, ph:ph + height, pw:pw + width]",
                                            "dx = dx_pad"))),
    Variant(AVG_BACKWARD, "loops", "alternative", "a loop over output positions",
            body=_AVG_BACKWARD_LOOPS),
]

VARIANTS = _MAX + _AVG
