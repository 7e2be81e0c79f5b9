"""2-d convolution as matrix products over cache-sized chunks (``method="gemm"``).

The same sum as every other method (minicnn/functional/conv.py):

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i*s_h + u, j*s_w + v] + b[o]

Like ``"im2col"`` it gathers receptive fields into a column matrix and multiplies once by the
flattened filters, ``Z_chunk = W_mat @ cols_chunk``, but it does so

1. **a chunk at a time**: a few images (or, for a large image, a band of its output rows)
   whose columns fit in about ``CHUNK_BYTES`` (the size of a core's L2 cache). The columns
   are written, multiplied and overwritten while still in cache, and the column matrix of the
   whole batch, k^2 times the input, is never held: memory stays bounded at any image size;
2. **one block copy per kernel tap** (u, v), with the taps outermost: the rows of ``cols``
   for one tap are the padded input shifted by (u, v),

       cols[(u, v, c), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v],

   so filling them is a copy of a whole shifted view of the chunk, not one short copy per
   window. For stride 1 the shift of (u, v) is a shift by u*W_pad + v along the flattened
   padded image, so each copy reads one contiguous run per (n, c); the output grid is then
   ``W_pad`` wide and its last kW - 1 columns (windows that wrap past the right border) are
   computed and dropped, a waste of (W_pad - W_out) / W_out of the products;
3. **nothing kept but X_pad** for the backward pass, which recomputes each chunk's columns
   (a copy, cheap next to the products) instead of storing k^2 times the input.

The backward pass runs the same chunks, with dZ_mat[o, (n, i, j)] = dZ[n, o, i, j]:

    dL/db    = sum over (n, i, j) of dZ
    dL/dW    = sum over chunks of dZ_mat @ cols.T                 (C_out, kH*kW*C_in)
    dL/dcols = W_mat.T @ dZ_mat, added back tap by tap onto X_pad at the positions
               (i*s_h + u, j*s_w + v) it was copied from; dL/dX is the interior.

Measured against im2col and PyTorch in benchmarks/RESULTS.md ("gemm" rows).
"""

from __future__ import annotations

import numpy as np

from minicnn.functional import output_shape2d

__all__ = ["CHUNK_BYTES", "conv2d_gemm_forward", "conv2d_gemm_backward", "batch_chunks",
           "chunk_shape", "largest_chunk_rows"]

# Bytes of one chunk's column matrix: the L2 cache of one core of the benchmark machine (1 MiB),
# but at least MIN_CHUNK_COLUMNS columns, below which the products get too thin for BLAS; the
# best of seven budgets measured (benchmarks/HISTORY.md, "gemm's chunk size").
CHUNK_BYTES = 1 << 20
MIN_CHUNK_COLUMNS = 512


def conv2d_gemm_forward(x, weight, bias, stride, padding):
    """Convolution forward pass, one matrix product per cache-sized chunk.

    Z_chunk = W_mat @ cols_chunk + b,   W_mat[o, (u, v, c)] = W[o, c, u, v]

    Parameters
    ----------
    x : (N, C_in, H, W) array, checked by conv2d_forward
    weight : (C_out, C_in, kH, kW) C-contiguous array of x's dtype
    bias : (C_out,) array or None
    stride, padding : (int, int) pairs

    Returns
    -------
    out : (N, C_out, H_out, W_out) C-contiguous array of x's dtype
    x_padded : the zero-padded input that conv2d_gemm_backward needs, (N, C_in, H_pad + e, W_pad)
        with H_pad = H + 2*p_h, W_pad = W + 2*p_w, and e = 1 extra zero row for stride 1
        (the shifted views of the last taps run kW - 1 numbers past the last padded row)
    """
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    x_padded = _pad_for_taps(x, padding, stride)
    out_h, out_w = output_shape2d(*x.shape[2:], weight.shape[2:], stride, padding,
                                  func="conv2d")
    grid_w = _grid_width(x_padded, out_w, stride)
    weight_matrix = _weight_matrix(weight)                       # (C_out, kH*kW*C_in)
    out = np.empty((x.shape[0], out_channels, out_h, out_w), dtype=x.dtype)
    cols = np.empty(kernel_h * kernel_w * in_channels * _chunk_positions(
        weight.shape, x.shape[0], out_h, grid_w, x.dtype), dtype=x.dtype)
    for chunk in _chunks(weight.shape, x.shape[0], out_h, grid_w, x.dtype):
        cols_chunk = _unfold(x_padded, chunk, weight.shape, stride, grid_w, cols)
        # (C_out, nb * rows * grid_w): the chunk's output, batch axis second
        out_chunk = (weight_matrix @ cols_chunk).reshape(out_channels, *_chunk_grid(chunk, grid_w))
        dest = out[chunk[0]:chunk[1], :, chunk[2]:chunk[3]]
        valid = out_chunk[..., :out_w].transpose(1, 0, 2, 3)  # drop the wrapped-round columns
        if bias is None:
            dest[...] = valid
        else:
            np.add(valid, bias.reshape(1, -1, 1, 1), out=dest)
    return out, x_padded


def conv2d_gemm_backward(dout, x_padded, weight, stride, padding, x_shape, input_gradient=True,
                         bias_gradient=True):
    """Convolution backward pass over the forward pass's chunks, columns recomputed.

    dL/db = sum_(n, i, j) dZ;  dL/dW = sum_chunks dZ_mat @ cols.T;
    dL/dcols = W_mat.T @ dZ_mat, folded back onto X_pad tap by tap.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array of x_padded's dtype
    x_padded : the second value returned by conv2d_gemm_forward
    weight : (C_out, C_in, kH, kW) C-contiguous array
    stride, padding : (int, int) pairs
    x_shape : (N, C_in, H, W), the unpadded input's shape
    input_gradient : False when dL/dX is not needed (the input is the data)
    bias_gradient : False when dL/db is not needed (the layer has no bias)

    Returns
    -------
    dx : (N, C_in, H, W) array, or None when input_gradient is False
    dweight : (C_out, C_in, kH, kW) C-contiguous array
    dbias : (C_out,) array, or None when bias_gradient is False
    """
    n_batch, channels, height, width = x_shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    out_h, out_w = dout.shape[2:]
    grid_w = _grid_width(x_padded, out_w, stride)
    weight_matrix = _weight_matrix(weight)
    dtype = x_padded.dtype
    positions = _chunk_positions(weight.shape, n_batch, out_h, grid_w, dtype)
    cols = np.empty(kernel_h * kernel_w * channels * positions, dtype=dtype)
    dcols = np.empty_like(cols) if input_gradient else None
    dout_buffer = np.empty(out_channels * positions, dtype=dtype)
    # dL/dW transposed, (kH*kW*C_in, C_out): the same sums, but OpenBLAS runs cols @ dZ_mat.T
    # faster than dZ_mat @ cols.T on these shapes (benchmarks/HISTORY.md, "gemm's chunk size")
    dweight_t = np.zeros((weight_matrix.shape[1], out_channels), dtype=dtype)
    dx_padded = np.zeros_like(x_padded) if input_gradient else None
    for chunk in _chunks(weight.shape, n_batch, out_h, grid_w, dtype):
        cols_chunk = _unfold(x_padded, chunk, weight.shape, stride, grid_w, cols)
        dout_matrix = _dout_matrix(dout, chunk, grid_w, dout_buffer)
        dweight_t += cols_chunk @ dout_matrix.T
        if input_gradient:
            dcols_chunk = dcols[:cols_chunk.size].reshape(cols_chunk.shape)
            np.matmul(weight_matrix.T, dout_matrix, out=dcols_chunk)
            _fold(dx_padded, chunk, weight.shape, stride, grid_w, dcols_chunk)
    pad_h, pad_w = padding
    dx = None if dx_padded is None else np.ascontiguousarray(
        dx_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width])
    dweight = dweight_t.T.reshape(out_channels, kernel_h, kernel_w, channels)
    dbias = dout.sum(axis=(0, 2, 3)) if bias_gradient else None
    return dx, np.ascontiguousarray(dweight.transpose(0, 3, 1, 2)), dbias


# --------------------------------------------------------------------------------------------
# The column layout: taps outermost, chunk grid (n, i, j) with j over grid_w columns
# --------------------------------------------------------------------------------------------

def _weight_matrix(weight):
    """W_mat[o, (u, v, c)] = W[o, c, u, v]: the filters in the column matrix's row order
    (taps outermost), (C_out, kH*kW*C_in)."""
    out_channels = weight.shape[0]
    return np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(out_channels, -1)


def _pad_for_taps(x, padding, stride):
    """X_pad as a new C-contiguous array, plus one zero row at the bottom for stride 1 (see
    conv2d_gemm_forward)."""
    pad_h, pad_w = padding
    n_batch, channels, height, width = x.shape
    extra_row = 1 if stride == (1, 1) else 0
    x_padded = np.zeros((n_batch, channels, height + 2 * pad_h + extra_row, width + 2 * pad_w),
                        dtype=x.dtype)
    x_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = x
    return x_padded


def _grid_width(x_padded, out_w, stride):
    """Columns of the output grid: W_pad for stride 1 (the shifted flat views), else W_out."""
    return x_padded.shape[3] if stride == (1, 1) else out_w


def batch_chunks(n_batch, rows, row_bytes, budget):
    """Split a batch of ``n_batch`` images of ``rows`` rows each into chunks of about
    ``budget`` bytes, ``row_bytes`` per row: (n0, n1, r0, r1) = images n0..n1-1, rows r0..r1-1.

    Whole images when one image fits (as many as fit), otherwise one image at a time in bands
    of rows (at least one row per band)."""
    images, band = chunk_shape(n_batch, rows, row_bytes, budget)
    if band == rows:
        for n0 in range(0, n_batch, images):
            yield n0, min(n_batch, n0 + images), 0, rows
    else:
        for n in range(n_batch):
            for r0 in range(0, rows, band):
                yield n, n + 1, r0, min(rows, r0 + band)


def largest_chunk_rows(n_batch, rows, row_bytes, budget):
    """Rows (counting every image's) in the largest chunk of batch_chunks: images * band."""
    images, band = chunk_shape(n_batch, rows, row_bytes, budget)
    return images * band


def chunk_shape(n_batch, rows, row_bytes, budget):
    """(images per chunk, rows per chunk) of batch_chunks."""
    image_bytes = row_bytes * rows
    if image_bytes <= budget:
        return min(n_batch, budget // image_bytes), rows
    return 1, max(1, budget // row_bytes)


def _column_row_bytes(weight_shape, grid_w, dtype):
    """Bytes of the columns of one output row: kH*kW*C_in * grid_w numbers."""
    _, channels, kernel_h, kernel_w = weight_shape
    return kernel_h * kernel_w * channels * grid_w * np.dtype(dtype).itemsize


def _chunk_budget(row_bytes, grid_w):
    """CHUNK_BYTES, or the bytes of MIN_CHUNK_COLUMNS columns if that is more."""
    return max(CHUNK_BYTES, MIN_CHUNK_COLUMNS * row_bytes // grid_w)


def _chunks(weight_shape, n_batch, out_h, grid_w, dtype):
    """The chunks (n0, n1, i0, i1) of about _chunk_budget bytes of columns (batch_chunks)."""
    row_bytes = _column_row_bytes(weight_shape, grid_w, dtype)
    return batch_chunks(n_batch, out_h, row_bytes, _chunk_budget(row_bytes, grid_w))


def _chunk_positions(weight_shape, n_batch, out_h, grid_w, dtype):
    """Columns of the largest chunk: its rows times grid_w."""
    row_bytes = _column_row_bytes(weight_shape, grid_w, dtype)
    return largest_chunk_rows(n_batch, out_h, row_bytes,
                              _chunk_budget(row_bytes, grid_w)) * grid_w


def _chunk_grid(chunk, grid_w):
    """(images, rows, grid_w): the chunk's output grid."""
    n0, n1, i0, i1 = chunk
    return n1 - n0, i1 - i0, grid_w


def _tap_view(x_padded, chunk, u, v, stride, grid_w):
    """X_pad[n, c, i*s_h + u, j*s_w + v] for the chunk's (n, i, j): a view (images, C, rows,
    grid_w) of ``x_padded`` (writeable, so the fold can add into it).

    Stride 1: rows i0..i1-1 of the grid, shifted by (u, v), are one contiguous run of the
    flattened padded image, starting at (i0 + u)*W_pad + v."""
    n0, n1, i0, i1 = chunk
    stride_h, stride_w = stride
    if stride == (1, 1):
        padded_w = x_padded.shape[3]
        flat = x_padded[n0:n1].reshape(n1 - n0, x_padded.shape[1], -1)
        start = (i0 + u) * padded_w + v
        return flat[:, :, start:start + (i1 - i0) * padded_w].reshape(
            n1 - n0, x_padded.shape[1], i1 - i0, padded_w)
    return x_padded[n0:n1, :, u + i0 * stride_h:u + (i1 - 1) * stride_h + 1:stride_h,
                    v:v + (grid_w - 1) * stride_w + 1:stride_w]


def _tap_blocks(buffer, chunk, weight_shape, grid_w):
    """The chunk's column matrix (kH*kW*C_in, images*rows*grid_w) carved from the front of
    ``buffer``, and the same memory as (kH, kW, C_in, images, rows, grid_w) tap blocks."""
    _, channels, kernel_h, kernel_w = weight_shape
    grid = _chunk_grid(chunk, grid_w)
    size = kernel_h * kernel_w * channels * grid[0] * grid[1] * grid[2]
    matrix = buffer[:size].reshape(kernel_h * kernel_w * channels, -1)
    return matrix, matrix.reshape(kernel_h, kernel_w, channels, *grid)


def _unfold(x_padded, chunk, weight_shape, stride, grid_w, buffer):
    """cols[(u, v, c), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v] for the chunk, written
    into ``buffer``: one block copy per tap (u, v)."""
    cols, blocks = _tap_blocks(buffer, chunk, weight_shape, grid_w)
    for u in range(weight_shape[2]):
        for v in range(weight_shape[3]):
            blocks[u, v] = _tap_view(x_padded, chunk, u, v, stride, grid_w).transpose(1, 0, 2, 3)
    return cols


def _fold(dx_padded, chunk, weight_shape, stride, grid_w, dcols):
    """dX_pad[n, c, i*s_h + u, j*s_w + v] += dcols[(u, v, c), (n, i, j)]: the adjoint of
    _unfold, one block add per tap. Wrapped-round grid columns carry zeros (see _dout_matrix),
    so adding them changes nothing."""
    _, channels, kernel_h, kernel_w = weight_shape
    blocks = dcols.reshape(kernel_h, kernel_w, channels, *_chunk_grid(chunk, grid_w))
    for u in range(kernel_h):
        for v in range(kernel_w):
            _tap_view(dx_padded, chunk, u, v, stride, grid_w)[...] += \
                blocks[u, v].transpose(1, 0, 2, 3)


def _dout_matrix(dout, chunk, grid_w, buffer):
    """dZ_mat[o, (n, i, j)] = dZ[n, o, i, j] for the chunk on its output grid, zero in the
    grid columns j >= W_out that the forward pass dropped; (C_out, images*rows*grid_w),
    written into ``buffer``."""
    n0, n1, i0, i1 = chunk
    out_channels, out_w = dout.shape[1], dout.shape[3]
    grid = _chunk_grid(chunk, grid_w)
    matrix = buffer[:out_channels * grid[0] * grid[1] * grid[2]].reshape(out_channels, -1)
    blocks = matrix.reshape(out_channels, *grid)
    blocks[..., :out_w] = dout[n0:n1, :, i0:i1].transpose(1, 0, 2, 3)
    blocks[..., out_w:] = 0
    return matrix
