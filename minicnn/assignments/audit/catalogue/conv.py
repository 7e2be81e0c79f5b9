"""Catalogued variants of the convolution tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant, edit

NAIVE_FORWARD = "conv2d_forward"
NAIVE_BACKWARD = "conv2d_backward"
IM2COL_FORWARD = "conv2d_im2col_forward"
IM2COL_BACKWARD = "conv2d_im2col_backward"

_NAIVE_FORWARD_SLIDING = """
from numpy.lib.stride_tricks import sliding_window_view

kernel_h, kernel_w = weight.shape[2:]
# (N, C_in, H_out, W_out, kH, kW): every window, then every stride-th one
windows = sliding_window_view(x_padded, (kernel_h, kernel_w), axis=(2, 3))
windows = windows[:, :, ::stride[0], ::stride[1]]
out = np.einsum("ncijuv,ocuv->noij", windows, weight)
if bias is not None:
    out = out + bias.reshape(1, -1, 1, 1)
return out.astype(x_padded.dtype, copy=False)
"""

_NAIVE_FORWARD_TENSORDOT = """
n_batch, _, padded_h, padded_w = x_padded.shape
out_channels, _, kernel_h, kernel_w = weight.shape
stride_h, stride_w = stride
out_h = (padded_h - kernel_h) // stride_h + 1
out_w = (padded_w - kernel_w) // stride_w + 1
out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x_padded.dtype)
for i in range(out_h):
    for j in range(out_w):
        window = x_padded[:, :, i * stride_h:i * stride_h + kernel_h,
                          j * stride_w:j * stride_w + kernel_w]
        out[:, :, i, j] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3]))
if bias is not None:
    out += bias.reshape(1, -1, 1, 1)
return out
"""

_NAIVE_BACKWARD_TENSORDOT = """
n_batch, out_channels, out_h, out_w = dout.shape
kernel_h, kernel_w = weight.shape[2:]
stride_h, stride_w = stride
dx_padded = np.zeros_like(x_padded)
dweight = np.zeros_like(weight)
for i in range(out_h):
    for j in range(out_w):
        rows = slice(i * stride_h, i * stride_h + kernel_h)
        cols = slice(j * stride_w, j * stride_w + kernel_w)
        grad = dout[:, :, i, j]                                      # (N, C_out)
        dx_padded[:, :, rows, cols] += np.tensordot(grad, weight, axes=(1, 0))
        dweight += np.tensordot(grad, x_padded[:, :, rows, cols], axes=(0, 0))
dbias = dout.sum(axis=(0, 2, 3))
return dx_padded, dweight, dbias
"""

_NAIVE = [
    Variant(NAIVE_FORWARD, "stride_ignored", "bug", "window (i, j) starts at (i, j)",
            edits=(("top, left = i * stride_h, j * stride_w", "top, left = i, j"),)),
    Variant(NAIVE_FORWARD, "output_size_off_by_one", "bug",
            "H_out = (H_pad - kH) // s, without the + 1",
            edits=(("out_h, out_w = output_shape2d(padded_h, padded_w, (kernel_h, kernel_w), "
                    "stride, (0, 0),\n                              func=_FUNC)",
                    "out_h = (padded_h - kernel_h) // stride_h\n"
                    "out_w = (padded_w - kernel_w) // stride_w"),)),
    Variant(NAIVE_FORWARD, "kernel_flipped", "bug",
            "a true convolution (kernel flipped), not PyTorch's cross-correlation",
            edits=(("np.sum(weight[o] * window)", "np.sum(weight[o, :, ::-1, ::-1] * window)"),)),
    Variant(NAIVE_FORWARD, "height_width_swapped", "bug",
            "the window's extent uses kW for the rows and kH for the columns",
            edits=(("window = x_padded[n, :, top:top + kernel_h, left:left + kernel_w]",
                    "window = x_padded[n, :, top:top + kernel_w, left:left + kernel_h]"),)),
    Variant(NAIVE_FORWARD, "float64_output", "bug",
            "np.zeros without a dtype: float32 input gives float64 output",
            edits=(("out = np.zeros((n_batch, out_channels, out_h, out_w), "
                    "dtype=x_padded.dtype)",
                    "out = np.zeros((n_batch, out_channels, out_h, out_w))"),)),
    Variant(NAIVE_FORWARD, "sliding_window_einsum", "alternative",
            "sliding_window_view and one einsum", body=_NAIVE_FORWARD_SLIDING),
    Variant(NAIVE_FORWARD, "tensordot_per_position", "alternative",
            "a loop over output positions, tensordot over (C_in, kH, kW) and all N, C_out",
            body=_NAIVE_FORWARD_TENSORDOT),
    Variant(NAIVE_BACKWARD, "stride_ignored", "bug", "window (i, j) starts at (i, j)",
            edits=(("top, left = i * stride_h, j * stride_w", "top, left = i, j"),)),
    Variant(NAIVE_BACKWARD, "dx_assigned_not_accumulated", "bug",
            "dx_pad[window] = ... (=, not +=): overlapping windows overwrite each other",
            edits=(("dx_padded[n, :, top:top + kernel_h, left:left + kernel_w] += "
                    "grad * weight[o]",
                    "dx_padded[n, :, top:top + kernel_h, left:left + kernel_w] = "
                    "grad * weight[o]"),)),
    Variant(NAIVE_BACKWARD, "dweight_assigned_not_accumulated", "bug",
            "dweight[o] = ... (=, not +=): only the last position counts",
            edits=(("dweight[o] += grad * window", "dweight[o] = grad * window"),)),
    Variant(NAIVE_BACKWARD, "dbias_mean_over_batch", "bug", "dbias divided by N",
            edits=(("return dx_padded, dweight, dbias", "return dx_padded, dweight, "
                    "dbias / n_batch"),)),
    Variant(NAIVE_BACKWARD, "dx_with_flipped_kernel", "bug",
            "dx from the flipped kernel (a full-convolution formula applied per window)",
            edits=(("+= grad * weight[o]", "+= grad * weight[o, :, ::-1, ::-1]"),)),
    Variant(NAIVE_BACKWARD, "tensordot_per_position", "alternative",
            "a loop over output positions, tensordot over N and C_out",
            body=_NAIVE_BACKWARD_TENSORDOT),
]

_IM2COL_FORWARD_BATCH = """
n_batch, channels = x.shape[:2]
out_channels, _, kernel_h, kernel_w = weight.shape
(stride_h, stride_w), (pad_h, pad_w) = stride, padding
out_h = (x.shape[2] + 2 * pad_h - kernel_h) // stride_h + 1
out_w = (x.shape[3] + 2 * pad_w - kernel_w) // stride_w + 1
x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
taps = [x_pad[:, :, u:u + stride_h * out_h:stride_h, v:v + stride_w * out_w:stride_w]
        for u in range(kernel_h) for v in range(kernel_w)]
cols = np.stack(taps, axis=2)                                # (N, C, kH*kW, H_out, W_out)
cols = cols.transpose(1, 2, 0, 3, 4).reshape(channels * kernel_h * kernel_w, -1)
out_matrix = weight.reshape(out_channels, -1) @ cols              # (C_out, N*H_out*W_out)
out = out_matrix.reshape(out_channels, n_batch, out_h, out_w).transpose(1, 0, 2, 3)
if bias is not None:
    out = out + bias.reshape(1, -1, 1, 1)
return np.ascontiguousarray(out), cols
"""

_IM2COL_FORWARD_SLIDING = """
from numpy.lib.stride_tricks import sliding_window_view

n_batch, channels = x.shape[:2]
out_channels, _, kernel_h, kernel_w = weight.shape
(stride_h, stride_w), (pad_h, pad_w) = stride, padding
x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
windows = sliding_window_view(x_pad, (kernel_h, kernel_w), axis=(2, 3))
windows = windows[:, :, ::stride_h, ::stride_w]              # (N, C, H_out, W_out, kH, kW)
out_h, out_w = windows.shape[2:4]
# cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v]
cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(channels * kernel_h * kernel_w, -1)
out = (weight.reshape(out_channels, -1) @ cols).reshape(out_channels, n_batch, out_h, out_w)
out = np.ascontiguousarray(out.transpose(1, 0, 2, 3))
if bias is not None:
    out += bias.reshape(1, -1, 1, 1)
return out, cols
"""

_IM2COL_BACKWARD_BATCH = """
n_batch, channels, height, width = x_shape
out_channels, _, kernel_h, kernel_w = weight.shape
(stride_h, stride_w), (pad_h, pad_w) = stride, padding
out_h, out_w = dout.shape[2:]
dout_matrix = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)  # (C_out, N*H_out*W_out)
dbias = dout_matrix.sum(axis=1)
dweight = (dout_matrix @ cols.T).reshape(weight.shape)
dcols = weight.reshape(out_channels, -1).T @ dout_matrix
dcols = dcols.reshape(channels, kernel_h * kernel_w, n_batch, out_h, out_w)
dx_pad = np.zeros((n_batch, channels, height + 2 * pad_h, width + 2 * pad_w), dout.dtype)
for tap in range(kernel_h * kernel_w):
    u, v = divmod(tap, kernel_w)
    dx_pad[:, :, u:u + stride_h * out_h:stride_h,
           v:v + stride_w * out_w:stride_w] += dcols[:, tap].transpose(1, 0, 2, 3)
dx = dx_pad[:, :, pad_h:pad_h + height, pad_w:pad_w + width].copy()
return dx, dweight, dbias
"""

_IM2COL = [
    Variant(IM2COL_FORWARD, "product_not_transposed", "bug",
            "reshapes the (C_out, N*H_out*W_out) product straight to (N, C_out, ...)",
            body=edit(_IM2COL_FORWARD_BATCH,
                      (".reshape(out_channels, n_batch, out_h, out_w).transpose(1, 0, 2, 3)",
                       ".reshape(n_batch, out_channels, out_h, out_w)"))),
    Variant(IM2COL_FORWARD, "padding_ignored", "bug",
            "unfolds the unpadded input (the output size still counts the padding)",
            edits=(("x_padded = _pad(x, padding)", "x_padded = _pad(x, (0, 0))"),)),
    Variant(IM2COL_FORWARD, "tap_ignores_stride", "bug",
            "each kernel tap's slice steps by 1, not by the stride (the readable body's "
            "strided copy)",
            edits=(("u:u + stride_h * out_h:stride_h, v:v + stride_w * out_w:stride_w]",
                    "u:u + out_h, v:v + out_w]"),)),
    Variant(IM2COL_FORWARD, "bias_on_the_wrong_axis", "bug",
            "adds the (C_out,) bias along the positions axis",
            edits=(("out_matrix += bias[:, None]", "out_matrix += bias"),)),
    Variant(IM2COL_FORWARD, "cache_columns_per_image", "bug",
            "caches the columns as (N, C_in*kH*kW, H_out*W_out), not the documented 2-d "
            "matrix", body=edit(_IM2COL_FORWARD_BATCH, (
                "return np.ascontiguousarray(out), cols",
                "return np.ascontiguousarray(out), "
                "cols.reshape(cols.shape[0], n_batch, -1).transpose(1, 0, 2).copy()"))),
    Variant(IM2COL_FORWARD, "float64_columns", "bug",
            "float64 columns: float32 input gives float64 output and cache",
            body=edit(_IM2COL_FORWARD_BATCH, (".reshape(channels * kernel_h * kernel_w, -1)",
                                              ".reshape(channels * kernel_h * kernel_w, -1)"
                                              ".astype(np.float64)"))),
    Variant(IM2COL_FORWARD, "one_batch_product", "alternative",
            "one matrix product for the whole batch", body=_IM2COL_FORWARD_BATCH),
    Variant(IM2COL_FORWARD, "sliding_window_columns", "alternative",
            "the columns built with sliding_window_view", body=_IM2COL_FORWARD_SLIDING),
    Variant(IM2COL_BACKWARD, "dout_not_transposed", "bug",
            "dout (N, C_out, H_out, W_out) reshaped to (C_out, -1) without the transpose",
            body=edit(_IM2COL_BACKWARD_BATCH, ("dout.transpose(1, 0, 2, 3).reshape(",
                                               "dout.reshape("))),
    Variant(IM2COL_BACKWARD, "dbias_mean", "bug", "the mean of dout, not the sum",
            body=edit(_IM2COL_BACKWARD_BATCH, ("dout_matrix.sum(axis=1)",
                                               "dout_matrix.mean(axis=1)"))),
    Variant(IM2COL_BACKWARD, "dcols_without_transpose", "bug", "W_mat @ dZ instead of W_mat.T",
            body=edit(_IM2COL_BACKWARD_BATCH, ("weight.reshape(out_channels, -1).T @",
                                               "weight.reshape(out_channels, -1) @"))),
    Variant(IM2COL_BACKWARD, "dweight_rows_read_as_uvc", "bug",
            "reads the rows of cols as (u, v, c) instead of (c, u, v) when reshaping dweight",
            body=edit(_IM2COL_BACKWARD_BATCH, (
                "(dout_matrix @ cols.T).reshape(weight.shape)",
                "(dout_matrix @ cols.T).reshape(out_channels, kernel_h, kernel_w, "
                "channels).transpose(0, 3, 1, 2)"))),
    Variant(IM2COL_BACKWARD, "fold_assigns", "bug",
            "col2im with = instead of +=: where windows overlap, a tap overwrites the others",
            edits=(("] += dcols[:, u, v]", "] = dcols[:, u, v]"),)),
    Variant(IM2COL_BACKWARD, "one_batch_product", "alternative",
            "one matrix product for the whole batch", body=_IM2COL_BACKWARD_BATCH),
]

VARIANTS = _NAIVE + _IM2COL
