"""Training skips the images' gradient: the layer that receives them (``input_layer()``)
computes dL/dW and dL/db only, and the weights come out to the last bit as if it had not."""

import numpy as np
import pytest

from minicnn import nn
from minicnn.models import build
from minicnn.train import images_need_no_gradient, train_one_epoch


class Batches:
    """Two fixed batches, a loader as train_one_epoch sees one."""

    def __init__(self, rng, channels=1, size=28):
        self.batches = [(rng.standard_normal((8, channels, size, size)).astype(np.float32),
                         rng.integers(0, 10, 8)) for _ in range(2)]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def full_backward_epoch(model, loader, criterion, optimizer):
    """train_one_epoch's steps, with every layer's input gradient computed."""
    model.train()
    for images, labels in loader:
        optimizer.zero_grad()
        criterion(model(images), labels)
        dx = model.backward(criterion.backward())
        assert dx is not None and dx.shape == images.shape
        optimizer.step()


@pytest.mark.parametrize("name", ["cnn", "lenet5", "resnet20"])
def test_an_epoch_without_the_images_gradient_gives_the_same_weights(rng, name):
    from minicnn import optim
    loader = Batches(rng)
    models = [build(name, rng=np.random.default_rng(7)) for _ in range(2)]
    optimizers = [optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-4) for m in models]
    train_one_epoch(models[0], loader, nn.CrossEntropyLoss(), optimizers[0])
    full_backward_epoch(models[1], loader, nn.CrossEntropyLoss(), optimizers[1])
    ours, reference = models[0].state_dict(), models[1].state_dict()
    for key in reference:
        np.testing.assert_array_equal(ours[key], reference[key], err_msg=key)
    assert models[0].input_layer().input_gradient is True      # restored after the epoch


def test_the_input_layer_skips_dx_only_inside_the_block(rng):
    model = build("lenet5", rng=np.random.default_rng(0))
    images = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    with images_need_no_gradient(model):
        assert model.input_layer().input_gradient is False
        logits = model(images)
        assert model.backward(np.ones_like(logits)) is None
        assert model.features[0].weight.grad.any()
    logits = model(images)
    assert model.backward(np.ones_like(logits)).shape == images.shape


def test_the_flag_is_restored_when_the_epoch_fails(rng):
    model = build("cnn", rng=np.random.default_rng(0))

    class Broken:
        def __iter__(self):
            raise RuntimeError("the loader broke")

        def __len__(self):
            return 1

    with pytest.raises(RuntimeError, match="loader broke"):
        train_one_epoch(model, Broken(), nn.CrossEntropyLoss(), None)
    assert model.input_layer().input_gradient is True


def test_input_layer_is_known_for_chains_only():
    conv = nn.Conv2d(1, 2, 3)
    assert conv.input_layer() is conv
    assert nn.Sequential(conv, nn.ReLU()).input_layer() is conv
    assert nn.Sequential(nn.Sequential(conv), nn.ReLU()).input_layer() is conv
    assert nn.Sequential().input_layer() is None

    class TwoInputs(nn.Module):                      # not a chain: nothing is assumed
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 3)

    assert TwoInputs().input_layer() is None
    with images_need_no_gradient(TwoInputs()):        # and nothing is changed
        pass
    relu_first = nn.Sequential(nn.ReLU(), conv)      # the input layer cannot skip: unchanged
    with images_need_no_gradient(relu_first):
        assert conv.input_gradient is True
