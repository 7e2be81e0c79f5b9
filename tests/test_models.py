"""The lecture's CNN: whole-network gradient check, and agreement with the lecture's PyTorch
class (state_dict keys and shapes, logits, every gradient, BatchNorm buffers over training)."""

import contextlib

import numpy as np
import pytest

from minicnn import nn
from minicnn.gradcheck import rel_error
from minicnn.interop import from_torch, to_torch
from minicnn.models import CNN, GAPCNN


@contextlib.contextmanager
def _single_threaded():
    """Batch-of-2 layers run faster on one thread (BLAS and Numba), much faster on a busy
    machine, where parallel regions wait for their slowest thread."""
    import numba
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield
        else:
            with threadpool_limits(1):
                yield
    finally:
        numba.set_num_threads(threads)


def torch_lecture_cnn(torch, num_classes=10, dropout=0.4):
    """The lecture's PyTorch class (section 7), verbatim."""
    tnn = torch.nn

    class TorchCNN(tnn.Module):
        def __init__(self, num_classes=10, dropout=0.4):
            super().__init__()
            self.conv_block1 = tnn.Sequential(
                tnn.Conv2d(in_channels=1, out_channels=32, kernel_size=3, padding=1),
                tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(kernel_size=2))
            self.conv_block2 = tnn.Sequential(
                tnn.Conv2d(in_channels=32, out_channels=64, kernel_size=3, padding=1),
                tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(kernel_size=2))
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Linear(64 * 7 * 7, 256), tnn.BatchNorm1d(256), tnn.ReLU(),
                tnn.Dropout(dropout), tnn.Linear(256, num_classes))

        def forward(self, x):
            return self.classifier(self.conv_block2(self.conv_block1(x)))

    return TorchCNN(num_classes, dropout)


def test_cnn_has_the_lecture_structure_and_825162_parameters():
    model = CNN(rng=0)
    assert [type(m).__name__ for m in model.classifier] == [
        "Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert model.classifier[4].p == 0.4
    assert sum(p.size for p in model.parameters()) == 825_162
    assert model.classifier[1].weight.size + model.classifier[1].bias.size == 803_072
    out = model(np.zeros((3, 1, 28, 28), np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32


def test_cnn_seed_reproduces_weights_and_dropout_masks():
    a, b = CNN(rng=5), CNN(seed=5)
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=key)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(a(x), b(x))          # training mode: same dropout masks
    assert not np.array_equal(CNN(rng=6).classifier[1].weight.data,
                              a.classifier[1].weight.data)


def test_gap_variant_runs_forward_and_backward(rng):
    model = GAPCNN(rng=0, dropout=0.2)
    x = rng.standard_normal((2, 1, 16, 20)).astype(np.float32)
    out = model(x)
    assert out.shape == (2, 10)
    assert model.backward(np.ones_like(out)).shape == x.shape


def test_whole_cnn_gradient_matches_finite_differences_on_every_parameter(rng):
    """Central differences on 12 random coordinates of every parameter and of the input,
    float64, training-mode BatchNorm (batch 2), dropout off. Measured: max relative error
    (norm over the sampled coordinates) about 1e-8."""
    model = CNN(dropout=0.0, rng=1, dtype=np.float64).train()
    criterion = nn.CrossEntropyLoss()
    x = rng.standard_normal((2, 1, 28, 28))
    labels = np.array([3, 7])
    saved = {name: buffer.copy() for name, buffer in model.named_buffers()}

    def loss():
        value = float(criterion(model(x), labels))
        for name, buffer in model.named_buffers():       # keep the running stats fixed
            buffer[...] = saved[name]
        return value

    h = 1e-6
    with _single_threaded():
        loss()
        model.zero_grad()
        dx = model.backward(criterion.backward())
        arrays = [("input", x, dx)] + [(name, p.data, p.grad)
                                       for name, p in model.named_parameters()]
        errors = {}
        for name, values, analytic in arrays:
            flat = rng.choice(values.size, size=min(12, values.size), replace=False)
            coords = [np.unravel_index(i, values.shape) for i in flat]
            numeric = []
            for index in coords:
                original = values[index]
                values[index] = original + h
                plus = loss()
                values[index] = original - h
                minus = loss()
                values[index] = original
                numeric.append((plus - minus) / (2 * h))
            numeric = np.array(numeric)
            picked = np.array([analytic[index] for index in coords])
            if name in ("conv_block1.0.bias", "conv_block2.0.bias", "classifier.1.bias"):
                # a bias right before BatchNorm is cancelled by the mean subtraction: its true
                # gradient is 0, so compare absolutely (finite differences leave ~1e-10 noise)
                assert np.abs(picked).max() < 1e-12, name
                assert np.abs(numeric).max() < 1e-8, name
                continue
            errors[name] = rel_error(numeric, picked)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, f"{worst}: relative error {errors[worst]:.2e}; all: {errors}"


# --------------------------------------------------------------------------- against PyTorch

@pytest.mark.torch
def test_state_dict_keys_and_shapes_equal_the_lecture_pytorch_class(torch):
    ours, theirs = CNN(rng=0).state_dict(), torch_lecture_cnn(torch).state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert ours[key].shape == tuple(theirs[key].shape), key
        assert ours[key].dtype == theirs[key].numpy().dtype, key


@pytest.mark.torch
def test_logits_equal_after_loading_pytorch_weights(torch, rng):
    theirs = torch_lecture_cnn(torch).double()
    with torch.no_grad():                    # non-trivial running statistics
        theirs.train()
        for _ in range(3):
            theirs(torch.randn(8, 1, 28, 28, dtype=torch.float64))
    theirs.eval()
    ours = CNN(rng=0, dtype=np.float64)
    ours.load_state_dict(from_torch(theirs.state_dict()))
    ours.eval()
    x = rng.standard_normal((4, 1, 28, 28))
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-10, atol=1e-12)
    # and the other way: minicnn's weights in PyTorch give minicnn's logits
    other = CNN(rng=3, dtype=np.float64).eval()
    theirs.load_state_dict(to_torch(other))
    with torch.no_grad():
        np.testing.assert_allclose(other(x), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_training_steps_match_pytorch_gradients_and_batchnorm_buffers(torch, rng):
    """Three training steps in float64 with dropout on (PyTorch's Dropout is given minicnn's
    masks): logits, dL/dx, every parameter gradient and every buffer agree."""
    ours = CNN(rng=0, dtype=np.float64, dropout=0.4).train()
    theirs = torch_lecture_cnn(torch).double().train()
    theirs.load_state_dict(to_torch(ours))
    dropout = ours.classifier[4]

    class SameMask(torch.nn.Module):
        def forward(self, x):
            mask = dropout._cache[0]           # the mask minicnn just drew
            return x * torch.tensor(mask)

    theirs.classifier[4] = SameMask()
    criterion, torch_criterion = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    params_t = dict(theirs.named_parameters())
    with _single_threaded():
        for step in range(3):
            x = rng.standard_normal((4, 1, 28, 28))
            labels = rng.integers(0, 10, size=4)
            ours.zero_grad()
            theirs.zero_grad()
            logits = ours(x)
            x_t = torch.tensor(x, requires_grad=True)
            logits_t = theirs(x_t)
            np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-9, atol=1e-11)
            loss = criterion(logits, labels)
            loss_t = torch_criterion(logits_t, torch.tensor(labels))
            np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-11)
            dx = ours.backward(criterion.backward())
            loss_t.backward()
            np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-8, atol=1e-13)
            for name, param in ours.named_parameters():
                np.testing.assert_allclose(param.grad, params_t[name].grad.numpy(), rtol=1e-8,
                                           atol=1e-13, err_msg=f"{name}, step {step}")
            with torch.no_grad():                   # the same plain SGD step on both
                for name, param in ours.named_parameters():
                    param.data -= 0.1 * param.grad
                    params_t[name] -= 0.1 * params_t[name].grad
    state_t = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, state_t[key].numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    assert int(ours.classifier[2].num_batches_tracked) == 3
