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
# PyTorch's side is recorded in tests/torch_recordings/ for runs without torch (see
# tests/support/torch_reference.py): its inputs are minicnn's seeded initial weights and seeded data.

def torch_state_dict_layout(torch):
    """The lecture's PyTorch class's state_dict: its keys, and each entry's shape and dtype."""
    state = torch_lecture_cnn(torch).state_dict()
    return {"keys": list(state),
            "shapes": [str(tuple(value.shape)) for value in state.values()],
            "dtypes": [str(value.numpy().dtype) for value in state.values()]}


@pytest.mark.torch
def test_state_dict_keys_and_shapes_equal_the_lecture_pytorch_class(torch_reference):
    ours = CNN(rng=0).state_dict()
    theirs = torch_reference(torch_state_dict_layout)
    assert list(ours) == theirs["keys"].tolist()
    for key, shape, dtype in zip(ours, theirs["shapes"], theirs["dtypes"]):
        assert str(ours[key].shape) == shape, key
        assert str(ours[key].dtype) == dtype, key


def _load_into_torch(torch, module, state):
    module.load_state_dict({key: torch.from_numpy(value.copy()) for key, value in state.items()},
                           strict=True)


def torch_eval_logits(torch, state, x):
    """The lecture's PyTorch class in float64, loaded with ``state``, in evaluation mode: its
    logits for x."""
    theirs = torch_lecture_cnn(torch).double()
    _load_into_torch(torch, theirs, state)
    with torch.no_grad():
        return theirs.eval()(torch.tensor(x))


@pytest.mark.torch
def test_eval_logits_equal_pytorchs_with_the_same_weights_and_running_statistics(
        torch_reference, rng):
    ours = CNN(rng=3, dtype=np.float64)
    for name, buffer in ours.named_buffers():       # non-trivial running statistics
        if name.endswith("running_mean"):
            buffer[...] = rng.standard_normal(buffer.shape) * 0.1
        elif name.endswith("running_var"):
            buffer[...] = rng.random(buffer.shape) + 0.5
        else:
            buffer[...] = 3
    x = rng.standard_normal((4, 1, 28, 28))
    expected = torch_reference(torch_eval_logits, ours.state_dict(), x)
    np.testing.assert_allclose(ours.eval()(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_pytorch_weights_load_into_minicnn_with_the_same_logits(torch, rng):
    """from_torch on the lecture's PyTorch class itself, initialised by PyTorch: this one needs
    live torch (the weights are PyTorch's own), so it is skipped without it."""
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


SKETCH_ABOVE = 1024        # arrays with more entries are compared through their sketch
# R for every sketch (its first rows): random +-1, an input of the recorded PyTorch call
SKETCH_SIGNS = np.random.default_rng(8).choice([-1.0, 1.0], size=(64 * 7 * 7, 8))


def sketch(array, signs=SKETCH_SIGNS):
    """A large array (more than SKETCH_ABOVE entries) as M @ R: M the array as a matrix (its
    first axis by the rest), R the first rows of the random +-1 matrix ``signs`` (8 columns). A
    wrong entry anywhere changes the sketch, and the recording stays small (the first Linear's
    weight gradient has 803,072 entries, its sketch 2,048). Smaller arrays are returned as
    they are."""
    array = np.asarray(array)
    if array.size <= SKETCH_ABOVE:
        return array
    matrix = array.reshape(array.shape[0], -1)
    return matrix @ signs[:matrix.shape[1]]


def torch_training_steps(torch, state, xs, labels, masks, lr, signs):
    """The lecture's PyTorch class in float64, loaded with ``state`` and trained one plain SGD
    step (rate lr) per batch, its Dropout given minicnn's ``masks``: per step (stacked) the
    logits, the loss, dL/dx and each parameter's gradient ("grad <name>"), and the state_dict
    after the last step ("state <key>"); large arrays as their ``sketch`` with ``signs``."""
    theirs = torch_lecture_cnn(torch).double().train()
    _load_into_torch(torch, theirs, state)
    step_masks = iter(masks)

    class SameMask(torch.nn.Module):
        def forward(self, x):
            return x * torch.tensor(next(step_masks))

    theirs.classifier[4] = SameMask()
    criterion = torch.nn.CrossEntropyLoss()
    params = dict(theirs.named_parameters())
    steps = {"logits": [], "loss": [], "dx": [], **{f"grad {name}": [] for name in params}}
    for x, step_labels in zip(xs, labels):
        theirs.zero_grad()
        x_t = torch.tensor(x, requires_grad=True)
        logits = theirs(x_t)
        loss = criterion(logits, torch.tensor(step_labels))
        loss.backward()
        steps["logits"].append(logits.detach().numpy().copy())
        steps["loss"].append(loss.item())
        steps["dx"].append(sketch(x_t.grad.numpy(), signs))
        for name, param in params.items():
            steps[f"grad {name}"].append(sketch(param.grad.numpy(), signs))
        with torch.no_grad():
            for param in params.values():
                param -= lr * param.grad
    outputs = {name: np.stack(values) for name, values in steps.items()}
    for key, value in theirs.state_dict().items():
        outputs[f"state {key}"] = sketch(value.numpy(), signs)
    return outputs


def _assert_close(got, expected, rtol, atol, name):
    """Entries to rtol and atol; sketches to rtol and rtol times their largest entry."""
    if np.size(got) > SKETCH_ABOVE:
        got = sketch(got)
        atol = rtol * np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.torch
def test_training_steps_match_pytorch_gradients_and_batchnorm_buffers(torch_reference, rng):
    """Three training steps in float64 with dropout on (PyTorch's Dropout is given minicnn's
    masks): logits, dL/dx, every parameter gradient and every buffer agree."""
    ours = CNN(rng=0, dtype=np.float64, dropout=0.4).train()
    initial = {key: value.copy() for key, value in ours.state_dict().items()}
    dropout = ours.classifier[4]
    criterion = nn.CrossEntropyLoss()
    xs, labels, masks, ours_steps = [], [], [], []
    with _single_threaded():
        for step in range(3):
            x = rng.standard_normal((4, 1, 28, 28))
            step_labels = rng.integers(0, 10, size=4)
            ours.zero_grad()
            logits = ours(x).copy()
            masks.append(dropout._cache[0].copy())           # the mask minicnn just drew
            loss = float(criterion(logits, step_labels))
            dx = ours.backward(criterion.backward())
            ours_steps.append({"logits": logits, "loss": loss, "dx": dx.copy(),
                               **{f"grad {name}": param.grad.copy()
                                  for name, param in ours.named_parameters()}})
            for param in ours.parameters():                   # the same plain SGD step
                param.data -= 0.1 * param.grad
            xs.append(x)
            labels.append(step_labels)
    expected = torch_reference(torch_training_steps, initial, xs, labels, masks, lr=0.1,
                               signs=SKETCH_SIGNS)
    tolerances = {"logits": (1e-9, 1e-11), "loss": (1e-11, 0.0)}
    for step, ours_step in enumerate(ours_steps):
        for name, value in ours_step.items():
            rtol, atol = tolerances.get(name, (1e-8, 1e-13))
            _assert_close(value, expected[name][step], rtol, atol, f"{name}, step {step}")
    for key, value in ours.state_dict().items():
        _assert_close(value, expected[f"state {key}"], 1e-9, 1e-12, key)
    assert int(ours.classifier[2].num_batches_tracked) == 3
