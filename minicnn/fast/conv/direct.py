"""3x3 convolution with padding 1 (stride 1 or 2) and 5x5 with padding 2 (stride 1), computed
directly on flat padded planes.

The lecture's sum for an r x r filter with padding p = (r - 1) / 2,

    Z[n, o, i, j] = sum_c sum_(u, v) W[o, c, u, v] * X_pad[n, c, i + u, j + v] + b[o],

costs r * r multiply-adds per output and channel pair, 2.25 to 4 times Winograd's
(minicnn/fast/conv/winograd.py), but needs no tile transforms. On narrow layers those
transforms, not the products, are most of Winograd's time, and there the direct sum is
faster (benchmarks/HISTORY.md, "Winograd in vector lanes"); with one to a few input channels
(LeNet-5's first layer) it also beats im2col, whose column matrix copies every input r * r
times. Each input channel becomes one flat plane holding the padded images one after
another, row after row, with p zero columns between neighbouring rows and p zero rows between
neighbouring images (each serves as the padding on both of its sides):

    planes[c, n * image_size + (y + p) * pitch + (k + p)] = X[n, c, y, k],
    pitch = W + p, image_size = (H + p) * (W + p), zero everywhere else,

so the r * r inputs of the output (n, i, j), at flat position f = n * image_size + i * pitch
+ j, are planes[c, f + u * pitch + v] (u, v in 0..r-1), and each (output channel, input
channel) pair is one loop over f that Numba vectorises (minicnn/fast/kernels/conv_direct.py
for 3x3, conv_direct_5x5.py for 5x5). The loop also computes the p positions per row past
the image's width (j >= W), which are thrown away.

The backward pass uses the same layout for dZ, padded by p (Z_pad below):

    dL/dX[n, c, y, k] = sum_o sum_(u, v) W[o, c, r-1 - u, r-1 - v] * dZ_pad[n, o, y + u, k + v]
                        (the same correlation, filters transposed and turned by 180 degrees)
    dL/dW[o, c, u, v] = sum_(n, i, j) dZ[n, o, i, j] * X_pad[n, c, i + u, j + v]
    dL/db[o]          = sum_(n, i, j) dZ[n, o, i, j]

**Stride 2** reads every second input, so X_pad is first split into its four phase planes
(even or odd rows and columns, phase_planes), each laid out flat the same way with pitch
W_out + 1; then every tap is again one contiguous read, the forward sum and dL/dW are the same
loops as for stride 1 (minicnn/fast/kernels/conv_direct.py, whose docstring has the offsets),
and dL/dX is computed phase by phase from dZ_pad (by a Numba loop, or from
PRODUCTS_MIN_CHANNELS input channels by one BLAS product a phase) and interleaved. There is
no Winograd for stride 2, and im2col spends a large part of a stride-2 layer's time unfolding
and folding its column matrix (benchmarks/HISTORY.md, "The direct sum for stride 2").

With T threads the batch is cut into T parts that run at once (minicnn/fast/parallel.py).
Method "fast" runs it for narrow 3x3 padding-1 layers of either stride and for 5x5 padding-2
layers with few input channels (minicnn/fast/conv/choose.py, fast_algorithm).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from minicnn.fast.parallel import batch_parts, run_parts
from minicnn.fast.kernels.conv_direct import (correlate_3x3, fill_phase_planes,
                                              input_gradient_3x3_stride2, interleave_phases,
                                              weight_gradient_3x3)
from minicnn.fast.kernels.conv_direct_5x5 import correlate_5x5, weight_gradient_5x5

__all__ = ["DIRECT_CHUNK_BYTES", "is_direct", "plane_geometry", "flat_planes", "phase_planes",
           "conv2d_direct_forward", "conv2d_direct_backward"]

# Bytes of the padded output gradient held at once in the backward pass: 1 MiB (one core's L2
# cache here), at least one image.
DIRECT_CHUNK_BYTES = 1 << 20
# Stride 2 from this many input channels computes dL/dX as BLAS products (_phase_products)
# instead of the phase loop of input_gradient_3x3_stride2, which wins on narrower layers
# (benchmarks/HISTORY.md, "The direct sum for stride 2").
PRODUCTS_MIN_CHANNELS = 32


def is_direct(weight_shape, stride, padding) -> bool:
    """The layers this file computes: a 3x3 filter, padding 1 and stride 1 or 2, or a 5x5
    filter, padding 2 and stride 1 (the same on both axes)."""
    kernel, stride, padding = tuple(weight_shape[2:]), tuple(stride), tuple(padding)
    if kernel == (5, 5):
        return stride == (1, 1) and padding == (2, 2)
    return kernel == (3, 3) and stride in ((1, 1), (2, 2)) and padding == (1, 1)


def plane_geometry(height, width, padding=1):
    """(pitch, image_size) of the flat planes of H x W images padded by p: W + p and (H + p)
    * (W + p). The phase planes of a stride-2 layer have the geometry of its H_out x W_out
    output (padding 1)."""
    return width + padding, (height + padding) * (width + padding)


def flat_planes(images, channels=None, padding=1):
    """The images (N, C, H, W) as flat planes, zero-padded by p = ``padding`` (see the module
    docstring):

        planes[c, n * image_size + (y + p) * pitch + (k + p)] = images[n, c, y, k],

    (pitch, image_size) = plane_geometry(H, W, p), zero elsewhere; (channels, N * image_size
    + 2p * pitch + 2p), the last 2p * pitch + 2p numbers (zeros: the padding below the last
    image) read by the kernels past the last image. ``channels`` >= C adds zero planes
    (the weight-gradient kernels take the output gradient's channels in pairs)."""
    n_batch, count, height, width = images.shape
    pitch, image_size = plane_geometry(height, width, padding)
    slack = 2 * padding * pitch + 2 * padding
    planes = np.zeros((channels or count, n_batch * image_size + slack), images.dtype)
    blocks = planes[:count, :n_batch * image_size].reshape(count, n_batch, height + padding,
                                                          pitch)
    blocks[:, :, padding:, padding:] = images.transpose(1, 0, 2, 3)
    return planes


def phase_planes(images):
    """The four phase planes of the images zero-padded by one, for a stride-2 layer:

        phases[2a + b, c, n * image_size + r * pitch + q] = X_pad[n, c, 2r + a, 2q + b]

    for r <= H_out, q <= W_out, with (pitch, image_size) = plane_geometry(H_out, W_out),
    H_out = ceil(H / 2), W_out = ceil(W / 2); zero elsewhere. (4, C, N * image_size + pitch +
    2): X_pad's row 2r + a is the image's row 2r + a - 1, so phase a = 0 starts at r = 1
    (r = 0 is the top padding) and phase a = 1 at r = 0; columns alike. One pass over x
    (minicnn/fast/kernels/conv_direct.py, fill_phase_planes)."""
    n_batch, count, height, width = images.shape
    pitch, image_size = plane_geometry((height + 1) // 2, (width + 1) // 2)
    phases = np.empty((4, count, n_batch * image_size + pitch + 2), images.dtype)
    fill_phase_planes(np.ascontiguousarray(images), phases, pitch, image_size)
    return phases


def conv2d_direct_forward(x, weight, bias, stride=1):
    """Forward pass of a 3x3, padding-1 convolution of stride 1 or 2, or of a 5x5, padding-2
    convolution of stride 1, summed directly.

    Parameters
    ----------
    x : (N, C_in, H, W) array, checked by conv2d_forward
    weight : (C_out, C_in, r, r) array of x's dtype, r = 3 or 5
    bias : (C_out,) array or None
    stride : 1 or 2 (an int, or a pair of equal ints); 1 for 5x5

    Returns
    -------
    out : (N, C_out, H_out, W_out) C-contiguous array (H_out = H for stride 1, ceil(H / 2)
          for stride 2)
    planes : for the backward pass, (stride**2, C_in, L): x as flat planes padded by
             (r - 1) / 2 (flat_planes, one plane a channel) for stride 1, as its phase planes
             (phase_planes) for stride 2
    """
    n_batch, _, height, width = x.shape
    out_channels, kernel = weight.shape[0], weight.shape[2]
    stride = stride if isinstance(stride, int) else stride[0]    # is_direct checked it
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias
    if kernel == 5:
        out = np.empty((n_batch, out_channels, height, width), x.dtype)
        planes = flat_planes(x, padding=2)                    # (C_in, N * image_size + slack)
        pitch, image_size = plane_geometry(height, width, 2)
        run_parts(lambda first, stop: correlate_5x5(planes, weight, bias_values, pitch,
                                                    image_size, first, stop, out),
                  batch_parts(n_batch))                       # images first .. stop-1 a part
        return out, planes[None]
    if stride == 1:
        out_h, out_w = height, width
        planes = flat_planes(x)[None]                         # (1, C_in, N * image_size + slack)
    else:
        out_h, out_w = (height + 1) // 2, (width + 1) // 2
        planes = phase_planes(x)                              # (4, C_in, N * image_size + slack)
    pitch, image_size = plane_geometry(out_h, out_w)
    out = np.empty((n_batch, out_channels, out_h, out_w), x.dtype)

    run_parts(lambda first, stop: correlate_3x3(planes, weight, bias_values, pitch, image_size,
                                                stride, first, stop, out),
              batch_parts(n_batch))                           # images first .. stop-1 a part
    return out, planes


def conv2d_direct_backward(dout, planes, weight, x_shape, input_gradient=True,
                           bias_gradient=True):
    """Backward pass of conv2d_direct_forward (of either stride and filter size: ``planes``
    tells the stride, ``weight`` the size).

    Parameters
    ----------
    dout : (N, C_out, H_out, W_out) array of the forward pass's dtype
    planes : the second value returned by conv2d_direct_forward
    weight : (C_out, C_in, r, r) array, r = 3 or 5
    x_shape : (N, C_in, H, W)
    input_gradient : False when dL/dX is not needed (the input is the data)
    bias_gradient : False when dL/db is not needed (the layer has no bias)

    Returns
    -------
    dx : (N, C_in, H, W) array, or None when input_gradient is False
    dweight : (C_out, C_in, r, r) array
    dbias : (C_out,) array, or None when bias_gradient is False
    """
    out_channels, kernel = weight.shape[0], weight.shape[2]
    grad_count = out_channels + out_channels % 2      # the dL/dW kernels take pairs
    dx_filters = None                                 # stride 2, narrow: the phase loop
    if len(planes) == 1:                              # stride 1: dL/dX is a correlation too
        # W[o, c, r-1 - u, r-1 - v] as filters from the C_out (+ zero) planes to the C_in
        # outputs
        dx_filters = np.zeros((weight.shape[1], grad_count, kernel, kernel), weight.dtype)
        dx_filters[:, :out_channels] = weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    elif weight.shape[1] >= PRODUCTS_MIN_CHANNELS:    # stride 2, wide: dL/dX by products
        dx_filters = _phase_matrices(weight)
    dx = np.empty(x_shape, dout.dtype) if input_gradient else None
    # one part per thread; the parts' images, so their dX slices, are disjoint
    parts = run_parts(partial(_backward_part, dout, planes, weight, dx_filters, grad_count,
                              x_shape[1], dx),
                      batch_parts(x_shape[0]))
    dbias = dout.sum(axis=(0, 2, 3)) if bias_gradient else None
    return dx, sum(parts)[:out_channels], dbias


def _backward_part(dout, planes, weight, dx_filters, grad_count, in_channels, dx, first, stop):
    """dL/dX of images first .. stop-1 (written into dx; skipped when dx is None) and their
    part of dL/dW (returned, (grad_count, C_in, r, r)) for conv2d_direct_backward.
    ``dx_filters``: for stride 1 the transposed, turned filters; for stride 2 None (the phase
    loop) or _phase_matrices (products). dZ is padded into flat planes a chunk of images at a
    time, so that copy never holds the whole batch's output gradient (3->64 at 224x224: 13 MB
    an image)."""
    kernel = weight.shape[2]
    padding = kernel // 2
    pitch, image_size = plane_geometry(*dout.shape[2:], padding)
    chunk = max(1, DIRECT_CHUNK_BYTES // (grad_count * image_size * dout.itemsize))
    dweight_part = np.zeros((grad_count, in_channels, kernel, kernel), dout.dtype)
    dweight_chunk = np.empty_like(dweight_part)
    stride = 1 if len(planes) == 1 else 2
    no_bias = np.zeros(in_channels, dout.dtype) if stride == 1 else None  # dL/dX's "bias"
    for n0 in range(first, stop, chunk):
        n1 = min(stop, n0 + chunk)
        # dZ_pad of images n0..n1-1
        grad_planes = flat_planes(dout[n0:n1], grad_count, padding)
        # dZ at output position f of image n is grad_planes[o, f - n0 * image_size
        # + padding * (pitch + 1)]: the chunk starts at image n0, and the padding shifts it
        offset = padding * (pitch + 1) - n0 * image_size
        if kernel == 5:
            if dx is not None:
                correlate_5x5(grad_planes, dx_filters, no_bias, pitch, image_size, 0, n1 - n0,
                              dx[n0:n1])
            weight_gradient_5x5(planes[0], grad_planes, offset, pitch, n0 * image_size,
                                n1 * image_size, dweight_chunk)
        else:
            if dx is not None and stride == 1:
                correlate_3x3(grad_planes[None], dx_filters, no_bias, pitch, image_size, 1, 0,
                              n1 - n0, dx[n0:n1])
            elif dx is not None and dx_filters is None:
                input_gradient_3x3_stride2(grad_planes, weight, pitch, image_size, 0, n1 - n0,
                                           dx[n0:n1])
            elif dx is not None:
                _phase_products(grad_planes, dx_filters, weight.shape[0], pitch, image_size,
                                dx[n0:n1])
            weight_gradient_3x3(planes, grad_planes, offset, pitch, stride, n0 * image_size,
                                n1 * image_size, dweight_chunk)
        dweight_part += dweight_chunk
    return dweight_part


# dZ's neighbours (r - du, q - dv) in the order that gives every phase a contiguous block of
# them (see _phase_matrices), and the blocks: phase (a, b) -> (first, last + 1)
_NEIGHBOURS = ((0, 1), (0, 0), (1, 0), (1, 1))
_PHASE_BLOCKS = {(0, 0): (0, 4), (0, 1): (1, 3), (1, 0): (0, 2), (1, 1): (1, 2)}


def _phase_matrices(weight):
    """For each phase (a, b) of dL/dX_pad, the filters of its taps side by side, (C_in, k *
    C_out): column block d holds W[:, :, a + 2 du, b + 2 dv].T for the d-th neighbour (du, dv)
    of _PHASE_BLOCKS[(a, b)], the tap that reads dZ at (r - du, q - dv)."""
    matrices = {}
    for (a, b), (first, last) in _PHASE_BLOCKS.items():
        blocks = [weight[:, :, a + 2 * du, b + 2 * dv].T for du, dv in _NEIGHBOURS[first:last]]
        matrices[(a, b)] = np.ascontiguousarray(np.concatenate(blocks, axis=1))
    return matrices


def _phase_products(grad_planes, matrices, out_channels, pitch, image_size, dx):
    """dL/dX of a stride-2 layer for the images of ``dx`` (those of grad_planes) as products:

        phase (a, b) of dL/dX_pad = matrices[(a, b)] @ (dZ at its neighbours, stacked)

    the four neighbours of dZ (r - du, q - dv) copied once, shifted, into one column matrix
    (4 C_out, positions), a few images at a time (about 1 MiB of columns); each phase's
    product reads a contiguous block of its rows. Then the phases are interleaved into dx."""
    n_batch = dx.shape[0]
    images = max(1, DIRECT_CHUNK_BYTES // (4 * out_channels * image_size * dx.itemsize))
    columns = np.empty((4 * out_channels, min(images, n_batch) * image_size), dx.dtype)
    phases = np.empty((4, dx.shape[1], columns.shape[1]), dx.dtype)
    for n0 in range(0, n_batch, images):
        n1 = min(n_batch, n0 + images)
        span = (n1 - n0) * image_size
        for k, (du, dv) in enumerate(_NEIGHBOURS):   # dZ at (r - du, q - dv): G[f + shift]
            shift = n0 * image_size + (1 - du) * pitch + 1 - dv
            columns[k * out_channels:(k + 1) * out_channels, :span] = \
                grad_planes[:out_channels, shift:shift + span]
        for (a, b), (first, last) in _PHASE_BLOCKS.items():
            np.matmul(matrices[(a, b)], columns[first * out_channels:last * out_channels, :span],
                      out=phases[2 * a + b, :, :span])
        interleave_phases(phases, pitch, image_size, n0, n1, dx)
