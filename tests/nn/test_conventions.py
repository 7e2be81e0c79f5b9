"""The CS231n habits that would run silently with another meaning here warn or fail, saying so:
BatchNorm momentum, Dropout p, the Linear weight layout, cross_entropy_forward's return."""

import warnings

import numpy as np
import pytest

from minicnn import functional as F
from minicnn import nn
from minicnn.nn import ConventionWarning


def _no_warning(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return make()


# ----------------------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("layer", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_batch_norm_momentum_in_cs231n_sense_warns_with_the_equivalent(layer):
    with pytest.warns(ConventionWarning) as caught:
        layer(16, momentum=0.9)
    message = str(caught[0].message)
    assert f"{layer.__name__}(16): momentum=0.9 puts 90% of the weight on each NEW batch" \
        in message
    assert "CS231n's momentum=0.9" in message and "is momentum=0.1 here" in message
    assert caught[0].filename == __file__           # points at the line that built the layer


@pytest.mark.parametrize("momentum", [0.1, 0.01, 0.5, None, 0.0])
def test_batch_norm_momentum_of_pytorch_use_does_not_warn(momentum):
    layer = _no_warning(lambda: nn.BatchNorm2d(4, momentum=momentum))
    assert layer.momentum == momentum


def test_batch_norm_momentum_keeps_pytorch_meaning_despite_the_warning():
    with pytest.warns(ConventionWarning):
        layer = nn.BatchNorm1d(3, momentum=0.9)
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    layer(x)
    np.testing.assert_allclose(layer.running_mean, 0.9 * x.mean(axis=0), rtol=1e-5)


# ----------------------------------------------------------------------------- Dropout


def test_dropout_p_as_a_keep_probability_warns_with_the_equivalent():
    with pytest.warns(ConventionWarning) as caught:
        nn.Dropout(0.75)
    message = str(caught[0].message)
    assert "Dropout(p=0.75): p=0.75 ZEROES 75% of the units" in message
    assert "CS231n's p is the probability of keeping" in message and "p=0.25 here" in message
    assert caught[0].filename == __file__


@pytest.mark.parametrize("p", [0.0, 0.1, 0.4, 0.5])
def test_dropout_p_of_pytorch_use_does_not_warn(p):
    assert _no_warning(lambda: nn.Dropout(p)).p == p


# ----------------------------------------------------------------------------- Linear


def test_linear_weight_in_cs231n_layout_is_an_error_that_says_so():
    layer = nn.Linear(6, 4, rng=0)
    layer.weight.data = np.ascontiguousarray(layer.weight.data.T)       # (in, out) = (6, 4)
    with pytest.raises(ValueError, match=r"weight has shape \(6, 4\), expected \(out_features, "
                                         r"in_features\) = \(4, 6\).*CS231n's \(in, out\) "
                                         r"layout.*store W.T"):
        layer(np.zeros((2, 6), np.float32))


def test_linear_weight_of_another_wrong_shape_names_the_expected_one():
    layer = nn.Linear(6, 4, rng=0)
    layer.weight.data = np.zeros((5, 6), np.float32)
    with pytest.raises(ValueError, match=r"weight has shape \(5, 6\), expected") as info:
        layer(np.zeros((2, 6), np.float32))
    assert "CS231n" not in str(info.value)


def test_functional_linear_weight_in_cs231n_layout_is_an_error_that_says_so(rng):
    x = rng.standard_normal((2, 6))
    w_cs231n = rng.standard_normal((6, 4))                 # CS231n: out = x @ w + b
    with pytest.raises(ValueError, match=r"CS231n's \(in_features, out_features\) layout.*"
                                         r"pass weight.T"):
        F.linear_forward(x, w_cs231n, np.zeros(4))
    out, _ = F.linear_forward(x, w_cs231n.T, np.zeros(4))
    np.testing.assert_allclose(out, x @ w_cs231n)


# ----------------------------------------------------------------------------- cross-entropy


def _cs231n_unpacking(rng):
    logits = rng.standard_normal((4, 3))
    loss, dx = F.cross_entropy_forward(logits, np.array([0, 2, 1, 1]))  # CS231n's habit
    return dx


@pytest.mark.parametrize("backward, cache", [
    (F.linear_backward, lambda rng: (rng.standard_normal((4, 5)), rng.standard_normal((3, 5)),
                                     None)),
    (F.relu_backward, lambda rng: (rng.standard_normal((4, 3)),)),
])
def test_cross_entropy_cache_passed_as_a_gradient_names_the_mistake(rng, backward, cache):
    with pytest.raises(TypeError, match=r"dout must be a numpy.ndarray, got tuple holding the "
                                        r"cache of cross_entropy_forward, which returns "
                                        r"\(loss, cache\).*cross_entropy_backward\(cache\)"):
        backward(_cs231n_unpacking(rng), cache(rng))


def test_cross_entropy_cache_passed_to_a_model_backward_names_the_mistake(rng):
    model = nn.Sequential(nn.Linear(5, 3, rng=0, dtype=np.float64))
    model(rng.standard_normal((4, 5)))
    with pytest.raises(TypeError, match="cache of cross_entropy_forward"):
        model.backward(_cs231n_unpacking(rng))


def test_another_tuple_passed_as_a_gradient_gets_the_plain_message(rng):
    with pytest.raises(TypeError) as info:
        F.relu_backward((1, 2, 3), (rng.standard_normal((4, 3)),))
    assert str(info.value) == "relu_backward: dout must be a numpy.ndarray, got tuple"


def test_loading_a_linear_weight_in_cs231n_layout_says_transpose_it(rng):
    layer = nn.Linear(6, 4, rng=0)
    state = {"weight": rng.standard_normal((6, 4)).astype(np.float32),
             "bias": np.zeros(4, np.float32)}
    with pytest.raises(KeyError, match=r"weight has shape \(6, 4\) in the state but \(4, 6\) in "
                                         r"the model \(its transpose: CS231n's \(in, out\) "
                                         r"layout.*store W.T\)"):
        layer.load_state_dict(state)
