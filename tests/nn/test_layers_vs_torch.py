"""Every layer against torch.nn in float64: forward, dL/dx, every parameter gradient, and
BatchNorm's running buffers over training and evaluation steps. PyTorch's side is recorded in
tests/torch_recordings/ for runs without torch (see tests/support/torch_reference.py)."""

from collections import defaultdict

import numpy as np
import pytest

from minicnn import nn

pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-10, atol=1e-12)


def torch_layer_steps(torch, layer, args, kwargs, state, xs, douts, trainings):
    """``torch.nn.<layer>(*args, **kwargs)`` in float64, loaded with ``state`` and run one
    forward/backward step per x, dout and training flag: per step (stacked) its output, dx,
    each parameter's gradient ("grad <name>") and its state_dict after the step
    ("state <key>")."""
    module = getattr(torch.nn, layer)(*args, **kwargs).double()
    module.load_state_dict({key: torch.from_numpy(value.copy()) for key, value in state.items()},
                           strict=True)
    steps = defaultdict(list)
    for x, dout, training in zip(xs, douts, trainings):
        module.train(training)
        module.zero_grad()
        x_t = torch.tensor(x, requires_grad=True)
        out = module(x_t)
        out.backward(torch.tensor(dout))
        steps["out"].append(out.detach().clone())
        steps["dx"].append(x_t.grad)
        for name, param in module.named_parameters():
            steps[f"grad {name}"].append(param.grad.clone())
        for key, value in module.state_dict().items():
            steps[f"state {key}"].append(value.clone())
    return {name: torch.stack(values) for name, values in steps.items()}


def _check(torch_reference, ours, spec, x, rng, steps=1, eval_steps=0):
    """Run ``steps`` training steps, then ``eval_steps`` evaluation steps, through ours and
    through torch.nn's layer ``spec`` = (name, args, kwargs) from ours' starting state, on the
    same inputs (x, then fresh ones from rng), and compare everything step by step."""
    state = {key: value.copy() for key, value in ours.state_dict().items()}
    trainings = [True] * steps + [False] * eval_steps
    xs, douts, ours_steps = [], [], []
    for training in trainings:
        ours.train(training)
        out = ours(x).copy()
        dout = rng.standard_normal(out.shape)
        ours.zero_grad()
        dx = ours.backward(dout).copy()
        ours_steps.append({"out": out, "dx": dx,
                           **{f"grad {name}": param.grad.copy()
                              for name, param in ours.named_parameters()},
                           **{f"state {key}": value.copy()
                              for key, value in ours.state_dict().items()}})
        xs.append(x)
        douts.append(dout)
        x = rng.standard_normal(x.shape)
    expected = torch_reference(torch_layer_steps, *spec, state, xs, douts, trainings)
    assert sorted(expected) == sorted(ours_steps[0]), "the same parameters and buffers"
    for step, ours_step in enumerate(ours_steps):
        for name, value in ours_step.items():
            np.testing.assert_allclose(value, expected[name][step], **TOL,
                                       err_msg=f"{name}, step {step}")


CONV_CASES = [
    dict(in_channels=1, out_channels=4, kernel_size=3, padding=1),
    dict(in_channels=3, out_channels=5, kernel_size=3, stride=2),
    dict(in_channels=2, out_channels=3, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)),
    dict(in_channels=2, out_channels=3, kernel_size=1),
    dict(in_channels=2, out_channels=3, kernel_size=5, padding=2, bias=False),
]


@pytest.mark.parametrize("kwargs", CONV_CASES, ids=str)
@pytest.mark.parametrize("method", ["im2col", "loop"])
def test_conv2d_matches_torch(torch_reference, rng, kwargs, method):
    ours = nn.Conv2d(**kwargs, method=method, rng=0, dtype=np.float64)
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 7))
    _check(torch_reference, ours, ("Conv2d", (), kwargs), x, rng)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch_reference, rng, bias):
    _check(torch_reference, nn.Linear(7, 4, bias=bias, rng=0, dtype=np.float64),
           ("Linear", (7, 4), dict(bias=bias)), rng.standard_normal((5, 7)), rng)


@pytest.mark.parametrize("layer, args, kwargs", [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3,), dict(stride=2, padding=1)),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", (3,), dict(stride=1, padding=1)),
    ("AdaptiveAvgPool2d", (1,), {}), ("AdaptiveAvgPool2d", ((3, None),), {}),
    ("ReLU", (), {}), ("Flatten", (), {}),
], ids=["max2", "max3s2p1", "avg2", "avg3s1p1", "adaptive1", "adaptive3xNone", "relu",
        "flatten"])
def test_parameter_free_layers_match_torch(torch_reference, rng, layer, args, kwargs):
    x = rng.standard_normal((2, 3, 8, 6))
    _check(torch_reference, getattr(nn, layer)(*args, **kwargs), (layer, args, kwargs), x, rng)


@pytest.mark.parametrize("shape", [(6, 5), (4, 5, 3)], ids=["NF", "NCL"])
def test_batchnorm1d_matches_torch_including_running_stats(torch_reference, rng, shape):
    ours = nn.BatchNorm1d(5, dtype=np.float64)
    ours.weight.data[:] = rng.standard_normal(5)
    ours.bias.data[:] = rng.standard_normal(5)
    _check(torch_reference, ours, ("BatchNorm1d", (5,), {}), rng.standard_normal(shape) * 2 + 1,
           rng, steps=4, eval_steps=2)
    assert int(ours.num_batches_tracked) == 4


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm2d_matches_torch_including_running_stats(torch_reference, rng, momentum):
    ours = nn.BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    ours.weight.data[:] = rng.standard_normal(3)
    _check(torch_reference, ours, ("BatchNorm2d", (3,), dict(momentum=momentum)),
           rng.standard_normal((2, 3, 4, 5)) + 3, rng, steps=5, eval_steps=2)
    assert int(ours.num_batches_tracked) == 5


def torch_masked_backward(torch, x, mask, dout):
    """dL/dx of x * mask for upstream dout: what torch's Dropout computes given its mask."""
    x_t = torch.tensor(x, requires_grad=True)
    (x_t * torch.tensor(mask)).backward(torch.tensor(dout))
    return x_t.grad


def test_dropout_matches_torch_given_the_same_mask(torch_reference, rng):
    ours = nn.Dropout(0.3, rng=1)
    x = rng.standard_normal((4, 10))
    out = ours(x)
    mask = np.where(out != 0, 1 / 0.7, 0.0)       # the units ours kept, scaled by 1/(1-p)
    np.testing.assert_allclose(out, x * mask, **TOL)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(ours.backward(dout),
                               torch_reference(torch_masked_backward, x, mask, dout), **TOL)


def torch_cross_entropy_loss(torch, logits, labels, weight):
    """torch.nn.CrossEntropyLoss (optional class weights) of logits and its dL/dlogits."""
    criterion = torch.nn.CrossEntropyLoss(weight=None if weight is None
                                          else torch.tensor(weight))
    logits_t = torch.tensor(logits, requires_grad=True)
    loss = criterion(logits_t, torch.tensor(labels))
    loss.backward()
    return loss, logits_t.grad


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_loss_matches_torch(torch_reference, rng, weighted):
    logits = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    weight = rng.random(4) + 0.1 if weighted else None
    ours = nn.CrossEntropyLoss(weight=weight)
    loss_t, dlogits_t = torch_reference(torch_cross_entropy_loss, logits, labels, weight)
    np.testing.assert_allclose(ours(logits, labels), loss_t, **TOL)
    np.testing.assert_allclose(ours.backward(), dlogits_t, **TOL)
