"""3x3, stride-1 convolution by Winograd's F(2x2, 3x3) (``method="winograd"``).

The lecture's sum for a 3x3 filter and stride 1,

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i + u, j + v] + b[o],

is computed 2x2 outputs at a time. For the output block (2a .. 2a+1, 2b .. 2b+1) and the 4x4
input tile d = X_pad[n, c, 2a .. 2a+3, 2b .. 2b+3] under it, Winograd's identity

    Z_block = A^T [ sum_c U[o, c] * V[c] ] A + b[o],   U = G W[o, c] G^T,   V = B^T d B

(* elementwise, matrices in minicnn/kernels/conv_winograd.py) needs 16 multiplications per
(o, c) and block instead of the direct sum's 36. Written per position xi of the 4x4
transformed tile, the sum over c is a matrix product, so the work is 16 matrix products

    M[xi] (C_out, T) = U[xi] (C_out, C_in) @ V[xi] (C_in, T)      (T tiles)

with 2.25x fewer multiply-adds than im2col's one product, plus the tile transforms (Numba
kernels, a few additions per number). Tiles are processed a cache-sized chunk at a time, so
V and M never exist for the whole batch. With T threads the batch is cut into T parts that
run at once, each its own chunks (minicnn/functional/_parallel.py).

The backward pass is the transpose of each step, with dM = A dZ_block A^T:

    dL/db = sum over (n, i, j) of dZ
    dL/dU[xi] = sum over chunks of dM[xi] @ V[xi].T,   dL/dW = G^T dL/dU G
    dL/dV[xi] = U[xi].T @ dM[xi],                     dL/dX += B dL/dV B^T, tile by tile

The transforms add and subtract (halves in G), so float32 results differ from the direct
sum by a few units in the last place more than im2col's do; float64 agrees to ~1e-15.
Method "fast" runs it for 3x3 stride-1 layers (minicnn/functional/conv.py, fast_algorithm).
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._parallel import batch_parts, run_parts
from minicnn.functional.conv_gemm import batch_chunks, largest_chunk_rows
from minicnn.kernels import conv_winograd as tiles

__all__ = ["WINOGRAD_CHUNK_BYTES", "conv2d_winograd_forward", "conv2d_winograd_backward"]

# Bytes of one chunk's transformed tiles, V and M together (16 * (C_in + C_out) numbers per
# tile): 1 MiB (one core's L2 cache here), but at least MIN_CHUNK_TILES tiles, below which the
# 16 products (inner dimension T for dL/dU) get too thin for BLAS. Forward + backward,
# float32, 3x3 pad 1, time relative to the best of the same run; budgets 0.5 / 1 / 2 / 4 / 8 /
# 16 MiB (no minimum):
#   N=64 32->64 14x14    1.05 1.00 1.03 1.20 1.39 1.47    (1 MiB: 170 tiles)
#   N=64 64->64 32x32    1.04 1.00 1.13 1.35 1.53 1.64    (1 MiB: 128 tiles)
#   N=16 256->256 14x14  1.50 1.28 1.07 1.06 1.03 1.00    (1 MiB: 32 tiles)
# then minimum tiles 128 / 256 / 512 / 1024 / 2048 (budget 0): 32->64 1.11 1.11 1.03 1.00
# 1.51, 64->64 1.06 1.17 1.00 1.19 1.10, 256->256 1.34 1.14 1.36 1.00 1.38 (a busy machine,
# load 4-5: differences under ~15 % are noise).
WINOGRAD_CHUNK_BYTES = 1 << 20
MIN_CHUNK_TILES = 512


def conv2d_winograd_forward(x, weight, bias, padding):
    """3x3, stride-1 convolution forward pass by Winograd F(2x2, 3x3).

    Parameters
    ----------
    x : (N, C_in, H, W) array, checked by conv2d_forward
    weight : (C_out, C_in, 3, 3) C-contiguous array of x's dtype
    bias : (C_out,) array or None
    padding : (p_h, p_w) pair

    Returns
    -------
    out : (N, C_out, H_out, W_out) array, H_out = H + 2*p_h - 2, W_out = W + 2*p_w - 2
    x_saved : x as a C-contiguous array (x itself when it already is), for the backward pass
    """
    x = np.ascontiguousarray(x)
    n_batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    out_h, out_w, tiles_h, tiles_w = _tile_grid(x.shape, padding)
    u_filters = _filter_transform(weight)                     # (16, C_out, C_in)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x.dtype)

    def forward_images(first, stop):                          # images first .. stop-1
        part = stop - first
        tiles_per_chunk = _tiles_per_chunk(part, tiles_h, tiles_w, channels + out_channels,
                                           x.dtype)
        v_buffer = _plane_buffer(channels, tiles_per_chunk, x.dtype)
        m_buffer = _plane_buffer(out_channels, tiles_per_chunk, x.dtype)
        for chunk in _chunks(first, stop, tiles_h, tiles_w, channels + out_channels, x.dtype):
            count = _tile_count(chunk, tiles_w)
            v_tiles = _tile_planes(v_buffer, channels, count)
            tiles.input_transform(x, *chunk, tiles_w, *padding, v_tiles)
            m_tiles = _tile_planes(m_buffer, out_channels, count)
            np.matmul(u_filters, v_tiles, out=m_tiles)       # 16 products (C_out, C_in, T)
            tiles.output_transform(m_tiles, bias_values, *chunk, tiles_w, out)

    run_parts(forward_images, batch_parts(n_batch))          # one part per thread
    return out, x


def conv2d_winograd_backward(dout, x, weight, padding):
    """Backward pass of conv2d_winograd_forward, the input tiles V recomputed per chunk.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array of x's dtype
    x : the second value returned by conv2d_winograd_forward
    weight : (C_out, C_in, 3, 3) C-contiguous array
    padding : (p_h, p_w) pair

    Returns
    -------
    dx : (N, C_in, H, W) array
    dweight : (C_out, C_in, 3, 3) array
    dbias : (C_out,) array
    """
    n_batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    _, _, tiles_h, tiles_w = _tile_grid(x.shape, padding)
    u_filters = _filter_transform(weight)
    u_transposed = u_filters.transpose(0, 2, 1)               # (16, C_in, C_out), a view
    dx = np.zeros_like(x)

    def backward_images(first, stop):       # dX of images first .. stop-1; their dL/dU
        part = stop - first
        tiles_per_chunk = _tiles_per_chunk(part, tiles_h, tiles_w, channels + out_channels,
                                           x.dtype)
        v_buffer = _plane_buffer(channels, tiles_per_chunk, x.dtype)
        dv_buffer = np.empty_like(v_buffer)
        dm_buffer = _plane_buffer(out_channels, tiles_per_chunk, x.dtype)
        du_part = np.zeros_like(u_filters)
        du_chunk = np.empty_like(u_filters)
        for chunk in _chunks(first, stop, tiles_h, tiles_w, channels + out_channels, x.dtype):
            count = _tile_count(chunk, tiles_w)
            v_tiles = _tile_planes(v_buffer, channels, count)
            tiles.input_transform(x, *chunk, tiles_w, *padding, v_tiles)
            dm_tiles = _tile_planes(dm_buffer, out_channels, count)
            tiles.output_transform_adjoint(dout, *chunk, tiles_w, dm_tiles)
            np.matmul(dm_tiles, v_tiles.transpose(0, 2, 1), out=du_chunk)    # dL/dU, chunk
            du_part += du_chunk
            dv_tiles = _tile_planes(dv_buffer, channels, count)
            np.matmul(u_transposed, dm_tiles, out=dv_tiles)
            tiles.input_transform_adjoint(dv_tiles, *chunk, tiles_w, *padding, dx)
        return du_part

    # one part per thread; the parts' images, so their dX slices, are disjoint
    du_filters = sum(run_parts(backward_images, batch_parts(n_batch)))      # (16, C_out, C_in)
    # dL/dW[o, c] = G^T dL/dU[o, c] G: with dL/dU[o, c] flattened to 16 numbers (r, q), that
    # is the row vector times kron(G, G), one product for all (o, c)
    du_by_filter = du_filters.reshape(16, -1).T               # (C_out*C_in, 16)
    dweight = (du_by_filter @ _kron_g(x.dtype)).reshape(out_channels, channels, 3, 3)
    return dx, dweight, dout.sum(axis=(0, 2, 3))


# Numbers left unused between two of the 16 planes of V, M, dV, dM: with C and T powers of two
# the planes would lie a multiple of 4 KiB apart, so the 16 rows that a transform writes at
# once would share one set of the L1 cache and evict each other. Input transform, 64 channels,
# 32x32 image, float32: 202 ns per tile and channel without the gap, 42 with it.
PLANE_GAP = 16


def _plane_buffer(rows, max_count, dtype):
    """Memory for 16 planes of (rows, count) numbers, count <= max_count, PLANE_GAP apart."""
    return np.empty(16 * (rows * max_count + PLANE_GAP), dtype=dtype)


def _tile_planes(buffer, rows, count):
    """The (16, rows, count) view of ``buffer`` used as V, M, dV or dM for a chunk of
    ``count`` tiles: plane xi starts at xi * (rows * count + PLANE_GAP)."""
    item = buffer.itemsize
    return np.lib.stride_tricks.as_strided(
        buffer, shape=(16, rows, count),
        strides=((rows * count + PLANE_GAP) * item, count * item, item))


def _filter_transform(weight):
    """U[4r + q, o, c] = (G W[o, c] G^T)[r, q]: (16, C_out, C_in), C-contiguous.

    (G W G^T)[r, q] = sum_(u, v) G[r, u] G[q, v] W[u, v] = (kron(G, G) @ W.ravel())[4r + q], so
    the transforms of all C_out*C_in filters are one matrix product (thousands of 4x3 @ 3x3
    products cost 0.2 ms a call on conv2, a fifth of a batch-8 layer's time)."""
    filters = weight.reshape(-1, 9)                           # (C_out*C_in, 9)
    u = _kron_g(weight.dtype) @ filters.T                     # (16, C_out*C_in)
    return u.reshape(16, *weight.shape[:2])


_KRON_G = {np.dtype(t): np.kron(tiles.G, tiles.G).astype(t) for t in (np.float32, np.float64)}
for _matrix in _KRON_G.values():
    _matrix.setflags(write=False)


def _kron_g(dtype):
    """kron(G, G): (16, 9), entry [4r + q, 3u + v] = G[r, u] * G[q, v] (read-only)."""
    return _KRON_G[np.dtype(dtype)]


def _tile_grid(x_shape, padding):
    """(H_out, W_out, tiles_h, tiles_w): 2x2 output blocks, the last ones possibly cut."""
    out_h = x_shape[2] + 2 * padding[0] - 2
    out_w = x_shape[3] + 2 * padding[1] - 2
    return out_h, out_w, (out_h + 1) // 2, (out_w + 1) // 2


def _tile_row_bytes(tiles_w, channels_in_out, dtype):
    """Bytes of V and M for one row of tiles: 16 * (C_in + C_out) numbers per tile."""
    return 16 * channels_in_out * tiles_w * np.dtype(dtype).itemsize


def _chunk_budget(row_bytes, tiles_w):
    """WINOGRAD_CHUNK_BYTES, or the bytes of MIN_CHUNK_TILES tiles if that is more."""
    return max(WINOGRAD_CHUNK_BYTES, MIN_CHUNK_TILES * row_bytes // tiles_w)


def _chunks(first, stop, tiles_h, tiles_w, channels_in_out, dtype):
    """Chunks (n0, n1, a0, a1) of images first .. stop-1 and tile rows, of about
    _chunk_budget bytes each."""
    row_bytes = _tile_row_bytes(tiles_w, channels_in_out, dtype)
    for n0, n1, a0, a1 in batch_chunks(stop - first, tiles_h, row_bytes,
                                       _chunk_budget(row_bytes, tiles_w)):
        yield first + n0, first + n1, a0, a1


def _tiles_per_chunk(n_batch, tiles_h, tiles_w, channels_in_out, dtype):
    """Tiles in the largest chunk: its tile rows times tiles_w."""
    row_bytes = _tile_row_bytes(tiles_w, channels_in_out, dtype)
    return largest_chunk_rows(n_batch, tiles_h, row_bytes,
                              _chunk_budget(row_bytes, tiles_w)) * tiles_w


def _tile_count(chunk, tiles_w):
    """Tiles in the chunk (n0, n1, a0, a1)."""
    n0, n1, a0, a1 = chunk
    return (n1 - n0) * (a1 - a0) * tiles_w
