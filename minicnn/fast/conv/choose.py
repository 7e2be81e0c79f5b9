"""Which algorithm method "fast" runs for a layer, and the measured bounds behind the choice.

Each bound was set from forward + backward timings against PyTorch in the same run, one
thread (``benchmarks/conv_choice.py`` and ``benchmarks/conv.py``); the tables are in
benchmarks/RESULTS.md, in the section named beside each bound. Rerun those scripts when the
machine changes.
"""

from __future__ import annotations

import numpy as np

from minicnn.fast.conv.direct import is_direct
from minicnn.fast.conv.pointwise import is_pointwise
from minicnn.fast.conv.winograd import WINOGRAD_KERNELS
from minicnn.functional import output_shape2d

__all__ = ["fast_algorithm", "WINOGRAD_MIN_CHANNELS", "WINOGRAD_5X5_MIN_CHANNELS",
           "WINOGRAD_5X5_MIN_OUT_CHANNELS", "WINOGRAD_MIN_TILES", "DIRECT_MAX_PLANE",
           "DIRECT_MAX_CHANNEL_PAIRS", "DIRECT_STRIDE2_MAX_CHANNEL_PAIRS",
           "DIRECT_5X5_ANY_WIDTH_CHANNELS", "DIRECT_5X5_MAX_CHANNEL_PAIRS", "IM2COL_MAX_BYTES"]

# Below this many input channels Winograd's tile transforms cost more than the products they
# save (HISTORY.md, "Convolution at PyTorch's pace").
WINOGRAD_MIN_CHANNELS = 8
# A 5x5 filter saves more (36 products for 100): Winograd pays from 3 input channels once there
# are 8 output channels to share each input transform (RESULTS.md, "The networks' layers").
WINOGRAD_5X5_MIN_CHANNELS = 3
WINOGRAD_5X5_MIN_OUT_CHANNELS = 8
# ... and for 3x3, below this many 2x2 output tiles in the batch its fixed costs (16 products,
# four transforms) lose to im2col; 5x5 and 7x7 save more and need no minimum (HISTORY.md,
# "Convolution at PyTorch's pace").
WINOGRAD_MIN_TILES = 128
# 3x3 stride-1 padding-1 layers with at most this many channel pairs C_in * C_out run the
# direct sum, where Winograd's transforms outweigh the products it saves (HISTORY.md,
# "Winograd in vector lanes").
DIRECT_MAX_CHANNEL_PAIRS = 256
# ... on output planes of at most this many positions: on larger ones Winograd's 4x4 tiles
# cover the plane with little waste and win (RESULTS.md, "The networks' layers").
DIRECT_MAX_PLANE = 16 * 16
# The same for stride 2 (no Winograd there): beyond it im2col's and gemm's products win
# (HISTORY.md, "The direct sum for stride 2").
DIRECT_STRIDE2_MAX_CHANNEL_PAIRS = 4096
# 5x5 stride-1 padding-2 layers with fewer input channels than this run the direct sum at any
# width: im2col copies each input 25 times, and Winograd's transforms outweigh the products
# it saves (LeNet-5's 1 -> 6, RGB first layers; RESULTS.md, "The networks' layers") ...
DIRECT_5X5_ANY_WIDTH_CHANNELS = 4
# ... and from there while C_in * C_out <= DIRECT_5X5_MAX_CHANNEL_PAIRS: on wider layers
# F(2x2, 5x5)'s 9 products an output for the direct sum's 25 win (8 -> 16 on 14x14 planes,
# 128 pairs, is a tie; same section).
DIRECT_5X5_MAX_CHANNEL_PAIRS = 120
# Other layers run im2col while its column matrix fits in this many bytes (the lecture's two
# layers at batch 64), else gemm, whose memory stays bounded (HISTORY.md, "Convolution at
# PyTorch's pace").
IM2COL_MAX_BYTES = 16 << 20


def fast_algorithm(x_shape, weight_shape, stride, padding, dtype):
    """"pointwise", "direct", "winograd", "im2col" or "gemm": the algorithm that method "fast"
    runs for input shape (N, C_in, H, W), weight shape (C_out, C_in, kH, kW), stride and
    padding pairs, dtype.

    A 1x1 filter with stride 1 and no padding is one product per image (pointwise). A 3x3
    filter with padding 1 is summed directly below WINOGRAD_MIN_CHANNELS input channels and,
    from there, while C_in * C_out <= DIRECT_MAX_CHANNEL_PAIRS on output planes of at most
    DIRECT_MAX_PLANE positions (stride 1) or C_in * C_out <=
    DIRECT_STRIDE2_MAX_CHANNEL_PAIRS (stride 2). A 5x5 filter with padding 2 and stride 1 is
    summed directly below DIRECT_5X5_ANY_WIDTH_CHANNELS input channels and, from there, while
    C_in * C_out <= DIRECT_5X5_MAX_CHANNEL_PAIRS. Winograd (F(4x4, 3x3) or F(2x2, r x r))
    exists for square 3x3, 5x5 and 7x7 filters with stride 1, and pays from
    WINOGRAD_MIN_CHANNELS input channels (and, for 3x3, WINOGRAD_MIN_TILES 2x2 output tiles;
    for 5x5, from WINOGRAD_5X5_MIN_CHANNELS with WINOGRAD_5X5_MIN_OUT_CHANNELS outputs);
    otherwise im2col while its column matrix is at most IM2COL_MAX_BYTES, else the chunked
    gemm."""
    if is_pointwise(weight_shape, stride, padding):
        return "pointwise"
    n_batch, in_channels, height, width = x_shape
    kernel_h, kernel_w = weight_shape[2:]
    out_h, out_w = output_shape2d(height, width, (kernel_h, kernel_w), tuple(stride),
                                  tuple(padding), func="conv2d")
    if is_direct(weight_shape, stride, padding):
        pairs = in_channels * weight_shape[0]
        if kernel_h == 5:
            narrow = (in_channels < DIRECT_5X5_ANY_WIDTH_CHANNELS
                      or pairs <= DIRECT_5X5_MAX_CHANNEL_PAIRS)
        elif tuple(stride) == (1, 1):
            narrow = in_channels < WINOGRAD_MIN_CHANNELS or (
                pairs <= DIRECT_MAX_CHANNEL_PAIRS and out_h * out_w <= DIRECT_MAX_PLANE)
        else:
            narrow = (in_channels < WINOGRAD_MIN_CHANNELS
                      or pairs <= DIRECT_STRIDE2_MAX_CHANNEL_PAIRS)
        if narrow:
            return "direct"
    tiles = n_batch * ((out_h + 1) // 2) * ((out_w + 1) // 2)
    wide_enough = in_channels >= WINOGRAD_MIN_CHANNELS or (
        kernel_h == 5 and in_channels >= WINOGRAD_5X5_MIN_CHANNELS
        and weight_shape[0] >= WINOGRAD_5X5_MIN_OUT_CHANNELS)
    if (kernel_h == kernel_w and kernel_h in WINOGRAD_KERNELS and tuple(stride) == (1, 1)
            and wide_enough and (tiles >= WINOGRAD_MIN_TILES or kernel_h > 3)):
        return "winograd"
    cols_bytes = (in_channels * kernel_h * kernel_w * n_batch * out_h * out_w
                  * np.dtype(dtype).itemsize)
    return "im2col" if cols_bytes <= IM2COL_MAX_BYTES else "gemm"
