"""The explorer on the models beyond the lecture's: a hand-saved ResNet-20 (grey) and LeNet-5
on RGB images, each rebuilt from its checkpoint, with prediction, maps and explanations."""

import numpy as np
import pytest

import minicnn
from minicnn.explore.model import ExploredModel
from minicnn.models import LeNet5, resnet20


@pytest.mark.parametrize("make, image_shape", [
    (lambda: resnet20(in_channels=1, rng=0), (28, 28)),
    (lambda: LeNet5(in_channels=3, image_size=32, rng=0), (32, 32, 3)),
], ids=["resnet20-grey", "lenet5-rgb"])
def test_a_hand_saved_model_is_rebuilt_and_explained(tmp_path, make, image_shape):
    model = make()
    path = tmp_path / "model.npz"
    minicnn.save(path, model)
    explored = ExploredModel(path)
    assert explored.model_class == type(model).__name__
    assert explored.image_shape == image_shape
    image = np.random.default_rng(0).integers(0, 255, image_shape, dtype=np.uint8)
    prediction = explored.predict(image)
    x = explored.normalise(image)
    np.testing.assert_allclose(prediction["logits"], model.eval()(x).ravel(), rtol=1e-5,
                               atol=1e-6)
    explanation = explored.explain(image, smoothgrad=1)
    assert set(explanation["maps"]) >= {"saliency", "grad_cam", "occlusion"}
