"""3x3, 5x5 and 7x7 stride-1 convolution by Winograd's F(m x m, r x r) (``method="winograd"``).

The lecture's sum for an r x r filter and stride 1,

    Z[n, o, i, j] = sum_c sum_u sum_v W[o, c, u, v] * X_pad[n, c, i + u, j + v] + b[o],

is computed m x m outputs at a time. For the output block (m*a .. m*a + m-1, m*b .. m*b + m-1)
and the alpha x alpha input tile d under it (alpha = m + r - 1, tiles m apart), Winograd's
identity

    Z_block = A^T [ sum_c U[o, c] * V[c] ] A + b[o],   U = G W[o, c] G^T,   V = B^T d B

(* elementwise; the matrices in minicnn/fast/kernels/winograd/matrices.py) needs alpha^2
multiplications per (o, c) and block instead of the direct sum's m^2 r^2. The plans (see
choose_plan; a 3x3 layer gets whichever of its two needs fewer products for its output size):

    F(2x2, 3x3)   16 per 2x2 outputs (36 direct)     F(2x2, 5x5)   36 per 2x2 (100 direct)
    F(4x4, 3x3)   36 per 4x4 outputs (144 direct)    F(2x2, 7x7)   64 per 2x2 (196 direct)

Written per position xi of the transformed tile, the sum over c is a matrix product, so the
work is alpha^2 matrix products

    M[xi] (C_out, T) = U[xi] (C_out, C_in) @ V[xi] (C_in, T)      (T tiles)

with 2.25x (F(2x2, 3x3)) to 4x (F(4x4, 3x3)) fewer multiply-adds than im2col's one product,
plus the tile transforms (Numba kernels, a few additions per number). The plans with 6x6
and 8x8 tiles, F(4x4, 3x3) (most 3x3 layers), F(2x2, 5x5) and F(2x2, 7x7), keep V, M, dV
and dM with the channels innermost, (T, alpha^2, C), so that their tile transforms run in
vector lanes (minicnn/fast/kernels/winograd/lanes.py, _LaneTiles); F(2x2, 3x3) keeps one
plane (C, T) per position xi (_PlaneTiles). Tiles are processed a cache-sized chunk at a
time, so M never exists for the whole batch, and V only on small layers: where all of V takes
at most WINOGRAD_KEEP_BYTES, the forward pass keeps each chunk's V for the backward pass,
which otherwise transforms the input again. With T threads the batch is cut into T parts
that run at once, each its own chunks (minicnn/fast/parallel.py).

The backward pass is the transpose of each step, with dM = A dZ_block A^T:

    dL/db = sum over (n, i, j) of dZ
    dL/dU[xi] = sum over chunks of dM[xi] @ V[xi].T,   dL/dW = G^T dL/dU G
    dL/dV[xi] = U[xi].T @ dM[xi],                     dL/dX += B dL/dV B^T, tile by tile

The transforms scale and add, so float32 results differ from the direct sum by more than
im2col's do, and more for the larger tiles (larger interpolation points, larger matrix
entries; the errors in benchmarks/HISTORY.md, "5x5 and 7x7 filters by Winograd"). Method
"fast" runs it for these filters with stride 1 on all but narrow layers
(minicnn/fast/conv/choose.py, fast_algorithm).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from minicnn.fast.parallel import batch_parts, run_parts
from minicnn.fast.conv.gemm import batch_chunks, largest_chunk_rows
from minicnn.fast.kernels.winograd import f2x2_3x3, f2x2_5x5, f2x2_7x7, f4x4_3x3
from minicnn.fast.kernels.winograd import lanes as lane_tiles
from minicnn.fast.kernels.winograd import matrices
from minicnn.fast.kernels.winograd.lanes import LANE, channel_blocks

__all__ = ["WINOGRAD_CHUNK_BYTES", "WINOGRAD_KEEP_BYTES", "WINOGRAD_KERNELS",
           "conv2d_winograd_forward", "conv2d_winograd_backward", "choose_plan",
           "ChunkLayout", "plane_buffer", "tile_planes"]

# Bytes of one chunk's transformed tiles, V and M together (alpha^2 * (C_in + C_out) numbers
# per tile): 1 MiB (about one core's L2 cache), but at least the bytes of MIN_CHUNK_TILES 3x3
# tiles, below which the products (inner dimension T for dL/dU) get too thin for BLAS. The
# measurements behind both numbers: benchmarks/HISTORY.md, "Winograd's chunk size".
WINOGRAD_CHUNK_BYTES = 1 << 20
MIN_CHUNK_TILES = 256
# The forward pass keeps V (alpha^2 numbers per tile and input channel: 2.25x the input for
# F(4x4, 3x3), 4x for F(2x2, 3x3)) for the backward pass while all of it takes at most this
# many bytes, the same bound as im2col's column matrix (functional/conv.py,
# IM2COL_MAX_BYTES): transforming the input again costs a narrow layer a noticeable part of
# its forward + backward; the large-image layers of the memory target are far past the bound
# and keep only x (benchmarks/HISTORY.md, "V kept for the backward pass").
WINOGRAD_KEEP_BYTES = 16 << 20


def conv2d_winograd_forward(x, weight, bias, padding):
    """3x3, 5x5 or 7x7, stride-1 convolution forward pass by Winograd F(m x m, r x r).

    Parameters
    ----------
    x : (N, C_in, H, W) array, checked by conv2d_forward
    weight : (C_out, C_in, r, r) C-contiguous array of x's dtype, r in WINOGRAD_KERNELS
    bias : (C_out,) array or None
    padding : (p_h, p_w) pair

    Returns
    -------
    out : (N, C_out, H_out, W_out) array, H_out = H + 2*p_h - r + 1, W_out = W + 2*p_w - r + 1
    kept : for the backward pass, (x_saved, v_kept): x as a C-contiguous array (x itself when
           it already is), and a dict from each chunk (n0, n1, a0, a1) to its V when all of
           V fits in WINOGRAD_KEEP_BYTES, else empty; V in the plan's layout, (alpha^2, C_in,
           T) planes for F(2x2, 3x3), else the (alpha^2, T, C_in) view of its lanes
    """
    x = np.ascontiguousarray(x)
    n_batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    plan = choose_plan(x.shape, weight.shape, padding)
    out_h, out_w, tiles_h, tiles_w = _tile_grid(x.shape, weight.shape, padding, plan.step)
    u_filters = plan.tiles.filters(_filter_transform(weight, plan))
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x.dtype)
    layout = ChunkLayout(plan.planes, tiles_h, tiles_w, channels + out_channels, x.dtype)
    keep = plan.tiles.v_numbers(channels, n_batch * tiles_h * tiles_w) * x.itemsize \
        <= WINOGRAD_KEEP_BYTES
    v_kept = {}

    def forward_images(first, stop):                          # images first .. stop-1
        work = plan.tiles.workspace(channels, out_channels, layout.tiles_per_chunk(stop - first),
                                    x.dtype)
        for chunk in layout.chunks(first, stop):
            # each chunk a V of its own if it is kept, else the part's buffer
            v_buffer = plan.tiles.v_buffer(channels, _tile_count(chunk, tiles_w), x.dtype) \
                if keep else work["v"]
            v_tiles = plan.tiles.input_tiles(x, chunk, tiles_w, padding, v_buffer)
            if keep:
                v_kept[chunk] = v_tiles              # the parts' chunks differ: no race
            plan.tiles.outputs(u_filters, v_tiles, bias_values, chunk, tiles_w, work, out)

    run_parts(forward_images, batch_parts(n_batch))          # one part per thread
    return out, (x, v_kept)


def conv2d_winograd_backward(dout, kept, weight, padding, bias_gradient=True):
    """Backward pass of conv2d_winograd_forward, on the input tiles V it kept, or with V
    computed again chunk by chunk.

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) C-contiguous array of x's dtype
    kept : the second value returned by conv2d_winograd_forward (a chunk missing from its V
           dict, e.g. after the thread count changed, has its V computed again)
    weight : (C_out, C_in, r, r) C-contiguous array
    padding : (p_h, p_w) pair
    bias_gradient : False when dL/db is not needed (the layer has no bias)

    Returns
    -------
    dx : (N, C_in, H, W) array
    dweight : (C_out, C_in, r, r) array
    dbias : (C_out,) array, or None when bias_gradient is False
    """
    x, v_kept = kept
    n_batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    plan = choose_plan(x.shape, weight.shape, padding)
    _, _, tiles_h, tiles_w = _tile_grid(x.shape, weight.shape, padding, plan.step)
    u_filters = _filter_transform(weight, plan)               # (alpha^2, C_out, C_in)
    dx = np.zeros_like(x)
    layout = ChunkLayout(plan.planes, tiles_h, tiles_w, channels + out_channels, x.dtype)

    def backward_images(first, stop):       # dX of images first .. stop-1; their dL/dU
        work = plan.tiles.workspace(channels, out_channels, layout.tiles_per_chunk(stop - first),
                                    x.dtype)
        du_part = np.zeros_like(u_filters)
        du_chunk = np.empty_like(u_filters)
        for chunk in layout.chunks(first, stop):
            v_tiles = v_kept.get(chunk)
            if v_tiles is None:
                v_tiles = plan.tiles.input_tiles(x, chunk, tiles_w, padding, work["v"])
            plan.tiles.gradients(u_filters, v_tiles, dout, chunk, tiles_w, padding, work,
                                 du_chunk, dx)
            du_part += du_chunk
        return du_part

    # one part per thread; the parts' images, so their dX slices, are disjoint
    du_filters = sum(run_parts(backward_images, batch_parts(n_batch)))  # (alpha^2, C_out, C_in)
    # dL/dW[o, c] = G^T dL/dU[o, c] G: with dL/dU[o, c] flattened to alpha^2 numbers (r, q),
    # that is the row vector times kron(G, G), one product for all (o, c)
    du_by_filter = du_filters.reshape(plan.planes, -1).T      # (C_out*C_in, alpha^2)
    dweight = (du_by_filter @ plan.kron_g[np.dtype(x.dtype)]).reshape(weight.shape)
    dbias = dout.sum(axis=(0, 2, 3)) if bias_gradient else None
    return dx, dweight, dbias


class _PlaneTiles(NamedTuple):
    """V, M, dV and dM with one plane per position xi, (alpha^2, C, T), and the tile
    transforms of minicnn/fast/kernels/winograd/planes.py, which work one channel plane at a
    time (F(2x2, 3x3); the per-plane kernels of the larger tiles fit it too, and are the
    lanes kernels' reference)."""
    planes: int
    input_transform: Callable
    input_transform_adjoint: Callable
    output_transform: Callable
    output_transform_adjoint: Callable

    @staticmethod
    def filters(u_filters):
        """U for the forward products, (alpha^2, C_out, C_in) as _filter_transform gives it."""
        return u_filters

    def v_numbers(self, channels, count):
        """Numbers in the V of ``count`` tiles."""
        return _plane_numbers(self.planes, channels, count)

    def v_buffer(self, channels, count, dtype):
        """Memory for the V of up to ``count`` tiles."""
        return plane_buffer(self.planes, channels, count, dtype)

    def workspace(self, channels, out_channels, count, dtype):
        """A part's buffers for chunks of up to ``count`` tiles, each made when first used: V
        (when it is not kept), M or dM, and dV."""
        return _Workspace(v=lambda: self.v_buffer(channels, count, dtype),
                          m=lambda: plane_buffer(self.planes, out_channels, count, dtype),
                          dv=lambda: plane_buffer(self.planes, channels, count, dtype))

    def input_tiles(self, x, chunk, tiles_w, padding, v_buffer):
        """V = B^T d B of the chunk's tiles, (alpha^2, C_in, T), in ``v_buffer``."""
        v_tiles = tile_planes(v_buffer, self.planes, x.shape[1], _tile_count(chunk, tiles_w))
        self.input_transform(x, *chunk, tiles_w, *padding, v_tiles)
        return v_tiles

    def outputs(self, u_filters, v_tiles, bias, chunk, tiles_w, work, out):
        """out = A^T M A + b on the chunk's outputs, M[xi] = U[xi] @ V[xi]."""
        m_tiles = tile_planes(work["m"], self.planes, u_filters.shape[1], v_tiles.shape[2])
        np.matmul(u_filters, v_tiles, out=m_tiles)        # alpha^2 products (C_out, C_in, T)
        self.output_transform(m_tiles, bias, *chunk, tiles_w, out)

    def gradients(self, u_filters, v_tiles, dout, chunk, tiles_w, padding, work, du_chunk,
                  dx):
        """The chunk's dL/dU (written to du_chunk, (alpha^2, C_out, C_in)) and dX (added)."""
        channels, count = v_tiles.shape[1:]
        dm_tiles = tile_planes(work["m"], self.planes, u_filters.shape[1], count)
        self.output_transform_adjoint(dout, *chunk, tiles_w, dm_tiles)     # dM = A dY A^T
        np.matmul(dm_tiles, v_tiles.transpose(0, 2, 1), out=du_chunk)
        dv_tiles = tile_planes(work["dv"], self.planes, channels, count)
        np.matmul(u_filters.transpose(0, 2, 1), dm_tiles, out=dv_tiles)   # dV[xi] = U^T dM
        self.input_transform_adjoint(dv_tiles, *chunk, tiles_w, *padding, dx)


class _LaneTiles(NamedTuple):
    """The s x s tiles' V, M, dV and dM (6x6: F(4x4, 3x3), F(2x2, 5x5); 8x8: F(2x2, 7x7))
    with the channels innermost, (T, s^2, C_pad), and the tile transforms of
    minicnn/fast/kernels/winograd (lanes.py), which run the channels in vector lanes (the
    per-plane kernels, which write s^2 planes at once, cannot). Each transform has a copy
    kernel beside it that moves the numbers between (N, C, H, W) and channels-last; C_pad =
    LANE * len(channel_blocks(C)), and the products read and write only the first C
    channels."""
    step: int                       # tiles step apart, step x step outputs each
    size: int                       # s: the tiles' side
    input_transform: Callable       # channels-last rows -> V, (T, s^2 * C_pad)
    output_transform: Callable      # M -> Y, (T, step^2 * C_pad)
    output_transform_adjoint: Callable
    input_transform_adjoint: Callable

    @staticmethod
    def filters(u_filters):
        """U for the forward products, (s^2, C_in, C_out), C-contiguous (BLAS runs slower on
        a transposed view)."""
        return np.ascontiguousarray(u_filters.transpose(0, 2, 1))

    def v_numbers(self, channels, count):
        return count * self.size ** 2 * _padded(channels)

    def v_buffer(self, channels, count, dtype):
        return np.empty(self.v_numbers(channels, count), dtype=dtype)

    def workspace(self, channels, out_channels, count, dtype):
        # zeros: the products never write the padded channels, which the kernels then read
        return _Workspace(v=lambda: self.v_buffer(channels, count, dtype),
                          m=lambda: np.zeros(self.v_numbers(out_channels, count), dtype=dtype),
                          dv=lambda: np.zeros(self.v_numbers(channels, count), dtype=dtype))

    def image_rows(self, chunk, tiles_w, channels, dtype):
        """Memory for the chunk's input rows, channels-last: (images, rows, row_len * C_pad)."""
        n0, n1, a0, a1 = chunk
        overlap = self.size - self.step
        return np.empty((n1 - n0, self.step * (a1 - a0) + overlap,
                         (self.step * tiles_w + overlap) * _padded(channels)), dtype=dtype)

    def lanes(self, buffer, count, channels):
        """The (T, s^2 * C_pad) view of ``buffer`` that a lanes kernel reads or writes."""
        width = self.size ** 2 * _padded(channels)
        return buffer[:count * width].reshape(count, width)

    def input_tiles(self, x, chunk, tiles_w, padding, v_buffer):
        """V = B^T d B of the chunk's tiles in ``v_buffer``, returned as its (s^2, T, C_in)
        view."""
        blocks = channel_blocks(x.shape[1])
        image_rows = self.image_rows(chunk, tiles_w, x.shape[1], x.dtype)
        lane_tiles.fill_channels_last(x, chunk[0], chunk[2], self.step, *padding, blocks,
                                      image_rows)
        v_lanes = self.lanes(v_buffer, _tile_count(chunk, tiles_w), x.shape[1])
        self.input_transform(image_rows, chunk[3] - chunk[2], tiles_w, self.step, blocks,
                             v_lanes)
        return _planes_view(v_lanes, x.shape[1])

    def outputs(self, u_filters, v_tiles, bias, chunk, tiles_w, work, out):
        """out = A^T M A + b on the chunk's outputs, M[xi] = U[xi] @ V[xi]."""
        out_channels, count = u_filters.shape[2], v_tiles.shape[1]
        m_lanes = self.lanes(work["m"], count, out_channels)
        # the s^2 products M[xi]^T (T, C_out) = V[xi]^T (T, C_in) @ U[xi]^T, into (T, s^2, C_pad)
        np.matmul(v_tiles, u_filters, out=_planes_view(m_lanes, out_channels))
        y_lanes = np.empty((count, self.step ** 2 * _padded(out_channels)), dtype=out.dtype)
        blocks = channel_blocks(out_channels)
        self.output_transform(m_lanes, blocks, y_lanes)
        lane_tiles.write_channels_first(y_lanes, bias, *chunk, tiles_w, self.step, blocks, out)

    def gradients(self, u_filters, v_tiles, dout, chunk, tiles_w, padding, work, du_chunk, dx):
        """The chunk's dL/dU (written to du_chunk, (s^2, C_out, C_in)) and dX (added)."""
        out_channels, channels, count = u_filters.shape[1], dx.shape[1], v_tiles.shape[1]
        out_blocks, in_blocks = channel_blocks(out_channels), channel_blocks(channels)
        g_lanes = np.empty((count, self.step ** 2 * _padded(out_channels)), dtype=dx.dtype)
        lane_tiles.read_channels_last(dout, *chunk, tiles_w, self.step, out_blocks, g_lanes)
        dm_lanes = self.lanes(work["m"], count, out_channels)
        self.output_transform_adjoint(g_lanes, out_blocks, dm_lanes)
        dm_tiles = _planes_view(dm_lanes, out_channels)                   # (s^2, T, C_out)
        np.matmul(dm_tiles.transpose(0, 2, 1), v_tiles, out=du_chunk)   # dL/dU[xi] = dM V^T
        dv_lanes = self.lanes(work["dv"], count, channels)
        np.matmul(dm_tiles, u_filters, out=_planes_view(dv_lanes, channels))  # dV = U^T dM
        dd_lanes = np.empty_like(dv_lanes)
        self.input_transform_adjoint(dv_lanes, in_blocks, dd_lanes)
        image_rows = self.image_rows(chunk, tiles_w, channels, dx.dtype)
        lane_tiles.add_tiles_channels_last(dd_lanes, chunk[3] - chunk[2], tiles_w, self.step,
                                           in_blocks, image_rows)
        lane_tiles.add_channels_first(image_rows, chunk[0], chunk[2], self.step, *padding,
                                      in_blocks, dx)


class _Workspace(dict):
    """A part's buffers by name, each allocated by its factory when first asked for (the
    forward pass never needs dV, nor V when it keeps V)."""

    def __init__(self, **factories):
        super().__init__()
        self._factories = factories

    def __missing__(self, name):
        self[name] = self._factories[name]()
        return self[name]


def _padded(channels):
    """C_pad: the channels rounded up to whole blocks of LANE."""
    return LANE * len(channel_blocks(channels))


def _planes_view(lanes, channels):
    """The (s^2, T, C) view of a (T, s^2 * C_pad) lanes array: the products' operands."""
    return lanes.reshape(lanes.shape[0], -1, _padded(channels))[:, :, :channels].transpose(1, 0, 2)


class _Plan(NamedTuple):
    """Winograd F(m x m, r x r): m x m outputs from an alpha x alpha tile, alpha = m + r - 1,
    tiles m apart, so V, M, dV and dM have alpha^2 planes; its tile transforms and the
    layout they work in (``tiles``), and kron(G, G) per dtype for the filter transform."""
    step: int
    planes: int
    tiles: object
    kron_g: dict


def _make_plan(step, g, tiles_):
    kron = {np.dtype(t): np.kron(g, g).astype(t) for t in (np.float32, np.float64)}
    for matrix in kron.values():
        matrix.setflags(write=False)
    return _Plan(step, len(g) ** 2, tiles_, kron)


# The plans: F(2x2, 3x3) plane by plane; the 6x6 tiles of F(4x4, 3x3), the plan of most 3x3
# layers, and of F(2x2, 5x5), and the 8x8 tiles of F(2x2, 7x7) with the channels in lanes,
# which is faster (benchmarks/HISTORY.md, "Winograd in vector lanes"); their per-plane kernels
# are the reference the tests hold the lanes to (minicnn/fast/kernels/winograd/).
F2_3X3 = _make_plan(2, matrices.G, _PlaneTiles(16, f2x2_3x3.input_transform,
                                               f2x2_3x3.input_transform_adjoint,
                                               f2x2_3x3.output_transform,
                                               f2x2_3x3.output_transform_adjoint))


def _lane_plan(step, size, g, family):
    return _make_plan(step, g, _LaneTiles(step, size, family.input_transform_lanes,
                                          family.output_transform_lanes,
                                          family.output_transform_adjoint_lanes,
                                          family.input_transform_adjoint_lanes))


F4_3X3 = _lane_plan(4, 6, matrices.G43, f4x4_3x3)
F2_5X5 = _lane_plan(2, 6, matrices.G5, f2x2_5x5)
F2_7X7 = _lane_plan(2, 8, matrices.G7, f2x2_7x7)
WINOGRAD_KERNELS = (3, 5, 7)


def choose_plan(x_shape, weight_shape, padding):
    """The plan for an (r, r) filter on this layer; ValueError for other filter shapes.

    A 3x3 filter has two: F(4x4, 3x3) does 36 products per 4x4 outputs (2.25 per output)
    and F(2x2, 3x3) 16 per 2x2 (4 per output), but the last tile row and column hang over
    an output whose size is not a multiple of the tile. The plan with fewer products for the
    whole output wins, F(2x2, 3x3) on ties (its transforms are cheaper): F(4x4, 3x3) for a
    14x14 output (576 products per channel pair against 784) or 7x7 (144 against 256),
    F(2x2, 3x3) for 2x2, 5x5 and 6x6. The timings that back the rule: benchmarks/HISTORY.md,
    "F(4x4, 3x3) for 3x3 layers"."""
    kernel = tuple(weight_shape[2:])
    if kernel[0] != kernel[1] or kernel[0] not in WINOGRAD_KERNELS:
        raise ValueError(f"conv2d_winograd: filters of size {kernel[0]}x{kernel[1]} have no "
                         f"Winograd plan; square sizes {WINOGRAD_KERNELS} do")
    if kernel[0] != 3:
        return F2_5X5 if kernel[0] == 5 else F2_7X7

    def products(plan):
        _, _, tiles_h, tiles_w = _tile_grid(x_shape, weight_shape, padding, plan.step)
        return plan.planes * tiles_h * tiles_w

    return F4_3X3 if products(F4_3X3) < products(F2_3X3) else F2_3X3


# Numbers left unused between two planes of V, M, dV, dM: with C and T powers of two the
# planes would lie a multiple of 4 KiB apart, so the rows that a transform writes at once
# would share one set of the L1 cache and evict each other, several times slower
# (benchmarks/winograd_layout.py and benchmarks/HISTORY.md, "Winograd in vector lanes").
PLANE_GAP = 16


def _plane_numbers(planes, rows, count):
    """Numbers in ``planes`` planes of (rows, count) numbers, PLANE_GAP apart."""
    return planes * (rows * count + PLANE_GAP)


def plane_buffer(planes, rows, max_count, dtype):
    """Memory for ``planes`` planes of (rows, count) numbers, count <= max_count, PLANE_GAP
    apart."""
    return np.empty(_plane_numbers(planes, rows, max_count), dtype=dtype)


def tile_planes(buffer, planes, rows, count):
    """The (planes, rows, count) view of ``buffer`` used as V, M, dV or dM for a chunk of
    ``count`` tiles: plane xi starts at xi * (rows * count + PLANE_GAP)."""
    item = buffer.itemsize
    return np.lib.stride_tricks.as_strided(
        buffer, shape=(planes, rows, count),
        strides=((rows * count + PLANE_GAP) * item, count * item, item))


def _filter_transform(weight, plan):
    """U[alpha*r + q, o, c] = (G W[o, c] G^T)[r, q]: (alpha^2, C_out, C_in), C-contiguous.

    (G W G^T)[r, q] = sum_(u, v) G[r, u] G[q, v] W[u, v] = (kron(G, G) @ W.ravel())[alpha*r + q],
    so the transforms of all C_out*C_in filters are one matrix product (thousands of small
    products, one per filter, cost a noticeable part of a small batch's time)."""
    filters = weight.reshape(weight.shape[0] * weight.shape[1], -1)      # (C_out*C_in, r^2)
    u = plan.kron_g[np.dtype(weight.dtype)] @ filters.T                 # (alpha^2, C_out*C_in)
    return u.reshape(plan.planes, *weight.shape[:2])


def _tile_grid(x_shape, weight_shape, padding, step):
    """(H_out, W_out, tiles_h, tiles_w): step x step output blocks, the last ones possibly
    cut."""
    out_h = x_shape[2] + 2 * padding[0] - weight_shape[2] + 1
    out_w = x_shape[3] + 2 * padding[1] - weight_shape[3] + 1
    return out_h, out_w, -(-out_h // step), -(-out_w // step)


class ChunkLayout(NamedTuple):
    """How a layer's tiles are cut into chunks: ``planes`` * (C_in + C_out) numbers per tile
    (V and M, or dV and dM), about WINOGRAD_CHUNK_BYTES of them a chunk, but at least the
    bytes of MIN_CHUNK_TILES 3x3 tiles (16 planes), below which the products (inner
    dimension T for dL/dU) get too thin for BLAS. Larger tiles keep those bytes, not that
    count: 7x7 filters (64 planes) then have chunks of at least 64 tiles, where a count of
    512 made V and M 12 MiB, out of the caches (benchmarks/RESULTS.md)."""
    planes: int
    tiles_h: int
    tiles_w: int
    channels_in_out: int
    dtype: object

    def row_bytes(self):
        """Bytes of V and M for one row of tiles."""
        return (self.planes * self.channels_in_out * self.tiles_w
                * np.dtype(self.dtype).itemsize)

    def budget(self):
        min_tiles = MIN_CHUNK_TILES * 16 // self.planes
        return max(WINOGRAD_CHUNK_BYTES, min_tiles * self.row_bytes() // self.tiles_w)

    def chunks(self, first, stop):
        """Chunks (n0, n1, a0, a1) of images first .. stop-1 and tile rows."""
        for n0, n1, a0, a1 in batch_chunks(stop - first, self.tiles_h, self.row_bytes(),
                                           self.budget()):
            yield first + n0, first + n1, a0, a1

    def tiles_per_chunk(self, n_batch):
        """Tiles in the largest chunk of n_batch images: its tile rows times tiles_w."""
        return largest_chunk_rows(n_batch, self.tiles_h, self.row_bytes(),
                                  self.budget()) * self.tiles_w


def _tile_count(chunk, tiles_w):
    """Tiles in the chunk (n0, n1, a0, a1)."""
    n0, n1, a0, a1 = chunk
    return (n1 - n0) * (a1 - a0) * tiles_w
