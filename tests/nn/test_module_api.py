"""minicnn.nn.Module bookkeeping: registration, state_dict, modes, dtype, init, errors."""

import math
import warnings

import numpy as np
import pytest

from minicnn import nn


def _small(rng=0):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3, rng=rng))


def test_named_parameters_and_buffers_use_pytorch_names():
    model = _small()
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"]
    assert [n for n, _ in model.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "5.weight", "5.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1", "2", "3", "4", "5"]
    assert len(list(model.children())) == 6


def test_sequential_indexing_len_iteration_and_slices():
    model = _small()
    assert len(model) == 6
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                                                 "Flatten", "Linear"]
    head = model[4:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is model[5]
    with pytest.raises(IndexError, match="out of range"):
        model[6]


def test_repr_is_pytorchs_nested_format():
    text = repr(_small())
    assert text.startswith("Sequential(\n  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), "
                           "padding=(1, 1))\n  (1): BatchNorm2d(4, eps=1e-05, momentum=0.1)")
    assert "(5): Linear(in_features=64, out_features=3, bias=True)\n)" in text


def test_default_init_is_pytorchs_uniform_bound_and_batchnorm_identity():
    conv = nn.Conv2d(3, 8, 5, rng=0)
    bound = 1 / math.sqrt(3 * 5 * 5)
    assert conv.weight.data.dtype == np.float32
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound          # fills the interval
    linear = nn.Linear(100, 10, rng=0)
    assert np.abs(linear.weight.data).max() <= 0.1 and np.abs(linear.bias.data).max() <= 0.1
    bn = nn.BatchNorm2d(5)
    assert (bn.weight.data == 1).all() and (bn.bias.data == 0).all()
    assert (bn.running_mean == 0).all() and (bn.running_var == 1).all()
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()


def test_seeding_int_or_generator_reproduces_and_none_is_fresh():
    a, b = nn.Linear(4, 3, rng=7), nn.Linear(4, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    c, d = nn.Linear(4, 3), nn.Linear(4, 3)
    assert not np.array_equal(c.weight.data, d.weight.data)
    with pytest.raises(TypeError, match="rng must be"):
        nn.Linear(4, 3, rng="seed")


def test_backward_accumulates_into_grad_until_zero_grad(rng):
    layer = nn.Linear(4, 3, rng=0, dtype=np.float64)
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal((5, 3))
    layer(x)
    layer.backward(dout)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def test_backward_before_forward_is_a_clear_error():
    layer = nn.Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 2\): backward\(\) was called before "
                                           r"forward\(\)"):
        layer.backward(np.zeros((1, 2, 3, 3), np.float32))
    with pytest.raises(RuntimeError, match="before the loss was computed"):
        nn.CrossEntropyLoss().backward()


def test_train_and_eval_set_every_module():
    model = _small()
    assert model.training and model[1].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_round_trip_and_copies(rng):
    a, b = _small(0), _small(1)
    a.train()
    a(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    state = a.state_dict()
    state["0.weight"][...] = 0          # a copy: the model is unchanged
    assert a[0].weight.data.any()
    b.load_state_dict(a.state_dict())
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=key)
    assert int(b[1].num_batches_tracked) == 1


def test_load_state_dict_strict_lists_missing_unexpected_and_misshaped():
    model = _small()
    state = model.state_dict()
    del state["1.running_var"]
    state["extra.weight"] = np.zeros(3)
    state["5.weight"] = np.zeros((4, 64), np.float32)
    before = model[0].weight.data.copy()
    with pytest.raises(KeyError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "missing keys (1): 1.running_var" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "5.weight has shape (4, 64) in the state but (3, 64) in the model" in message
    np.testing.assert_array_equal(model[0].weight.data, before)     # nothing changed
    state["5.weight"] = np.zeros((3, 64))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["1.running_var"] and unexpected == ["extra.weight"]
    assert model[5].weight.data.dtype == np.float32 and not model[5].weight.data.any()


def test_to_double_and_float_convert_params_grads_and_float_buffers(rng):
    model = _small().double()
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64
               for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    out = model(rng.standard_normal((2, 1, 8, 8)))
    assert out.dtype == np.float64
    model.float()
    assert model(rng.standard_normal((2, 1, 8, 8)).astype(np.float32)).dtype == np.float32


def test_float32_stays_float32_through_forward_and_backward(rng):
    model = _small()
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    out = model(x)
    dx = model.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_adaptive_avg_pool_global_and_other_sizes(rng):
    pool = nn.AdaptiveAvgPool2d(1)
    x = rng.standard_normal((2, 3, 5, 4))
    out = pool(x)
    assert out.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(out[..., 0, 0], x.mean(axis=(2, 3)))
    dx = pool.backward(np.ones_like(out))
    np.testing.assert_allclose(dx, np.full(x.shape, 1 / 20))
    pool = nn.AdaptiveAvgPool2d((2, None))
    assert pool(x).shape == (2, 3, 2, 4) and repr(pool) == "AdaptiveAvgPool2d(output_size=(2, None))"
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: output_size must be an int >= 1"):
        nn.AdaptiveAvgPool2d((0, 2))


def test_layer_input_errors_name_the_layer_and_shapes(rng):
    with pytest.raises(ValueError, match=r"Linear\(64, 3\) expects input \(N, 64\), got shape "
                                         r"\(2, 1, 8, 8\) \(put a Flatten\(\) before it\)"):
        nn.Linear(64, 3)(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\) expects input \(N, C, H, W\)"):
        nn.BatchNorm2d(4)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="Dropout: p is the probability"):
        nn.Dropout(1.5)


def test_dropout_masks_come_from_its_own_generator(rng):
    x = np.ones((4, 50), np.float32)
    a, b = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3)
    np.testing.assert_array_equal(a(x), b(x))
    assert set(np.unique(a(x))) <= {0.0, 2.0}
    a.eval()
    assert a(x) is x
    assert repr(nn.Dropout(0.4)) == "Dropout(p=0.4)"


def test_batchnorm_momentum_none_is_a_cumulative_average(rng):
    bn = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((6, 3)) for _ in range(3)]
    for batch in batches:
        bn(batch)
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], axis=0))
    assert int(bn.num_batches_tracked) == 3


def test_parameter_and_module_errors():
    with pytest.raises(TypeError, match="float array"):
        nn.Parameter(np.zeros(3, np.int64))

    class Forgot(nn.Module):
        def __init__(self):
            self.layer = nn.ReLU()

    with pytest.raises(AttributeError, match="super"):
        Forgot()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Sequential(nn.ReLU())(np.zeros((2, 2), np.float32))   # no design warning
