"""The direct sum for 5x5 filters with padding 2 and stride 1 (minicnn/fast/conv/direct.py):
against the naive, loop and im2col references on a grid of shapes, finite differences, the
backward pass without dL/dX, small chunks, and what method "fast" runs (3x3 and the other
methods: test_conv_fast.py)."""

import numpy as np
import pytest

import minicnn.fast.conv.direct as conv_direct
from minicnn.fast.conv.direct import conv2d_direct_backward, conv2d_direct_forward, is_direct
from minicnn.functional.conv import conv2d_backward, conv2d_forward
from minicnn.gradcheck import numerical_gradient, rel_error

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}

# (N, C_in, H, W, C_out): batch 1, 1-7 input channels, output channels not a multiple of the
# block of four (one, a pair, a block and one, a block and a pair, two blocks and one), odd
# for dW's pairs, non-square and odd images, images smaller than the filter
DIRECT_5X5_GRID = [
    pytest.param(1, 1, 28, 28, 6, id="lenet5-conv1-batch1"),
    pytest.param(3, 1, 9, 8, 6, id="one-channel-to-6"),
    pytest.param(2, 3, 7, 11, 5, id="rgb-to-5-odd-wide"),
    pytest.param(2, 2, 12, 5, 1, id="one-output-tall"),
    pytest.param(1, 4, 6, 6, 2, id="a-pair-of-outputs"),
    pytest.param(2, 5, 5, 7, 7, id="7-outputs"),
    pytest.param(2, 7, 4, 9, 9, id="7-inputs-9-outputs"),
    pytest.param(3, 2, 1, 2, 3, id="1x2-image-smaller-than-the-filter"),
    pytest.param(2, 3, 3, 4, 4, id="3x4-image-smaller-than-the-filter"),
    pytest.param(2, 6, 1, 1, 8, id="1x1-image"),
]


def make_inputs(rng, n, c_in, h, w, c_out, dtype):
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, 5, 5)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    dout = rng.standard_normal((n, c_out, h, w)).astype(dtype)       # "same": H_out = H
    return x, weight, bias, dout


def direct(x, weight, bias, dout, input_gradient=True):
    out, planes = conv2d_direct_forward(x, weight, bias, 1)
    return (out, *conv2d_direct_backward(dout, planes, weight, x.shape, input_gradient))


def reference(method, x, weight, bias, dout):
    out, cache = conv2d_forward(x, weight, bias, 1, 2, method=method)
    return (out, *conv2d_backward(dout, cache))


def test_direct_takes_5x5_with_padding_2_and_stride_1_only():
    assert is_direct((6, 1, 5, 5), (1, 1), (2, 2))
    assert is_direct((6, 1, 3, 3), (2, 2), (1, 1))                # 3x3 keeps stride 2
    for stride, padding in (((2, 2), (2, 2)), ((1, 1), (1, 1)), ((1, 1), (0, 0)),
                            ((1, 1), (2, 1)), ((1, 2), (2, 2))):
        assert not is_direct((6, 1, 5, 5), stride, padding)
    assert not is_direct((6, 1, 5, 3), (1, 1), (2, 1))
    assert not is_direct((6, 1, 3, 3), (1, 1), (2, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c_in, h, w, c_out", DIRECT_5X5_GRID)
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "image-by-image"])
def test_direct_5x5_matches_naive_loop_and_im2col(rng, monkeypatch, dtype, n, c_in, h, w,
                                                  c_out, chunk_bytes):
    if chunk_bytes is not None:      # the backward pass pads dZ one image at a time
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", chunk_bytes)
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, dtype)
    got = direct(x, weight, bias, dout)
    for method in ("naive", "loop", "im2col"):
        expected = reference(method, x, weight, bias, dout)
        for name, g, e in zip(("out", "dx", "dweight", "dbias"), got, expected):
            assert g.shape == e.shape and g.dtype == e.dtype, name
            assert rel_error(g, e) < TOLERANCE[dtype], f"{method} {name}: {rel_error(g, e):.1e}"
    assert got[0].flags.c_contiguous and got[1].flags.c_contiguous


@pytest.mark.parametrize("n, c_in, h, w, c_out", [DIRECT_5X5_GRID[2], DIRECT_5X5_GRID[6],
                                                  DIRECT_5X5_GRID[8]])
def test_direct_5x5_gradients_match_finite_differences(rng, n, c_in, h, w, c_out):
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, np.float64)
    _, dx, dweight, dbias = direct(x, weight, bias, dout)

    def f():
        return conv2d_direct_forward(x, weight, bias, 1)[0]

    for name, analytic, array in (("dx", dx, x), ("dweight", dweight, weight),
                                  ("dbias", dbias, bias)):
        error = rel_error(analytic, numerical_gradient(f, array, dout))
        assert error < 1e-7, f"{name}: rel error {error:.2e}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c_in, h, w, c_out", DIRECT_5X5_GRID)
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "image-by-image"])
def test_direct_5x5_without_the_input_gradient_gives_the_same_dw_and_db(
        rng, monkeypatch, dtype, n, c_in, h, w, c_out, chunk_bytes):
    """input_gradient=False (a first layer's backward): dx is None, and dW and db are the
    full backward's to the last bit."""
    if chunk_bytes is not None:
        monkeypatch.setattr(conv_direct, "DIRECT_CHUNK_BYTES", chunk_bytes)
    x, weight, bias, dout = make_inputs(rng, n, c_in, h, w, c_out, dtype)
    _, _, dweight, dbias = direct(x, weight, bias, dout)
    _, dx, dweight_only, dbias_only = direct(x, weight, bias, dout, input_gradient=False)
    assert dx is None
    np.testing.assert_array_equal(dweight_only, dweight)
    np.testing.assert_array_equal(dbias_only, dbias)


def test_direct_5x5_without_bias_and_from_a_non_contiguous_input(rng):
    x, weight, _, _ = make_inputs(rng, 2, 3, 6, 7, 4, np.float64)
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    out, _ = conv2d_direct_forward(x_t, weight, None, 1)
    np.testing.assert_array_equal(out, conv2d_direct_forward(x, weight, None, (1, 1))[0])
    expected, _ = conv2d_forward(x, weight, None, 1, 2, method="naive")
    assert rel_error(out, expected) < 1e-12


def test_direct_5x5_keeps_x_as_planes_padded_by_two(rng):
    x, weight, bias, _ = make_inputs(rng, 3, 2, 4, 6, 5, np.float32)
    _, planes = conv2d_direct_forward(x, weight, bias, 1)
    pitch, image_size = 6 + 2, (4 + 2) * (6 + 2)
    assert planes.shape == (1, 2, 3 * image_size + 4 * pitch + 4)
    x_pad = np.pad(x, ((0, 0), (0, 0), (2, 0), (2, 0)))            # the padding above, left
    blocks = planes[0, :, :3 * image_size].reshape(2, 3, 4 + 2, pitch)
    np.testing.assert_array_equal(blocks, x_pad.transpose(1, 0, 2, 3))
    assert not planes[0, :, 3 * image_size:].any()                   # the slack is zero


@pytest.mark.parametrize("c_in, c_out, algorithm", [(1, 6, "direct"), (3, 32, "direct"),
                                                    (16, 16, "winograd")])
def test_fast_runs_the_5x5_direct_sum_where_choose_says(rng, c_in, c_out, algorithm):
    x, weight, bias, dout = make_inputs(rng, 2, c_in, 9, 10, c_out, np.float64)
    out, cache = conv2d_forward(x, weight, bias, 1, 2, method="fast")
    assert cache[1][0] == algorithm
    got = (out, *conv2d_backward(dout, cache))
    for name, g, e in zip(("out", "dx", "dweight", "dbias"), got,
                          reference("naive", x, weight, bias, dout)):
        assert rel_error(g, e) < 1e-12, name
