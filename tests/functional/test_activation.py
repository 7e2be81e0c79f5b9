"""relu_forward / relu_backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.activation import relu_backward, relu_forward
from minicnn.gradcheck import check_gradients


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return x + np.where(x >= 0, 0.05, -0.05)       # no entry within h of the kink


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (1, 7), (5,)], ids=str)
def test_gradient_matches_finite_differences(rng, shape):
    report = check_gradients(relu_forward, relu_backward, {"x": _away_from_zero(rng, shape)})
    assert report.passed, str(report)


def test_forward_and_backward_by_definition(rng):
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [[0, 0, 0, 1e-30, 3.0]])
    np.testing.assert_array_equal(relu_backward(dout, cache), [[0, 0, 0, 4.0, 5.0]])


def test_nan_propagates_like_torch():
    out, _ = relu_forward(np.array([np.nan, -1.0], np.float32))
    assert np.isnan(out[0]) and out[1] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(rng, dtype):
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    out, cache = relu_forward(x)
    dx = relu_backward(rng.standard_normal(x.shape).astype(dtype), cache)
    assert out.dtype == dx.dtype == dtype


def test_forward_does_not_modify_its_input(rng):
    x = rng.standard_normal((4, 5))
    before = x.copy()
    relu_forward(x)
    np.testing.assert_array_equal(x, before)


def torch_relu(torch, x, dout):
    """PyTorch's ReLU of x and its gradient for the upstream gradient dout."""
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.relu(x_t)
    out_t.backward(torch.tensor(dout))
    return out_t, x_t.grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(torch_reference, rng, dtype):
    x = rng.standard_normal((2, 8, 7, 7)).astype(dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    out_t, dx_t = torch_reference(torch_relu, x, dout)
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(relu_backward(dout, cache), dx_t)


def test_errors(rng):
    with pytest.raises(TypeError, match="relu: x must be float32 or float64"):
        relu_forward(np.arange(3))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        relu_forward([1.0, -1.0])
    _, cache = relu_forward(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"relu_backward: dout has shape \(3, 2\)"):
        relu_backward(rng.standard_normal((3, 2)), cache)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_property_relu_splits_x_into_positive_and_negative_parts(values):
    x = np.array(values)
    positive, _ = relu_forward(x)
    negative, _ = relu_forward(-x)
    assert np.all(positive >= 0)
    np.testing.assert_array_equal(positive - negative, x)
