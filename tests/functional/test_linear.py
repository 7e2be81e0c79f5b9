"""linear_forward / linear_backward and flatten_forward / flatten_backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.linear import (flatten_backward, flatten_forward, linear_backward,
                                       linear_forward)
from minicnn.gradcheck import check_gradients


@pytest.mark.parametrize("n, n_in, n_out", [(4, 7, 5), (1, 3, 1), (6, 1, 9)])
def test_gradients_match_finite_differences(rng, n, n_in, n_out):
    report = check_gradients(linear_forward, linear_backward,
                             {"x": rng.standard_normal((n, n_in)),
                              "weight": rng.standard_normal((n_out, n_in)),
                              "bias": rng.standard_normal(n_out)})
    assert report.passed, str(report)


def test_gradients_without_bias(rng):
    def backward(dout, cache):
        dx, dweight, dbias = linear_backward(dout, cache)
        assert dbias is None
        return dx, dweight

    report = check_gradients(linear_forward, backward,
                             {"x": rng.standard_normal((3, 4)),
                              "weight": rng.standard_normal((2, 4))}, {"bias": None})
    assert report.passed, str(report)


# dx and dweight of the lecture's first Linear at every 14th input feature (and dweight at every
# 8th output): each entry is its own dot product, so the sample checks the arithmetic of the
# whole layer in 1/14 and 1/112 of the recording's size
DX_SAMPLE = (slice(None), slice(None, None, 14))
DWEIGHT_SAMPLE = (slice(None, None, 8), slice(None, None, 14))


def torch_linear(torch, x, weight, bias, dout):
    """PyTorch's linear layer output, and dx, dweight (at the samples above) and dbias for
    upstream dout."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    out = torch.nn.functional.linear(*tensors)
    out.backward(torch.tensor(dout))
    x_t, weight_t, bias_t = tensors
    return out, x_t.grad[DX_SAMPLE], weight_t.grad[DWEIGHT_SAMPLE], bias_t.grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(torch_reference, rng, dtype):
    x = rng.standard_normal((16, 3136)).astype(dtype)
    weight = (rng.standard_normal((256, 3136)) * 0.02).astype(dtype)
    bias = rng.standard_normal(256).astype(dtype)
    dout = rng.standard_normal((16, 256)).astype(dtype)
    out_t, *grads_t = torch_reference(torch_linear, x, weight, bias, dout)
    out, cache = linear_forward(x, weight, bias)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, out_t, **tol)
    dx, dweight, dbias = linear_backward(dout, cache)
    assert dx.dtype == dweight.dtype == dbias.dtype == dtype
    for name, got, expected in zip(("dx", "dweight", "dbias"),
                                   (dx[DX_SAMPLE], dweight[DWEIGHT_SAMPLE], dbias), grads_t):
        np.testing.assert_allclose(got, expected, **tol, err_msg=name)


def test_in_features_mismatch_names_both_shapes_and_flatten(rng):
    x = rng.standard_normal((2, 1568))
    weight = rng.standard_normal((256, 3136))
    with pytest.raises(ValueError, match=r"linear: input has 1568 features \(x shape \(2, 1568\)"
                                         r"\) but weight of shape \(256, 3136\) expects 3136"
                                         r".*Flatten"):
        linear_forward(x, weight, None)


def test_unflattened_feature_map_is_rejected_with_a_hint(rng):
    with pytest.raises(ValueError, match=r"flatten the feature map first.*\(2, 3136\)"):
        linear_forward(rng.standard_normal((2, 64, 7, 7)), rng.standard_normal((10, 3136)), None)


def test_bias_and_dtype_mismatches(rng):
    x = rng.standard_normal((2, 3))
    weight = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\).*4 out_features"):
        linear_forward(x, weight, np.zeros(3))
    with pytest.raises(TypeError, match="x is float32 but weight is float64"):
        linear_forward(x.astype(np.float32), weight, None)


def test_backward_rejects_dout_of_the_wrong_shape(rng):
    _, cache = linear_forward(rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), None)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3\).*\(2, 4\)"):
        linear_backward(rng.standard_normal((2, 3)), cache)


# --------------------------------------------------------------------------- flatten


@pytest.mark.parametrize("shape", [(2, 64, 7, 7), (1, 3), (3, 2, 5)], ids=str)
def test_flatten_round_trip(rng, shape):
    x = rng.standard_normal(shape)
    out, cache = flatten_forward(x)
    assert out.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(out[0], x[0].ravel())      # C-order, as torch's Flatten
    np.testing.assert_array_equal(flatten_backward(out, cache), x)


def test_flatten_gradient(rng):
    report = check_gradients(flatten_forward, flatten_backward,
                             {"x": rng.standard_normal((2, 3, 4, 5))})
    assert report.passed, str(report)


def test_flatten_of_an_empty_batch(rng):
    out, cache = flatten_forward(np.zeros((0, 3, 2), np.float32))
    assert out.shape == (0, 6) and out.dtype == np.float32


def torch_flatten(torch, x):
    return torch.nn.Flatten()(torch.tensor(x))


@pytest.mark.torch
def test_flatten_matches_torch(torch_reference, rng):
    x = rng.standard_normal((3, 4, 5, 6))
    np.testing.assert_array_equal(flatten_forward(x)[0], torch_reference(torch_flatten, x))


def test_flatten_errors(rng):
    with pytest.raises(ValueError, match="flatten: x must have a batch axis"):
        flatten_forward(rng.standard_normal(5))
    _, cache = flatten_forward(rng.standard_normal((2, 3, 4)))
    with pytest.raises(ValueError, match="does not reshape"):
        flatten_backward(rng.standard_normal((2, 11)), cache)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_property_linear_is_affine_in_x(n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal((2, n, n_in))
    weight = rng.standard_normal((n_out, n_in))
    bias = rng.standard_normal(n_out)
    f = lambda x: linear_forward(x, weight, bias)[0]        # noqa: E731
    np.testing.assert_allclose(f(x1 + x2) - f(x2), f(x1) - bias, rtol=1e-10, atol=1e-10)
