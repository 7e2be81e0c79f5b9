"""cross_entropy_forward / cross_entropy_backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.loss import cross_entropy_backward, cross_entropy_forward
from minicnn.gradcheck import check_gradients


@pytest.mark.parametrize("n, k", [(6, 5), (1, 3), (4, 1)])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_gradient_matches_finite_differences(rng, n, k, weighted):
    kwargs = {"labels": rng.integers(0, k, size=n)}
    if weighted:
        kwargs["weight"] = rng.random(k) + 0.1
    report = check_gradients(cross_entropy_forward, cross_entropy_backward,
                             {"logits": rng.standard_normal((n, k)) * 3}, kwargs)
    assert report.passed, str(report)


def test_loss_is_a_zero_d_array_of_the_logits_dtype(rng):
    for dtype in (np.float32, np.float64):
        loss, cache = cross_entropy_forward(rng.standard_normal((3, 4)).astype(dtype),
                                            np.array([0, 1, 3]))
        assert isinstance(loss, np.ndarray) and loss.shape == () and loss.dtype == dtype
        assert cross_entropy_backward(cache).dtype == dtype
        assert isinstance(float(loss), float)


def test_uniform_logits_give_log_k(rng):
    loss, _ = cross_entropy_forward(np.zeros((5, 10)), rng.integers(0, 10, size=5))
    assert float(loss) == pytest.approx(np.log(10))


def torch_cross_entropy(torch, logits, labels, weight):
    """PyTorch's cross_entropy of logits (mean over the batch, optional class weights) and its
    gradient with respect to the logits."""
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(
        t_logits, torch.tensor(labels), weight=None if weight is None else torch.tensor(weight))
    t_loss.backward()
    return t_loss, t_logits.grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_matches_torch(torch_reference, rng, dtype, weighted):
    logits = (rng.standard_normal((64, 10)) * 4).astype(dtype)
    labels = rng.integers(0, 10, size=64)
    weight = (rng.random(10) + 0.2).astype(dtype) if weighted else None
    loss_t, dlogits_t = torch_reference(torch_cross_entropy, logits, labels, weight)
    loss, cache = cross_entropy_forward(logits, labels, weight)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(loss, loss_t, **tol)
    np.testing.assert_allclose(cross_entropy_backward(cache), dlogits_t, **tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite_and_correct(torch_reference, dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype)
    labels = np.array([1, 2, 0])
    loss, cache = cross_entropy_forward(logits, labels)
    dlogits = cross_entropy_backward(cache)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    loss_t, dlogits_t = torch_reference(torch_cross_entropy, logits.astype(np.float64), labels,
                                        None)
    np.testing.assert_allclose(loss, loss_t, rtol=1e-6)      # (2e4 + log 2) / 3
    np.testing.assert_allclose(dlogits, dlogits_t, atol=1e-7)


def test_float_labels_are_rejected(rng):
    with pytest.raises(TypeError, match="labels must be integer class indices, got dtype float"):
        cross_entropy_forward(rng.standard_normal((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="got dtype bool"):
        cross_entropy_forward(rng.standard_normal((2, 3)), np.array([True, False]))


@pytest.mark.parametrize("labels, bad", [([0, 10], 10), ([-1, 2], -1)])
def test_labels_out_of_range_name_the_label_and_k(rng, labels, bad):
    with pytest.raises(ValueError, match=rf"label {bad} \(at index \d\) is out of range for 10 "
                                         rf"classes: labels must be in \[0, 10\)"):
        cross_entropy_forward(rng.standard_normal((2, 10)), np.array(labels))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_are_rejected(rng, bad):
    logits = rng.standard_normal((3, 4))
    logits[1, 2] = bad
    with pytest.raises(ValueError, match="cross_entropy: logits .* NaN or infinite"):
        cross_entropy_forward(logits, np.array([0, 1, 2]))


def test_shape_errors(rng):
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(3,\)"):
        cross_entropy_forward(rng.standard_normal((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="logits must be 2-d"):
        cross_entropy_forward(rng.standard_normal(4), np.array([0]))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\)"):
        cross_entropy_forward(rng.standard_normal((2, 4)), np.array([0, 1]), np.ones(3))
    with pytest.raises(ValueError, match="batch is empty"):
        cross_entropy_forward(np.zeros((0, 4)), np.zeros(0, np.int64))


def test_weights_summing_to_zero_are_rejected(rng):
    with pytest.raises(ValueError, match="sum to 0"):
        cross_entropy_forward(rng.standard_normal((2, 3)), np.array([0, 0]),
                              np.array([0.0, 1.0, 1.0]))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 6), seed=st.integers(0, 2**16),
       scale=st.floats(0.01, 1e3))
def test_property_loss_nonnegative_and_gradient_rows_sum_to_zero(n, k, seed, scale):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * scale
    loss, cache = cross_entropy_forward(logits, rng.integers(0, k, size=n), rng.random(k) + 0.1)
    dlogits = cross_entropy_backward(cache)
    assert float(loss) >= 0
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-12)
