"""LeNet-5, the residual block and the CIFAR ResNets: gradient checks in float64, and agreement
with the PyTorch modules their docstrings describe (state_dict keys and shapes; logits, the
input and parameter gradients and BatchNorm's buffers after a training step; evaluation-mode
logits). PyTorch's side is recorded in tests/torch_recordings/ for machines without torch."""

import numpy as np
import pytest

from minicnn import nn
from minicnn.gradcheck import numerical_gradient, rel_error
from minicnn.interop import from_torch, to_torch
from minicnn.models import MODELS, BasicBlock, LeNet5, ResNet, build, resnet20, resnet32
from support.torch_models import torch_module, torch_resnet


def torch_layout(torch, name, kwargs):
    state = torch_module(torch, name, **kwargs).state_dict()
    return {"keys": list(state), "shapes": [str(tuple(v.shape)) for v in state.values()]}


def sketch(array):
    """A large array in at most 24 numbers, to keep the recordings small: its projections on
    16 fixed random +-1 vectors (any wrong entry moves them) and 8 of its entries."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    signs = np.random.default_rng(flat.size).choice([-1.0, 1.0], size=(16, flat.size))
    picks = np.random.default_rng(flat.size + 1).choice(flat.size, min(8, flat.size), False)
    return np.concatenate([signs @ flat, flat[picks]])


def assert_sketch_close(got, expected, rtol, name):
    got = sketch(got)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max(),
                               err_msg=name)


def torch_training_step(torch, name, kwargs, state, x, dout):
    """One forward + backward in training mode from ``state``, in float64: the logits, dL/dx,
    every parameter gradient, then every buffer (each sketched), and the evaluation-mode
    logits after."""
    module = torch_module(torch, name, **kwargs).double()
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    module.train()
    inputs = torch.tensor(x, requires_grad=True)
    logits = module(inputs)
    logits.backward(torch.tensor(dout))
    result = {"logits": logits.detach(), "dx": inputs.grad}
    result.update({f"grad {k}": sketch(p.grad.numpy()) for k, p in module.named_parameters()})
    result.update({f"state {k}": sketch(v.numpy()) for k, v in module.state_dict().items()})
    with torch.no_grad():
        result["eval logits"] = module.eval()(torch.tensor(x))
    return result


# --------------------------------------------------------------------------- the cases

CASES = [
    pytest.param("lenet5", dict(), (1, 28, 28), id="lenet5-28"),
    pytest.param("lenet5", dict(in_channels=3, image_size=32), (3, 32, 32), id="lenet5-rgb32"),
    pytest.param("resnet20", dict(), (3, 32, 32), id="resnet20-rgb32"),
    pytest.param("resnet20", dict(in_channels=1), (1, 28, 28), id="resnet20-gray28"),
    pytest.param("resnet32", dict(num_classes=7), (3, 16, 16), id="resnet32-7classes"),
]


def ours(name, kwargs, dtype=np.float64, seed=0):
    builders = {"lenet5": LeNet5, "resnet20": resnet20, "resnet32": resnet32}
    return builders[name](rng=seed, dtype=dtype, **kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_state_dict_keys_and_shapes_equal_pytorchs(torch_reference, name, kwargs, shape):
    state = ours(name, kwargs).state_dict()
    theirs = torch_reference(torch_layout, name, kwargs)
    assert list(state) == theirs["keys"].tolist()
    assert [str(v.shape) for v in state.values()] == theirs["shapes"].tolist()


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_a_training_step_equals_pytorchs(torch_reference, rng, name, kwargs, shape):
    model = ours(name, kwargs).train()
    initial = {k: v.copy() for k, v in model.state_dict().items()}
    x = rng.standard_normal((3, *shape))
    logits = model(x)
    dout = rng.standard_normal(logits.shape)
    model.zero_grad()
    dx = model.backward(dout)
    expected = torch_reference(torch_training_step, name, kwargs, initial, x, dout)
    np.testing.assert_allclose(logits, expected["logits"], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dx, expected["dx"], rtol=1e-8, atol=1e-12)
    for key, param in model.named_parameters():
        assert_sketch_close(param.grad, expected[f"grad {key}"], 1e-8, key)
    for key, value in model.state_dict().items():
        assert_sketch_close(value, expected[f"state {key}"], 1e-10, key)
    np.testing.assert_allclose(model.eval()(x), expected["eval logits"], rtol=1e-9,
                               atol=1e-11)


@pytest.mark.torch
def test_pytorch_resnet_weights_load_into_minicnn_with_the_same_logits(torch, rng):
    theirs = torch_resnet(torch, depth=20).double()
    with torch.no_grad():                         # non-trivial running statistics
        theirs.train()
        for _ in range(2):
            theirs(torch.randn(4, 3, 32, 32, dtype=torch.float64))
    theirs.eval()
    model = resnet20(dtype=np.float64)
    model.load_state_dict(from_torch(theirs.state_dict()))
    x = rng.standard_normal((2, 3, 32, 32))
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(model.eval()(x), expected, rtol=1e-9, atol=1e-11)
    back = torch_resnet(torch, depth=20).double()
    back.load_state_dict(to_torch(model), strict=True)


# --------------------------------------------------------------------------- gradient checks

@pytest.mark.parametrize("in_planes, planes, stride", [(4, 4, 1), (3, 5, 1), (4, 6, 2)],
                         ids=["identity", "projection", "projection-stride2"])
def test_basic_block_gradients_match_finite_differences(rng, in_planes, planes, stride):
    block = BasicBlock(in_planes, planes, stride, rng=1, dtype=np.float64).train()
    assert (block.downsample is None) == (stride == 1 and in_planes == planes)
    x = rng.standard_normal((2, in_planes, 6, 5))
    out = block(x)
    dout = rng.standard_normal(out.shape)
    block.zero_grad()
    dx = block.backward(dout)

    numeric_dx = numerical_gradient(lambda: block(x), x, dout)
    assert rel_error(dx, numeric_dx) < 1e-7
    for name, param in block.named_parameters():
        numeric = numerical_gradient(lambda: block(x), param.data, dout)
        assert rel_error(param.grad, numeric) < 1e-7, name


def test_the_shortcut_gradient_is_added_at_the_branch(rng):
    # with the main path's last BatchNorm scaled to zero the block is relu(x): dL/dx must
    # then be exactly the shortcut's share, relu'(x) * dout
    block = BasicBlock(3, 3, rng=0, dtype=np.float64).train()
    block.bn2.weight.data[...] = 0.0
    block.bn2.bias.data[...] = 0.0
    x = rng.standard_normal((2, 3, 4, 4))
    dout = rng.standard_normal(block(x).shape)
    dx = block.backward(dout)
    np.testing.assert_allclose(dx, dout * (x > 0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["lenet5", "resnet20"])
def test_whole_network_input_gradient_matches_finite_differences(rng, name):
    model = build(name, in_channels=1, dtype=np.float64, rng=2).eval()
    x = rng.standard_normal((2, 1, 28, 28))
    dout = rng.standard_normal((2, 10))
    model(x)
    dx = model.backward(dout)
    # forty pixels, central differences of sum(logits * dout): the whole chain of backward
    # passes, branches included, without 3,000 forward passes
    pixels = [tuple(rng.integers(0, s) for s in x.shape) for _ in range(40)]
    numeric, h = [], 1e-6
    for pixel in pixels:
        original = x[pixel]
        x[pixel] = original + h
        plus = np.sum(model(x) * dout)
        x[pixel] = original - h
        minus = np.sum(model(x) * dout)
        x[pixel] = original
        numeric.append((plus - minus) / (2 * h))
    assert rel_error(np.array([dx[p] for p in pixels]), np.array(numeric)) < 1e-7


# --------------------------------------------------------------------------- construction

def test_resnet20_has_the_papers_parameter_count():
    assert sum(p.size for p in resnet20().parameters()) == 272_474
    assert sum(p.size for p in LeNet5().parameters()) == 61_706


def test_resnet_depth_must_be_6n_plus_2():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        ResNet(depth=21)


def test_lenet5_refuses_images_too_small_for_its_second_convolution():
    with pytest.raises(ValueError, match="image_size >= 12"):
        LeNet5(image_size=10)


def test_build_knows_every_model_and_refuses_others():
    for name in MODELS:
        size = 28
        model = build(name, in_channels=1, image_size=size, rng=0)
        assert model(np.zeros((2, 1, size, size), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown model 'vgg16'"):
        build("vgg16")
    with pytest.raises(ValueError, match="28x28"):
        build("cnn", image_size=32)


def test_tanh_and_sigmoid_layers_match_finite_differences(rng):
    for layer in (nn.Tanh(), nn.Sigmoid()):
        x = rng.standard_normal((3, 4)) * 3
        dout = rng.standard_normal((3, 4))
        layer(x)
        dx = layer.backward(dout)
        assert rel_error(dx, numerical_gradient(lambda: layer(x), x, dout)) < 1e-8
