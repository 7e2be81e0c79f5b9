"""conv2d's fast methods ("gemm", "fast" = pointwise, direct, Winograd, im2col or gemm per
layer): against the naive, loop and im2col references, finite differences, PyTorch, and the
chunking that bounds their memory."""

import numpy as np
import pytest

import minicnn.fast.conv.direct as conv_direct
import minicnn.fast.conv.gemm as conv_gemm
import minicnn.fast.conv.choose as choose
import minicnn.fast.conv.winograd as conv_winograd
from minicnn.fast.conv.choose import (DIRECT_5X5_ANY_WIDTH_CHANNELS,
                                      DIRECT_5X5_MAX_CHANNEL_PAIRS, DIRECT_MAX_CHANNEL_PAIRS,
                                      DIRECT_MAX_PLANE, DIRECT_STRIDE2_MAX_CHANNEL_PAIRS,
                                      IM2COL_MAX_BYTES, WINOGRAD_5X5_MIN_CHANNELS,
                                      WINOGRAD_5X5_MIN_OUT_CHANNELS, WINOGRAD_MIN_CHANNELS,
                                      WINOGRAD_MIN_TILES, fast_algorithm)
from minicnn.fast.conv.direct import conv2d_direct_backward, conv2d_direct_forward
from minicnn.fast.conv.winograd import conv2d_winograd_backward, conv2d_winograd_forward
from minicnn.functional import fast_paths
from minicnn.functional.conv import conv2d_backward, conv2d_forward
from minicnn.gradcheck import numerical_gradient, rel_error

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}

# (N, C_in, H, W, C_out, kernel, stride, padding): kernels 1, 3, 5 and non-square, strides
# 1-3 and non-square, paddings 0-2, batch 1, non-square images, windows that skip pixels.
GRID = [
    pytest.param(1, 1, 5, 5, 2, (1, 1), 1, 0, id="k1-batch1"),
    pytest.param(2, 3, 7, 6, 4, (3, 3), 1, 1, id="k3-s1-p1"),
    pytest.param(1, 2, 8, 7, 3, (3, 3), 2, 1, id="k3-s2-p1-batch1"),
    pytest.param(2, 2, 9, 8, 2, (5, 5), 1, 2, id="k5-s1-p2"),
    pytest.param(2, 2, 11, 10, 3, (5, 5), 3, 2, id="k5-s3-p2"),
    pytest.param(2, 2, 6, 7, 3, (3, 1), (1, 2), (2, 0), id="k3x1-s1x2-p2x0"),
    pytest.param(1, 3, 5, 9, 2, (2, 4), (2, 3), (1, 2), id="k2x4-s2x3-p1x2"),
    pytest.param(2, 2, 7, 8, 2, (2, 2), 3, 0, id="k2-s3-skips-pixels"),
    pytest.param(2, 2, 1, 2, 2, (5, 5), 1, 2, id="k5-on-1x2-mostly-padding"),
    pytest.param(3, 9, 6, 5, 4, (3, 3), 1, 0, id="k3-s1-p0-winograd-odd-output"),
    pytest.param(1, 8, 5, 8, 3, (3, 3), 1, 2, id="k3-s1-p2-winograd-batch1"),
    pytest.param(3, 5, 4, 7, 6, (1, 1), 1, 0, id="k1-pointwise-non-square"),
    pytest.param(2, 3, 6, 5, 4, (1, 1), 2, 1, id="k1-s2-p1-not-pointwise"),
    pytest.param(2, 8, 6, 5, 3, (5, 5), 1, 2, id="k5-s1-p2-winograd"),
    pytest.param(1, 8, 7, 6, 2, (7, 7), 1, (3, 2), id="k7-s1-p3x2-winograd"),
]

# 3x3, stride-1 layers for Winograd itself (any padding, odd and even output sizes)
WINOGRAD_GRID = [
    pytest.param(1, 1, 3, 3, 1, 0, id="3x3-to-1x1-batch1"),
    pytest.param(2, 3, 7, 6, 4, 1, id="p1-odd-height"),
    pytest.param(2, 2, 8, 9, 3, 2, id="p2-odd-width"),
    pytest.param(1, 2, 1, 2, 2, 1, id="1x2-image-mostly-padding"),
    pytest.param(3, 4, 10, 10, 5, 0, id="p0-even"),
    # F(4x4, 3x3) moves channels through vector lanes of 8: whole blocks, and one and a bit
    pytest.param(2, 8, 9, 8, 16, 1, id="8-to-16-channels-whole-lane-blocks"),
    pytest.param(2, 9, 10, 11, 13, 1, id="9-to-13-channels-past-a-lane-block"),
]


def make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding, dtype):
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    out, _ = conv2d_forward(x, weight, bias, stride, padding, method="loop")
    dout = rng.standard_normal(out.shape).astype(dtype)
    return x, weight, bias, dout


def run(method, x, weight, bias, dout, stride, padding):
    out, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    return (out, *conv2d_backward(dout, cache))


def assert_all_close(got, expected, dtype):
    for name, g, e in zip(("out", "dx", "dweight", "dbias"), got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, name
        assert rel_error(g, e) < TOLERANCE[dtype], f"{name}: rel error {rel_error(g, e):.2e}"


# "fast" picks im2col or direct for most small layers; the variants force its other
# algorithms (direct applies to the grid's 3x3, padding-1 layers of stride 1 or 2 and its 5x5,
# padding-2 layers of stride 1, Winograd to its 3x3, 5x5 and 7x7 stride-1 layers with >= 8
# input channels)
METHODS = ["gemm", "fast", "fast:direct-where-it-applies", "fast:winograd-where-it-applies",
           "fast:gemm"]


def _no_direct(monkeypatch):
    monkeypatch.setattr(choose, "is_direct", lambda *args: False)


@pytest.fixture
def method(request, monkeypatch):
    """The method name for conv2d_forward, after forcing the variant's choice in "fast"."""
    name = request.param
    if name == "fast:direct-where-it-applies":
        monkeypatch.setattr(choose, "DIRECT_MAX_CHANNEL_PAIRS", 10 ** 9)
        monkeypatch.setattr(choose, "DIRECT_STRIDE2_MAX_CHANNEL_PAIRS", 10 ** 9)
        monkeypatch.setattr(choose, "DIRECT_5X5_MAX_CHANNEL_PAIRS", 10 ** 9)
    elif name == "fast:winograd-where-it-applies":
        _no_direct(monkeypatch)
        monkeypatch.setattr(choose, "WINOGRAD_MIN_TILES", 1)
    elif name == "fast:gemm":
        _no_direct(monkeypatch)
        monkeypatch.setattr(choose, "IM2COL_MAX_BYTES", -1)
        monkeypatch.setattr(choose, "WINOGRAD_MIN_CHANNELS", 10 ** 9)
        monkeypatch.setattr(choose, "WINOGRAD_5X5_MIN_CHANNELS", 10 ** 9)
        monkeypatch.setattr(choose, "is_pointwise", lambda *args: False)
    return name.split(":")[0]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few hundred bytes: every layer is split into many chunks, and images
    into bands of rows (the path that large images take)."""
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 512)
    monkeypatch.setattr(conv_gemm, "MIN_CHUNK_COLUMNS", 1)
    monkeypatch.setattr(conv_winograd, "WINOGRAD_CHUNK_BYTES", 2048)
    monkeypatch.setattr(conv_winograd, "MIN_CHUNK_TILES", 1)
    monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", 1)      # one image a chunk


def test_small_chunks_split_images_into_bands(small_chunks):
    # gemm, 3->4 channels 3x3, 7 output rows of grid width 8 (float64): 1,728 bytes a row
    gemm_chunks = list(conv_gemm._chunks((4, 3, 3, 3), 2, 7, 8, np.float64))
    assert gemm_chunks[0] == (0, 1, 0, 1) and len(gemm_chunks) == 14
    # winograd, 3 + 4 channels, 4 tile rows of 3 tiles: 2,688 bytes a tile row
    tile_chunks = list(conv_winograd.ChunkLayout(16, 4, 3, 7, np.float64).chunks(0, 2))
    assert tile_chunks[0] == (0, 1, 0, 1) and len(tile_chunks) == 8


# --------------------------------------------------------------------------------------------
# Against the references
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_fast_methods_match_naive_loop_and_im2col(rng, method, dtype, n, c_in, h, w, c_out,
                                                   kernel, stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        dtype)
    got = run(method, x, weight, bias, dout, stride, padding)
    for reference in ("naive", "loop", "im2col"):
        assert_all_close(got, run(reference, x, weight, bias, dout, stride, padding), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("small", [False, True], ids=["whole", "small-chunks"])
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_without_the_input_gradient_the_weight_gradients_are_the_same(
        rng, monkeypatch, method, small, dtype, n, c_in, h, w, c_out, kernel, stride, padding):
    """input_gradient=False (a first layer's backward): dx is None, and dW and db are the
    full backward's to the last bit, whichever algorithm ran and however it was chunked."""
    if small:
        monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 512)
        monkeypatch.setattr(conv_gemm, "MIN_CHUNK_COLUMNS", 1)
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", 1)
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        dtype)
    _, cache = conv2d_forward(x, weight, bias, stride, padding, method=method)
    _, again = conv2d_forward(x, weight, bias, stride, padding, method=method)
    _, dweight, dbias = conv2d_backward(dout, cache)
    dx, dweight_only, dbias_only = conv2d_backward(dout, again, input_gradient=False)
    assert dx is None
    np.testing.assert_array_equal(dweight_only, dweight)
    np.testing.assert_array_equal(dbias_only, dbias)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_without_the_bias_gradient_the_other_gradients_are_the_same(
        rng, method, dtype, n, c_in, h, w, c_out, kernel, stride, padding):
    """bias_gradient=False (a layer without bias, as ResNet's): the engine's backward returns
    None for dL/db instead of summing dZ, and dx and dW are the full backward's to the last
    bit, whichever algorithm ran."""
    x, weight, _, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding, dtype)
    _, backward = fast_paths.conv_method(method)
    caches = [conv2d_forward(x, weight, None, stride, padding, method=method)[1]
              for _ in range(2)]
    # the cache: (method, saved, weight, stride pair, padding pair, x's shape, has a bias)
    full, no_bias = [backward(dout, cache[1], weight, cache[3], cache[4], cache[5],
                              bias_gradient=wanted)
                     for cache, wanted in zip(caches, (True, False))]
    assert full[2].shape == (c_out,) and no_bias[2] is None
    np.testing.assert_array_equal(no_bias[0], full[0])
    np.testing.assert_array_equal(no_bias[1], full[1])


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_conv2d_backward_asks_the_engine_for_the_bias_gradient_only_with_a_bias(
        rng, monkeypatch, bias):
    x, weight, bias_values, dout = make_inputs(rng, 2, 3, 6, 5, 4, (3, 3), 1, 1, np.float64)
    forward, backward = fast_paths.conv_method("fast")
    asked = []

    def recording_backward(*args, **keywords):
        asked.append(keywords)
        return backward(*args, **keywords)

    monkeypatch.setitem(fast_paths._CONV_METHODS, "fast", (forward, recording_backward))
    _, cache = conv2d_forward(x, weight, bias_values if bias else None, 1, 1, method="fast")
    dx, dweight, dbias = conv2d_backward(dout, cache)
    assert asked == [{"input_gradient": True, "bias_gradient": bias}]
    assert dx.shape == x.shape and dweight.shape == weight.shape
    assert (dbias is not None) == bias


@pytest.mark.parametrize("method", ["naive", "loop", "im2col"])
def test_the_lectures_methods_drop_the_input_gradient_too(rng, method):
    x, weight, bias, dout = make_inputs(rng, 2, 2, 6, 5, 3, (3, 3), 1, 1, np.float64)
    _, cache = conv2d_forward(x, weight, bias, 1, 1, method=method)
    dx, dweight, dbias = conv2d_backward(dout, cache, input_gradient=False)
    _, reference = conv2d_forward(x, weight, bias, 1, 1, method=method)
    _, expected_dweight, expected_dbias = conv2d_backward(dout, reference)
    assert dx is None
    np.testing.assert_array_equal(dweight, expected_dweight)
    np.testing.assert_array_equal(dbias, expected_dbias)


@pytest.fixture(params=["F2_3X3", "F4_3X3", "either"])
def plan_3x3(request, monkeypatch):
    """Each 3x3 plan forced on every layer, and the choice choose_plan makes."""
    if request.param != "either":
        plan = getattr(conv_winograd, request.param)
        monkeypatch.setattr(conv_winograd, "choose_plan", lambda *shapes: plan)
    return request.param


@pytest.fixture(params=["V kept", "V recomputed"])
def keep_v(request, monkeypatch):
    """The backward pass on the forward's V, and with V computed again (past
    WINOGRAD_KEEP_BYTES, as on large layers)."""
    if request.param == "V recomputed":
        monkeypatch.setattr(conv_winograd, "WINOGRAD_KEEP_BYTES", 0)
    return request.param == "V kept"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c_in, h, w, c_out, padding", WINOGRAD_GRID)
def test_winograd_matches_the_naive_reference(rng, plan_3x3, keep_v, dtype, n, c_in, h, w,
                                              c_out, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, (3, 3), 1, padding, dtype)
    out, kept = conv2d_winograd_forward(x, weight, bias, (padding, padding))
    assert bool(kept[1]) == keep_v                    # V of every chunk, or none
    got = (out, *conv2d_winograd_backward(dout, kept, weight, (padding, padding)))
    assert_all_close(got, run("naive", x, weight, bias, dout, 1, padding), dtype)


# 5x5 and 7x7, stride 1 (F(2x2, 5x5) and F(2x2, 7x7)): "same" and other paddings, odd and
# even outputs, an output of one pixel, an image smaller than the filter, non-square padding
LARGE_WINOGRAD_GRID = [
    pytest.param(2, 3, 9, 8, 4, 5, (2, 2), id="k5-p2-odd-height"),
    pytest.param(1, 2, 5, 5, 3, 5, (0, 0), id="k5-to-1x1"),
    pytest.param(3, 4, 10, 11, 2, 5, (1, 2), id="k5-p1x2"),
    pytest.param(1, 2, 1, 2, 3, 5, (2, 2), id="k5-1x2-image-mostly-padding"),
    pytest.param(2, 9, 9, 8, 13, 5, (2, 2), id="k5-9-to-13-channels-past-a-lane-block"),
    pytest.param(2, 6, 14, 14, 16, 5, (0, 0), id="k5-lenet5-conv2-6-to-16"),
    pytest.param(2, 3, 9, 8, 4, 7, (3, 3), id="k7-p3-odd-height"),
    pytest.param(1, 2, 7, 8, 3, 7, (0, 0), id="k7-p0-1x2-output"),
    pytest.param(2, 5, 12, 13, 3, 7, (2, 3), id="k7-p2x3"),
    pytest.param(1, 2, 3, 2, 2, 7, (3, 3), id="k7-3x2-image-mostly-padding"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c_in, h, w, c_out, k, padding", LARGE_WINOGRAD_GRID)
def test_winograd_5x5_and_7x7_match_the_naive_reference(rng, small_chunks, keep_v, dtype, n,
                                                         c_in, h, w, c_out, k, padding):
    """Small chunks: every case also runs as several chunks and bands of tile rows."""
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, (k, k), 1, padding, dtype)
    out, kept = conv2d_winograd_forward(x, weight, bias, padding)
    assert bool(kept[1]) == keep_v
    got = (out, *conv2d_winograd_backward(dout, kept, weight, padding))
    assert_all_close(got, run("naive", x, weight, bias, dout, 1, padding), dtype)


# 3x3, padding 1 for the direct sum: output channels not a multiple of its block of 4 (and
# odd, for dW's pairs), one input channel, a 1x1 image, non-square images, and for stride 2
# odd and even heights and widths (which phase holds the last row or column)
DIRECT_GRID = [
    pytest.param(2, 3, 7, 6, 5, id="odd-out-channels"),
    pytest.param(1, 1, 1, 1, 1, id="1x1-image-one-channel"),
    pytest.param(3, 2, 4, 9, 8, id="wide-image"),
    pytest.param(2, 9, 8, 3, 6, id="tall-image"),
    pytest.param(2, 4, 2, 5, 9, id="2-rows-9-outputs"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("n, c_in, h, w, c_out", DIRECT_GRID)
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "image-by-image"])
def test_direct_matches_the_naive_reference(rng, monkeypatch, dtype, stride, n, c_in, h, w,
                                            c_out, chunk_bytes):
    if chunk_bytes is not None:      # the backward pass pads dZ one image at a time
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", chunk_bytes)
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, (3, 3), stride, 1, dtype)
    out, planes = conv2d_direct_forward(x, weight, bias, stride)
    got = (out, *conv2d_direct_backward(dout, planes, weight, x.shape))
    assert_all_close(got, run("naive", x, weight, bias, dout, stride, 1), dtype)
    assert out.flags.c_contiguous and got[1].flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c_in, h, w, c_out", DIRECT_GRID)
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "image-by-image"])
def test_direct_stride2_input_gradient_as_products_matches_the_naive_reference(
        rng, monkeypatch, dtype, n, c_in, h, w, c_out, chunk_bytes):
    # dL/dX by BLAS products (wide layers) forced on every layer of the grid
    monkeypatch.setattr(conv_direct, "PRODUCTS_MIN_CHANNELS", 1)
    if chunk_bytes is not None:      # dZ padded, and its columns built, one image at a time
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", chunk_bytes)
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, (3, 3), 2, 1, dtype)
    out, planes = conv2d_direct_forward(x, weight, bias, 2)
    got = (out, *conv2d_direct_backward(dout, planes, weight, x.shape))
    assert_all_close(got, run("naive", x, weight, bias, dout, 2, 1), dtype)


def test_direct_stride2_takes_products_for_wide_inputs_only(rng, monkeypatch):
    calls = []
    monkeypatch.setattr(conv_direct, "_phase_products",
                        lambda *args: calls.append(args[-1].shape[1]))
    for c_in in (conv_direct.PRODUCTS_MIN_CHANNELS - 1, conv_direct.PRODUCTS_MIN_CHANNELS):
        x, weight, bias, dout = make_inputs(rng, 1, c_in, 4, 4, 2, (3, 3), 2, 1, np.float32)
        _, planes = conv2d_direct_forward(x, weight, bias, 2)
        conv2d_direct_backward(dout, planes, weight, x.shape)
    assert calls == [conv_direct.PRODUCTS_MIN_CHANNELS]


@pytest.mark.parametrize("stride", [1, (2, 2)])
def test_direct_without_bias_and_from_a_non_contiguous_input(rng, stride):
    x, weight, _, dout = make_inputs(rng, 2, 3, 5, 6, 4, (3, 3), stride, 1, np.float64)
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    out, planes = conv2d_direct_forward(x_t, weight, None, stride)
    np.testing.assert_array_equal(out, conv2d_direct_forward(x, weight, None, stride)[0])
    expected, _ = conv2d_forward(x, weight, None, stride, 1, method="naive")
    assert rel_error(out, expected) < 1e-12


@pytest.mark.parametrize("out_size, plan", [(1, "F2_3X3"), (2, "F2_3X3"), (3, "F4_3X3"),
                                            (5, "F2_3X3"), (6, "F2_3X3"), (7, "F4_3X3"),
                                            (8, "F4_3X3"), (14, "F4_3X3"), (28, "F4_3X3")])
def test_3x3_plan_is_the_one_with_fewer_products(out_size, plan):
    """F(4x4, 3x3): 36 products per 4x4 outputs; F(2x2, 3x3): 16 per 2x2; ties to F(2x2)."""
    got = conv_winograd.choose_plan((2, 8, out_size, out_size), (4, 8, 3, 3), (1, 1))
    assert got is getattr(conv_winograd, plan)


def test_winograd_rejects_filters_without_a_plan(rng):
    x = rng.standard_normal((1, 2, 9, 9))
    for kernel in ((9, 9), (5, 3), (2, 2)):
        with pytest.raises(ValueError, match=f"{kernel[0]}x{kernel[1]}.*no Winograd plan"):
            conv2d_winograd_forward(x, rng.standard_normal((2, 2, *kernel)), None, (1, 1))


@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_chunked_into_bands_of_rows_matches_im2col(rng, small_chunks, method, n, c_in, h, w,
                                                   c_out, kernel, stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        np.float64)
    assert_all_close(run(method, x, weight, bias, dout, stride, padding),
                     run("im2col", x, weight, bias, dout, stride, padding), np.float64)


@pytest.mark.parametrize("n, c_in, h, w, c_out, padding", WINOGRAD_GRID)
def test_winograd_chunked_into_bands_of_tile_rows_matches_naive(rng, small_chunks, plan_3x3,
                                                                 keep_v, n, c_in, h, w, c_out,
                                                                 padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, (3, 3), 1, padding,
                                        np.float64)
    out, kept = conv2d_winograd_forward(x, weight, bias, (padding, padding))
    got = (out, *conv2d_winograd_backward(dout, kept, weight, (padding, padding)))
    assert_all_close(got, run("naive", x, weight, bias, dout, 1, padding), np.float64)


def test_chunks_cover_every_image_and_row_once():
    # 5 images of 7 rows, 100 bytes a row: 3 images per 2,100-byte chunk; 250 bytes: bands
    whole = list(conv_gemm.batch_chunks(5, 7, 100, 2100))
    assert whole == [(0, 3, 0, 7), (3, 5, 0, 7)]
    bands = list(conv_gemm.batch_chunks(2, 7, 100, 250))
    assert bands == [(0, 1, 0, 2), (0, 1, 2, 4), (0, 1, 4, 6), (0, 1, 6, 7),
                     (1, 2, 0, 2), (1, 2, 2, 4), (1, 2, 4, 6), (1, 2, 6, 7)]
    assert list(conv_gemm.batch_chunks(1, 3, 100, 10)) == [(0, 1, 0, 1), (0, 1, 1, 2),
                                                          (0, 1, 2, 3)]


# --------------------------------------------------------------------------------------------
# Finite differences (float64)
# --------------------------------------------------------------------------------------------

GRADCHECK_GRID = [GRID[1], GRID[2], GRID[3], GRID[5], GRID[9], GRID[10], GRID[11], GRID[13],
                  GRID[14]]


@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRADCHECK_GRID)
def test_gradients_match_finite_differences(rng, method, n, c_in, h, w, c_out, kernel, stride,
                                            padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        np.float64)
    _, dx, dweight, dbias = run(method, x, weight, bias, dout, stride, padding)

    def f():
        return conv2d_forward(x, weight, bias, stride, padding, method=method)[0]

    for name, analytic, array in (("dx", dx, x), ("dweight", dweight, weight),
                                  ("dbias", dbias, bias)):
        error = rel_error(analytic, numerical_gradient(f, array, dout))
        assert error < 1e-7, f"{method} {name}: rel error {error:.2e}"


# --------------------------------------------------------------------------------------------
# Which algorithm "fast" runs, and its cache
# --------------------------------------------------------------------------------------------

def test_fast_picks_winograd_im2col_or_gemm_by_layer():
    f32 = np.float32
    wide, tiles = WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_TILES
    many = DIRECT_MAX_CHANNEL_PAIRS // wide + 1          # output channels too many for direct
    # 16 x 16 outputs = 64 tiles per image, so 2 images hold 128 tiles
    x = (tiles // 64, wide, 16, 16)
    assert fast_algorithm(x, (many, wide, 3, 3), (1, 1), (1, 1), f32) == "winograd"
    assert fast_algorithm(x, (16, wide, 1, 1), (1, 1), (0, 0), f32) == "pointwise"
    assert fast_algorithm(x, (16, 1, 1, 1), (1, 1), (0, 0), f32) == "pointwise"
    assert fast_algorithm(x, (16, wide, 1, 1), (2, 2), (0, 0), f32) == "im2col"      # strided
    assert fast_algorithm(x, (16, wide, 1, 1), (1, 1), (1, 0), f32) == "im2col"      # padded
    assert fast_algorithm((1, wide, 16, 16), (many, wide, 3, 3), (1, 1), (1, 1),
                          f32) == "im2col"
    narrow = (x[0], wide - 1, 16, 16)
    assert fast_algorithm(narrow, (many, wide - 1, 3, 3), (1, 1), (0, 0), f32) == "im2col"
    assert fast_algorithm(x, (many, wide, 3, 3), (3, 3), (1, 1), f32) == "im2col"    # strided
    # 5x5 and 7x7: Winograd at any tile count (one image of 4 tiles), not when non-square,
    # strided or narrow (5x5 "same" layers: past the direct sum's channel pairs); 9x9 has no
    # Winograd plan
    wider = DIRECT_5X5_MAX_CHANNEL_PAIRS // wide + 1
    for k in (5, 7):
        assert fast_algorithm((1, wide, 4, 4), (wider, wide, k, k), (1, 1), (k // 2,) * 2,
                              f32) == "winograd"
        assert fast_algorithm(x, (16, wide, k, k), (2, 2), (2, 2), f32) == "im2col"
    assert fast_algorithm(narrow, (16, wide - 1, 7, 7), (1, 1), (3, 3), f32) == "im2col"
    # 5x5 pays from WINOGRAD_5X5_MIN_CHANNELS inputs with WINOGRAD_5X5_MIN_OUT_CHANNELS outputs
    # (LeNet-5's 6 -> 16, not its 1 -> 6)
    few, outs = WINOGRAD_5X5_MIN_CHANNELS, WINOGRAD_5X5_MIN_OUT_CHANNELS
    assert fast_algorithm((64, few, 14, 14), (outs, few, 5, 5), (1, 1), (0, 0),
                          f32) == "winograd"
    assert fast_algorithm((64, few - 1, 14, 14), (outs, few - 1, 5, 5), (1, 1), (0, 0),
                          f32) == "im2col"
    assert fast_algorithm((64, few, 14, 14), (outs - 1, few, 5, 5), (1, 1), (0, 0),
                          f32) == "im2col"
    assert fast_algorithm((64, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), f32) == "winograd"
    assert fast_algorithm((64, 1, 32, 32), (6, 1, 5, 5), (1, 1), (0, 0), f32) == "im2col"
    assert fast_algorithm(x, (16, wide, 5, 3), (1, 1), (2, 1), f32) == "im2col"
    assert fast_algorithm(x, (16, wide, 9, 9), (1, 1), (4, 4), f32) == "im2col"
    # a column matrix over IM2COL_MAX_BYTES: gemm (one more output row tips it over)
    rows = IM2COL_MAX_BYTES // (4 * 49 * (wide - 1) * 16)
    assert fast_algorithm((1, wide - 1, rows, 16), (4, wide - 1, 7, 7), (1, 1), (3, 3),
                          f32) == "im2col"
    assert fast_algorithm((1, wide - 1, rows + 1, 16), (4, wide - 1, 7, 7), (1, 1), (3, 3),
                          f32) == "gemm"


def test_fast_sums_narrow_3x3_same_layers_directly():
    f32 = np.float32
    wide, pairs = WINOGRAD_MIN_CHANNELS, DIRECT_MAX_CHANNEL_PAIRS
    x = (64, wide, 14, 14)
    # from WINOGRAD_MIN_CHANNELS inputs: while C_in * C_out <= DIRECT_MAX_CHANNEL_PAIRS
    assert fast_algorithm(x, (pairs // wide, wide, 3, 3), (1, 1), (1, 1), f32) == "direct"
    assert fast_algorithm(x, (pairs // wide + 1, wide, 3, 3), (1, 1), (1, 1),
                          f32) == "winograd"
    # ... on output planes of at most DIRECT_MAX_PLANE positions (ResNet's 16 -> 16 at 28x28
    # and 32x32 runs Winograd; at 14x14 and 16x16 the direct sum)
    for side, algorithm in ((14, "direct"), (16, "direct"), (28, "winograd"),
                            (32, "winograd")):
        assert side * side <= DIRECT_MAX_PLANE or algorithm == "winograd"
        assert fast_algorithm((128, 16, side, side), (16, 16, 3, 3), (1, 1), (1, 1),
                              f32) == algorithm
    # below WINOGRAD_MIN_CHANNELS, any width: the lecture's conv1, a batch of one, many outputs
    for x_shape, out_channels in (((64, 1, 28, 28), 32), ((1, 3, 14, 14), 64),
                                  ((16, wide - 1, 28, 28), 256)):
        weight = (out_channels, x_shape[1], 3, 3)
        assert fast_algorithm(x_shape, weight, (1, 1), (1, 1), f32) == "direct"
    # only 3x3, padding 1, stride 1 or 2 (the same on both axes)
    assert fast_algorithm(x, (8, wide, 3, 3), (1, 1), (0, 0), f32) == "winograd"
    assert fast_algorithm(x, (8, wide, 3, 3), (1, 1), (2, 2), f32) == "winograd"
    assert fast_algorithm(x, (8, wide, 3, 3), (2, 1), (1, 1), f32) == "im2col"
    assert fast_algorithm(x, (8, wide, 3, 3), (3, 3), (1, 1), f32) == "im2col"
    assert fast_algorithm(x, (8, wide, 5, 5), (1, 1), (1, 1), f32) == "winograd"
    assert fast_algorithm(x, (8, wide, 3, 1), (1, 1), (1, 1), f32) == "im2col"


def test_fast_sums_5x5_same_layers_with_few_channels_directly():
    f32 = np.float32
    few, pairs = DIRECT_5X5_ANY_WIDTH_CHANNELS, DIRECT_5X5_MAX_CHANNEL_PAIRS
    # below DIRECT_5X5_ANY_WIDTH_CHANNELS inputs, any width: LeNet-5's 1 -> 6 at batch 256
    # (whose columns would pass IM2COL_MAX_BYTES), RGB first layers, a batch of one
    for x_shape, out_channels in (((256, 1, 28, 28), 6), ((64, 1, 28, 28), 6),
                                  ((64, 3, 32, 32), 32), ((16, few - 1, 64, 64), 512),
                                  ((1, 2, 3, 4), 1)):
        weight = (out_channels, x_shape[1], 5, 5)
        assert fast_algorithm(x_shape, weight, (1, 1), (2, 2), f32) == "direct"
    # from there while C_in * C_out <= DIRECT_5X5_MAX_CHANNEL_PAIRS, then Winograd
    for c_in in (few, WINOGRAD_MIN_CHANNELS, 2 * WINOGRAD_MIN_CHANNELS):
        x = (64, c_in, 14, 14)
        assert fast_algorithm(x, (pairs // c_in, c_in, 5, 5), (1, 1), (2, 2), f32) == "direct"
        assert fast_algorithm(x, (pairs // c_in + 1, c_in, 5, 5), (1, 1), (2, 2),
                              f32) == "winograd"
    # only padding 2 and stride 1: LeNet-5's 6 -> 16 (padding 0) keeps Winograd, others im2col
    assert fast_algorithm((64, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), f32) == "winograd"
    for stride, padding in (((1, 1), (1, 1)), ((2, 2), (2, 2)), ((1, 1), (2, 1))):
        assert fast_algorithm((64, 1, 28, 28), (6, 1, 5, 5), stride, padding, f32) == "im2col"
    assert fast_algorithm((64, 1, 28, 28), (6, 1, 5, 3), (1, 1), (2, 1), f32) == "im2col"


def test_fast_sums_narrow_stride_2_layers_directly():
    f32 = np.float32
    wide, pairs = WINOGRAD_MIN_CHANNELS, DIRECT_STRIDE2_MAX_CHANNEL_PAIRS
    x = (64, wide, 28, 28)
    # from WINOGRAD_MIN_CHANNELS inputs: while C_in * C_out <= DIRECT_STRIDE2_MAX_CHANNEL_PAIRS
    assert fast_algorithm(x, (pairs // wide, wide, 3, 3), (2, 2), (1, 1), f32) == "direct"
    assert fast_algorithm(x, (pairs // wide + 1, wide, 3, 3), (2, 2), (1, 1),
                          f32) == "im2col"
    # below it, any width; stride 2 with other paddings, or a 1x3 stride, is not direct
    assert fast_algorithm((16, wide - 1, 28, 28), (512, wide - 1, 3, 3), (2, 2), (1, 1),
                          f32) == "direct"
    assert fast_algorithm(x, (8, wide, 3, 3), (2, 2), (0, 0), f32) == "im2col"
    assert fast_algorithm(x, (8, wide, 3, 3), (1, 2), (1, 1), f32) == "im2col"


@pytest.mark.parametrize("c_in, c_out, n, algorithm",
                         [(WINOGRAD_MIN_CHANNELS, 40, 8, "winograd"), (1, 3, 2, "direct")])
def test_fast_cache_records_the_algorithm_that_ran(rng, c_in, c_out, n, algorithm):
    x, weight, bias, dout = make_inputs(rng, n, c_in, 10, 10, c_out, (3, 3), 1, 1,
                                        np.float64)
    _, cache = conv2d_forward(x, weight, bias, 1, 1, method="fast")
    assert cache[0] == "fast" and cache[1][0] == algorithm


def test_fast_runs_gemm_on_a_large_image(rng, monkeypatch):
    _no_direct(monkeypatch)                       # a 5x5 "same" layer: else the direct sum
    monkeypatch.setattr(choose, "IM2COL_MAX_BYTES", 1000)
    x, weight, bias, dout = make_inputs(rng, 1, 2, 12, 12, 3, (5, 5), 1, 2, np.float64)
    out, cache = conv2d_forward(x, weight, bias, 1, 2, method="fast")
    assert cache[1][0] == "gemm"
    assert_all_close((out, *conv2d_backward(dout, cache)),
                     run("im2col", x, weight, bias, dout, 1, 2), np.float64)


def test_default_method_is_fast(rng):
    x, weight, bias, _ = make_inputs(rng, 1, 8, 6, 6, 2, (3, 3), 1, 1, np.float32)
    assert conv2d_forward(x, weight, bias, 1, 1)[1][0] == "fast"


def test_gemm_keeps_only_the_padded_input_not_the_columns(rng):
    x, weight, bias, _ = make_inputs(rng, 4, 3, 10, 10, 5, (3, 3), 1, 1, np.float32)
    _, cache = conv2d_forward(x, weight, bias, 1, 1, method="gemm")
    saved = cache[1]
    assert saved.shape == (4, 3, 10 + 2 + 1, 10 + 2)       # X_pad and one extra zero row
    _, im2col_cache = conv2d_forward(x, weight, bias, 1, 1, method="im2col")
    assert im2col_cache[1].size == 9 * x.size               # what gemm does not keep


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS, indirect=True)
@pytest.mark.parametrize("n, c_in, h, w, c_out, kernel, stride, padding", GRID)
def test_matches_torch_forward_and_backward(rng, torch_reference, method, n, c_in, h, w, c_out,
                                            kernel, stride, padding):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, kernel, stride, padding,
                                        np.float64)
    expected = list(torch_reference(_torch_conv2d, x, weight, bias, dout, stride, padding))
    assert_all_close(run(method, x, weight, bias, dout, stride, padding), expected, np.float64)


def _torch_conv2d(torch, x, weight, bias, dout, stride, padding):
    """PyTorch's conv2d output and (dx, dweight, dbias) for upstream dout (recorded in
    tests/torch_recordings/ for runs without torch)."""
    x_t, weight_t, bias_t = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    out_t = torch.nn.functional.conv2d(x_t, weight_t, bias_t, stride=stride, padding=padding)
    out_t.backward(torch.tensor(dout))
    return out_t, x_t.grad, weight_t.grad, bias_t.grad


def test_pointwise_keeps_only_x_and_writes_nchw_directly(rng):
    x, weight, bias, dout = make_inputs(rng, 4, 6, 5, 3, 7, (1, 1), 1, 0, np.float32)
    out, cache = conv2d_forward(x, weight, bias, 1, 0, method="fast")
    algorithm, kept = cache[1]
    assert algorithm == "pointwise" and kept is x             # nothing copied, no columns
    assert out.flags.c_contiguous and out.shape == (4, 7, 5, 3)
    # a non-contiguous input is made contiguous once, and the answer does not change
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    out_t, cache_t = conv2d_forward(x_t, weight, bias, 1, 0, method="fast")
    assert cache_t[1][1].flags.c_contiguous
    np.testing.assert_array_equal(out_t, out)
    dx, dweight, dbias = conv2d_backward(dout, cache)
    assert dx.dtype == dweight.dtype == dbias.dtype == np.float32
