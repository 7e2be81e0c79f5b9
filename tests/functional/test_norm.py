"""batch_norm_forward / batch_norm_backward: gradients, PyTorch agreement, running statistics,
errors in the lecture's words."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.norm import batch_norm_backward, batch_norm_forward
from minicnn.gradcheck import check_gradients

SHAPES = [(5, 4), (1, 3, 4, 5), (3, 4, 5, 3), (2, 3, 1, 7), (4, 2, 6)]


def _params(rng, channels, dtype=np.float64):
    return (rng.standard_normal(channels).astype(dtype),
            rng.standard_normal(channels).astype(dtype),
            (rng.standard_normal(channels) * 0.1).astype(dtype),
            (rng.random(channels) + 0.5).astype(dtype))


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_gradients_match_finite_differences(rng, shape, training):
    weight, bias, running_mean, running_var = _params(rng, shape[1])
    report = check_gradients(
        batch_norm_forward, batch_norm_backward,
        {"x": rng.standard_normal(shape) * 1.5 + 0.3, "weight": weight, "bias": bias},
        {"running_mean": running_mean, "running_var": running_var, "training": training})
    assert report.passed, str(report)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 4)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_gradient_without_affine_parameters(rng, shape, training):
    def backward(dout, cache):
        dx, dweight, dbias = batch_norm_backward(dout, cache)
        assert dweight is None and dbias is None
        return dx

    report = check_gradients(
        batch_norm_forward, backward, {"x": rng.standard_normal(shape)},
        {"weight": None, "bias": None, "running_mean": np.zeros(shape[1]),
         "running_var": np.ones(shape[1]), "training": training})
    assert report.passed, str(report)


def test_weight_without_bias_gives_dbias_none(rng):
    x = rng.standard_normal((4, 3))
    out, cache = batch_norm_forward(x, np.ones(3), None, None, None, training=True)
    dx, dweight, dbias = batch_norm_backward(rng.standard_normal(x.shape), cache)
    assert dweight.shape == (3,) and dbias is None


def test_backward_accepts_a_cache_built_by_hand_from_the_documented_layout(rng):
    x = rng.standard_normal((4, 3, 2, 5))
    weight, bias, running_mean, running_var = _params(rng, 3)
    dout = rng.standard_normal(x.shape)
    _, cache = batch_norm_forward(x, weight, bias, running_mean, running_var, training=True)
    mean = x.mean(axis=(0, 2, 3))
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3)) + 1e-5)
    by_hand = (x, mean, inv_std, weight, bias, True)
    for got, expected in zip(batch_norm_backward(dout, by_hand), batch_norm_backward(dout, cache)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # and the closed form itself, written out with NumPy broadcasting
    xhat = (x - mean[:, None, None]) * inv_std[:, None, None]
    m = x.size // 3
    axes = (0, 2, 3)
    expected_dx = (weight * inv_std)[:, None, None] / m * (
        m * dout - dout.sum(axes)[:, None, None]
        - xhat * (dout * xhat).sum(axes)[:, None, None])
    dx, dweight, dbias = batch_norm_backward(dout, by_hand)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dweight, (dout * xhat).sum(axes), rtol=1e-10)
    np.testing.assert_allclose(dbias, dout.sum(axes), rtol=1e-10)


# --------------------------------------------------------------------------- semantics


def test_running_statistics_use_momentum_and_unbiased_variance(rng):
    x = rng.standard_normal((4, 3, 2, 2)) * 2 + 1
    running_mean = np.full(3, 0.5)
    running_var = np.full(3, 2.0)
    batch_norm_forward(x, None, None, running_mean, running_var, training=True, momentum=0.3)
    m = 4 * 2 * 2
    np.testing.assert_allclose(running_mean, 0.7 * 0.5 + 0.3 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(running_var,
                               0.7 * 2.0 + 0.3 * x.var(axis=(0, 2, 3)) * m / (m - 1))


def test_training_normalises_with_the_biased_batch_variance(rng):
    x = rng.standard_normal((7, 2, 3, 3)) * 3 - 2
    out, _ = batch_norm_forward(x, None, None, None, None, training=True, eps=1e-5)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)


def test_eval_uses_running_statistics_and_leaves_them_alone(rng):
    x = rng.standard_normal((1, 3, 4, 4))          # a single image is fine in evaluation
    weight, bias, running_mean, running_var = _params(rng, 3)
    before = running_mean.copy(), running_var.copy()
    out, _ = batch_norm_forward(x, weight, bias, running_mean, running_var, training=False)
    expected = ((x - running_mean[:, None, None]) / np.sqrt(running_var[:, None, None] + 1e-5)
                * weight[:, None, None] + bias[:, None, None])
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(running_mean, before[0])
    np.testing.assert_array_equal(running_var, before[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(rng, dtype):
    x = rng.standard_normal((4, 3, 5, 5)).astype(dtype)
    weight, bias, running_mean, running_var = _params(rng, 3, dtype)
    out, cache = batch_norm_forward(x, weight, bias, running_mean, running_var, training=True)
    dx, dweight, dbias = batch_norm_backward(rng.standard_normal(x.shape).astype(dtype), cache)
    assert out.dtype == dx.dtype == dweight.dtype == dbias.dtype == dtype
    assert running_mean.dtype == running_var.dtype == dtype
    assert cache[1].dtype == cache[2].dtype == dtype


def test_non_contiguous_input(rng):
    x = rng.standard_normal((5, 4, 3, 2)).transpose(0, 1, 3, 2)
    out, cache = batch_norm_forward(x, None, None, None, None, training=True)
    expected, _ = batch_norm_forward(np.ascontiguousarray(x), None, None, None, None, True)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    dout = rng.standard_normal(x.shape)
    dx, _, _ = batch_norm_backward(dout, cache)
    assert dx.shape == x.shape


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), channels=st.integers(1, 4), h=st.integers(1, 4),
       w=st.integers(1, 4), seed=st.integers(0, 2**16), scale=st.floats(0.1, 100.0))
def test_property_training_output_is_standardised_and_dx_is_centred(n, channels, h, w, seed,
                                                                    scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, h, w)) * scale + 3.0
    out, cache = batch_norm_forward(x, None, None, None, None, training=True, eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-8)
    variance = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), variance / (variance + 1e-12),
                               rtol=1e-6)
    # dx is orthogonal to the directions BatchNorm removes: a shift and a scale per channel
    dout = rng.standard_normal(x.shape)
    dx, _, _ = batch_norm_backward(dout, cache)
    size = np.abs(dout).sum(axis=(0, 2, 3)) * cache[2]       # the scale of dx's terms
    assert np.all(np.abs(dx.sum(axis=(0, 2, 3))) <= 1e-8 * size)
    assert np.all(np.abs((dx * out).sum(axis=(0, 2, 3))) <= 1e-8 * size)


# --------------------------------------------------------------------------- PyTorch


def torch_batch_norm_steps(torch, weight, bias, running_mean, running_var, xs, douts,
                           trainings, momentum):
    """PyTorch's batch_norm over a sequence of steps that share the running statistics: per
    step the output, the running statistics after it, dx, dweight and dbias (stacked)."""
    F = torch.nn.functional
    t_weight = torch.tensor(weight, requires_grad=True)
    t_bias = torch.tensor(bias, requires_grad=True)
    t_mean, t_var = torch.tensor(running_mean), torch.tensor(running_var)
    steps = {name: [] for name in ("out", "running_mean", "running_var", "dx", "dweight",
                                   "dbias")}
    for x, dout, training in zip(xs, douts, trainings):
        t_x = torch.tensor(x, requires_grad=True)
        t_out = F.batch_norm(t_x, t_mean, t_var, t_weight, t_bias, training, momentum=momentum)
        t_out.backward(torch.tensor(dout))
        for name, tensor in (("out", t_out), ("running_mean", t_mean), ("running_var", t_var),
                             ("dx", t_x.grad), ("dweight", t_weight.grad),
                             ("dbias", t_bias.grad)):
            steps[name].append(tensor.detach().clone())
        t_weight.grad = t_bias.grad = None
    return {name: torch.stack(tensors) for name, tensors in steps.items()}


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(8, 5), (6, 4, 5, 7)], ids=["1d", "2d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_over_several_steps_then_eval(torch_reference, rng, shape, dtype):
    channels = shape[1]
    weight, bias, running_mean, running_var = _params(rng, channels, dtype)
    trainings = [True, True, True, False]
    xs, douts = [], []
    for step in range(len(trainings)):
        xs.append((rng.standard_normal(shape) * (step + 1) + step).astype(dtype))
        douts.append(rng.standard_normal(shape).astype(dtype))
    expected = torch_reference(torch_batch_norm_steps, weight, bias, running_mean, running_var,
                               xs, douts, trainings, momentum=0.2)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for step, (x, dout, training) in enumerate(zip(xs, douts, trainings)):
        out, cache = batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                                        momentum=0.2)
        dx, dweight, dbias = batch_norm_backward(dout, cache)
        for name, got in (("out", out), ("running_mean", running_mean),
                          ("running_var", running_var), ("dx", dx), ("dweight", dweight),
                          ("dbias", dbias)):
            np.testing.assert_allclose(got, expected[name][step], **tol,
                                       err_msg=f"{name}, step {step}")


# every 7th row and column of each map: BatchNorm is one affine map per channel, so these
# entries (every image, every channel) see every statistic, in 1/49 of the recording's size
SAMPLED = (slice(None), slice(None), slice(None, None, 7), slice(None, None, 7))


def torch_batch_norm_training(torch, x):
    """PyTorch's training-mode batch_norm of x (no affine parameters), at the SAMPLED entries,
    and its running variance after the step, from running statistics (0, 1)."""
    channels = x.shape[1]
    t_mean, t_var = torch.zeros(channels), torch.ones(channels)
    out = torch.nn.functional.batch_norm(torch.from_numpy(x), t_mean, t_var, training=True)
    return out[SAMPLED], t_var


@pytest.mark.torch
def test_matches_torch_at_the_lecture_shape_in_float32(torch_reference, rng):
    x = (rng.standard_normal((16, 32, 28, 28)) * 4 + 10).astype(np.float32)
    running_mean, running_var = np.zeros(32, np.float32), np.ones(32, np.float32)
    out, _ = batch_norm_forward(x, None, None, running_mean, running_var, training=True)
    expected, expected_running_var = torch_reference(torch_batch_norm_training, x)
    np.testing.assert_allclose(out[SAMPLED], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(running_var, expected_running_var, rtol=1e-5)


# --------------------------------------------------------------------------- errors


def test_channel_mismatch_names_conv2d_rule(rng):
    x = rng.standard_normal((2, 32, 4, 4))
    with pytest.raises(ValueError, match=r"weight has 64 features but the input has 32 "
                                         r"channels.*BatchNorm2d\(C\) must get the "
                                         r"out_channels of the preceding Conv2d"):
        batch_norm_forward(x, np.ones(64), np.zeros(64), np.zeros(64), np.ones(64), True)


def test_feature_mismatch_names_linear_rule(rng):
    x = rng.standard_normal((4, 128))
    with pytest.raises(ValueError, match=r"running_mean has 256 features but the input has "
                                         r"128 features.*BatchNorm1d\(F\).*Linear"):
        batch_norm_forward(x, None, None, np.zeros(256), np.ones(256), True)


@pytest.mark.parametrize("shape", [(1, 7), (1, 3, 1, 1)], ids=str)
def test_training_with_one_value_per_channel_is_rejected(rng, shape):
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        batch_norm_forward(rng.standard_normal(shape), None, None, None, None, training=True)


def test_eval_without_running_statistics_is_rejected(rng):
    with pytest.raises(ValueError, match="running_mean and running_var are None"):
        batch_norm_forward(rng.standard_normal((3, 2)), None, None, None, None, training=False)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"momentum": 1.5}, ValueError, "momentum must be a number in"),
    ({"eps": 0.0}, ValueError, "eps must be a positive number"),
    ({"training": "yes"}, TypeError, "training must be True or False"),
])
def test_bad_arguments(rng, kwargs, error, message):
    args = dict(x=rng.standard_normal((3, 2)), weight=None, bias=None,
                running_mean=np.zeros(2), running_var=np.ones(2), training=True)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        batch_norm_forward(**args)


def test_input_rank_is_checked(rng):
    with pytest.raises(ValueError, match="batch_norm: x must be"):
        batch_norm_forward(rng.standard_normal(5), None, None, None, None, True)


def test_backward_rejects_dout_of_the_wrong_shape(rng):
    _, cache = batch_norm_forward(rng.standard_normal((3, 2)), None, None, None, None, True)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3\)"):
        batch_norm_backward(rng.standard_normal((2, 3)), cache)
