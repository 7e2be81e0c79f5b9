"""dropout_forward / dropout_backward: inverted dropout with an explicit Generator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.dropout import dropout_backward, dropout_forward
from minicnn.gradcheck import check_gradients


def test_gradient_with_a_fixed_mask(rng):
    def forward(x):
        return dropout_forward(x, 0.3, True, np.random.default_rng(5))

    report = check_gradients(forward, dropout_backward, {"x": rng.standard_normal((4, 3, 5))})
    assert report.passed, str(report)


def test_kept_units_are_scaled_by_one_over_keep_probability(rng):
    x = rng.standard_normal((50, 40)) + 3.0
    out, (mask,) = dropout_forward(x, 0.25, True, np.random.default_rng(1))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75)
    assert set(np.unique(mask)) == {0.0, 1 / 0.75}
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(dropout_backward(dout, (mask,)), dout * mask)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_statistics(p):
    x = np.ones((200, 500), np.float32)
    out, _ = dropout_forward(x, p, True, np.random.default_rng(2))
    kept_fraction = np.count_nonzero(out) / out.size
    standard_error = np.sqrt(p * (1 - p) / out.size)
    assert abs(kept_fraction - (1 - p)) < 5 * standard_error
    assert abs(out.mean() - 1.0) < 5 * standard_error / (1 - p)     # expectation preserved


def test_evaluation_and_p_zero_are_the_identity_and_use_no_randomness(rng):
    x = rng.standard_normal((3, 4))
    generator = np.random.default_rng(3)
    state = generator.bit_generator.state
    for p, training in [(0.5, False), (0.0, True)]:
        out, cache = dropout_forward(x, p, training, generator)
        assert out is x
        dout = rng.standard_normal(x.shape)
        np.testing.assert_array_equal(dropout_backward(dout, cache), dout)
    assert generator.bit_generator.state == state
    out, _ = dropout_forward(x, 0.5, False, None)     # no Generator needed in evaluation
    assert out is x


def test_p_one_drops_everything_without_dividing_by_zero(rng):
    x = rng.standard_normal((3, 4))
    with np.errstate(all="raise"):
        out, cache = dropout_forward(x, 1.0, True, np.random.default_rng(0))
        dx = dropout_backward(rng.standard_normal(x.shape), cache)
    assert np.all(out == 0) and np.all(dx == 0)


def test_same_seed_same_mask_and_the_generator_advances(rng):
    x = rng.standard_normal((10, 10))
    a, _ = dropout_forward(x, 0.5, True, np.random.default_rng(4))
    b, _ = dropout_forward(x, 0.5, True, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    generator = np.random.default_rng(4)
    first, _ = dropout_forward(x, 0.5, True, generator)
    second, _ = dropout_forward(x, 0.5, True, generator)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(rng, dtype):
    x = rng.standard_normal((4, 5)).astype(dtype)
    out, cache = dropout_forward(x, 0.4, True, np.random.default_rng(0))
    dx = dropout_backward(rng.standard_normal(x.shape).astype(dtype), cache)
    assert out.dtype == dx.dtype == cache[0].dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), True])
def test_p_outside_the_unit_interval_is_rejected(rng, p):
    with pytest.raises(ValueError, match=r"p is the probability .* must be in \[0, 1\]"):
        dropout_forward(rng.standard_normal(3), p, True, np.random.default_rng(0))


@pytest.mark.parametrize("bad_rng", [None, 0, np.random.RandomState(0)])
def test_training_needs_a_generator(rng, bad_rng):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dropout_forward(rng.standard_normal(3), 0.5, True, bad_rng)


def test_backward_rejects_dout_of_the_wrong_shape(rng):
    _, cache = dropout_forward(rng.standard_normal((2, 3)), 0.5, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"dout has shape \(3, 2\)"):
        dropout_backward(rng.standard_normal((3, 2)), cache)


def torch_dropout_statistics(torch, x, p, seed):
    """PyTorch's training-mode dropout of x (generator seeded with seed): its distinct output
    values and the fraction it kept; and its evaluation-mode output."""
    torch.manual_seed(seed)
    trained = torch.nn.functional.dropout(torch.from_numpy(x), p, training=True)
    evaluated = torch.nn.functional.dropout(torch.from_numpy(x), p, training=False)
    return torch.unique(trained), (trained != 0).double().mean(), evaluated


@pytest.mark.torch
def test_scaling_and_statistics_match_torch(torch_reference):
    p = 0.4
    x = np.ones((400, 500), np.float32)
    ours, _ = dropout_forward(x, p, True, np.random.default_rng(0))
    values_t, kept_t, evaluated_t = torch_reference(torch_dropout_statistics, x, p, seed=0)
    np.testing.assert_allclose(np.unique(ours), values_t)                # {0, 1/(1-p)}
    assert abs(np.mean(ours != 0) - kept_t) < 0.005
    np.testing.assert_array_equal(dropout_forward(x, p, False, None)[0], evaluated_t)


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_property_output_is_zero_or_scaled_input(p, seed):
    x = np.random.default_rng(seed).standard_normal((6, 7)) + 10.0     # never 0 itself
    out, (mask,) = dropout_forward(x, p, True, np.random.default_rng(seed))
    scale = 0.0 if p == 1 else 1 / (1 - p)
    assert np.all((out == 0) | np.isclose(out, x * scale))
    if p == 0:
        assert out is x and mask is None
