"""Every layer against torch.nn in float64: forward, dL/dx, every parameter gradient, and
BatchNorm's running buffers after several training steps. Skipped without PyTorch."""

import numpy as np
import pytest

from minicnn import nn
from minicnn.interop import to_torch

pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-10, atol=1e-12)


def _check(torch, ours, theirs, x, rng, steps=1):
    """Run ``steps`` forward/backward passes through both and compare everything."""
    theirs = theirs.double()
    theirs.load_state_dict(to_torch(ours), strict=True)
    for step in range(steps):
        xt = torch.tensor(x, requires_grad=True)
        out = ours(x)
        out_t = theirs(xt)
        np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL,
                                   err_msg=f"forward, step {step}")
        dout = rng.standard_normal(out.shape)
        ours.zero_grad()
        theirs.zero_grad()
        dx = ours.backward(dout)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL, err_msg=f"dx, step {step}")
        torch_params = dict(theirs.named_parameters())
        for name, param in ours.named_parameters():
            np.testing.assert_allclose(param.grad, torch_params[name].grad.numpy(), **TOL,
                                       err_msg=f"d{name}, step {step}")
        x = rng.standard_normal(x.shape)
    torch_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, torch_state[key].numpy(), **TOL, err_msg=key)


CONV_CASES = [
    dict(in_channels=1, out_channels=4, kernel_size=3, padding=1),
    dict(in_channels=3, out_channels=5, kernel_size=3, stride=2),
    dict(in_channels=2, out_channels=3, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)),
    dict(in_channels=2, out_channels=3, kernel_size=1),
    dict(in_channels=2, out_channels=3, kernel_size=5, padding=2, bias=False),
]


@pytest.mark.parametrize("kwargs", CONV_CASES, ids=str)
@pytest.mark.parametrize("method", ["im2col", "loop"])
def test_conv2d_matches_torch(torch, rng, kwargs, method):
    ours = nn.Conv2d(**kwargs, method=method, rng=0, dtype=np.float64)
    theirs = torch.nn.Conv2d(**kwargs)
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 7))
    _check(torch, ours, theirs, x, rng)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, rng, bias):
    _check(torch, nn.Linear(7, 4, bias=bias, rng=0, dtype=np.float64),
           torch.nn.Linear(7, 4, bias=bias), rng.standard_normal((5, 7)), rng)


@pytest.mark.parametrize("make", [
    lambda nn_: nn_.MaxPool2d(2), lambda nn_: nn_.MaxPool2d(3, stride=2, padding=1),
    lambda nn_: nn_.AvgPool2d(2), lambda nn_: nn_.AvgPool2d(3, stride=1, padding=1),
    lambda nn_: nn_.AdaptiveAvgPool2d(1), lambda nn_: nn_.AdaptiveAvgPool2d((3, None)),
    lambda nn_: nn_.ReLU(), lambda nn_: nn_.Flatten(),
], ids=["max2", "max3s2p1", "avg2", "avg3s1p1", "adaptive1", "adaptive3xNone", "relu",
        "flatten"])
def test_parameter_free_layers_match_torch(torch, rng, make):
    x = rng.standard_normal((2, 3, 8, 6))
    _check(torch, make(nn), make(torch.nn), x, rng)


@pytest.mark.parametrize("shape", [(6, 5), (4, 5, 3)], ids=["NF", "NCL"])
def test_batchnorm1d_matches_torch_including_running_stats(torch, rng, shape):
    ours = nn.BatchNorm1d(5, dtype=np.float64)
    ours.weight.data[:] = rng.standard_normal(5)
    ours.bias.data[:] = rng.standard_normal(5)
    theirs = torch.nn.BatchNorm1d(5)
    _check(torch, ours, theirs, rng.standard_normal(shape) * 2 + 1, rng, steps=4)
    assert int(ours.num_batches_tracked) == 4
    ours.eval()
    theirs.eval()
    _check(torch, ours, theirs, rng.standard_normal(shape), rng, steps=2)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm2d_matches_torch_including_running_stats(torch, rng, momentum):
    ours = nn.BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    ours.weight.data[:] = rng.standard_normal(3)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum)
    _check(torch, ours, theirs, rng.standard_normal((2, 3, 4, 5)) + 3, rng, steps=5)
    assert int(ours.num_batches_tracked) == 5
    ours.eval()
    theirs.eval()
    _check(torch, ours, theirs, rng.standard_normal((2, 3, 4, 5)), rng, steps=2)


def test_dropout_matches_torch_given_the_same_mask(torch, rng):
    ours = nn.Dropout(0.3, rng=1)
    x = rng.standard_normal((4, 10))
    out = ours(x)
    mask = out / np.where(x == 0, 1, x)          # 0 or 1/(1-p)
    assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / 0.7, 12)}
    dout = rng.standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.tensor(mask)).backward(torch.tensor(dout))    # what torch's Dropout computes
    np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_loss_matches_torch(torch, rng, weighted):
    logits = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    weight = rng.random(4) + 0.1 if weighted else None
    ours = nn.CrossEntropyLoss(weight=weight)
    theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.tensor(weight))
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = theirs(logits_t, torch.tensor(labels))
    loss_t.backward()
    np.testing.assert_allclose(ours(logits, labels), loss_t.item(), **TOL)
    np.testing.assert_allclose(ours.backward(), logits_t.grad.numpy(), **TOL)
