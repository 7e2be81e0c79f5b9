"""The notebooks' ipywidgets explorers: set the sliders as a student would and check what
they show (the formula, the output's shape, minicnn's own numbers)."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from minicnn.explore.widgets import conv_explorer, layer_view, pool_explorer  # noqa: E402
from minicnn.functional import conv2d_forward, max_pool2d_forward  # noqa: E402


def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (28, 28), dtype=np.uint8)


def test_the_conv_explorer_follows_its_sliders():
    explorer = conv_explorer(image())
    assert explorer.output_shape == (28, 28)                      # k 3, s 1, p 1: "same"
    assert "= <b>28</b>" in explorer.formula.value
    explorer.kernel.value = 5
    explorer.stride.value = 2
    explorer.padding.value = 0
    assert explorer.output_shape == (12, 12)                      # floor((28 - 5) / 2) + 1
    assert "&lfloor;(28 + 2&middot;0 &minus; 5) / 2&rfloor; + 1 = <b>12</b>" in \
        explorer.formula.value
    assert "12 &times; 12 &check;" in explorer.formula.value
    x = image().astype(np.float64)[None, None] / 255
    expected, _ = conv2d_forward(x, explorer.weight[None, None], None, stride=2, padding=0)
    np.testing.assert_allclose(explorer.result, expected[0, 0])
    before = explorer.output.value
    explorer.filter.value = "blur"
    assert explorer.output.value != before
    assert explorer.output.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_kernel_larger_than_the_padded_input_is_explained_not_raised():
    explorer = conv_explorer(np.zeros((4, 4), dtype=np.uint8), kernel=3, padding=0)
    explorer.kernel.value = 7
    assert explorer.result is None and explorer.output_shape is None
    assert "larger than the padded input" in explorer.formula.value


def test_the_pool_explorer_follows_its_sliders():
    explorer = pool_explorer(image())
    assert explorer.output_shape == (14, 14)
    explorer.kernel.value, explorer.stride.value, explorer.padding.value = 3, 2, 1
    assert explorer.output_shape == (14, 14)                      # floor((28 + 2 - 3) / 2) + 1
    x = image().astype(np.float64)[None, None] / 255
    np.testing.assert_allclose(explorer.result, max_pool2d_forward(x, 3, 2, 1)[0][0, 0])
    maximum = explorer.result.copy()
    explorer.mode.value = "average"
    assert np.all(explorer.result <= maximum + 1e-12) and not np.allclose(explorer.result,
                                                                          maximum)


def test_the_layer_view_shows_each_layer_of_the_model(explored, test_images):
    view = layer_view(explored.model, test_images.images[:5], classes=explored.classes,
                      labels=test_images.labels[:5])
    assert list(view.layer.options)[:4] == ["conv_block1.0", "conv_block1.1", "conv_block1.2",
                                            "conv_block1.3"]
    view.layer.value = "conv_block2.3"
    assert "64 &times; 7 &times; 7" in view.shape.value
    view.index.value = 3
    expected = explored.predict(test_images.images[3])
    np.testing.assert_allclose(view.probabilities, expected["probabilities"], rtol=1e-6)
    assert explored.classes[expected["predicted"]] in view.prediction.value
    assert view.layer.value == "conv_block2.3"                    # kept across images
    record = next(r for r in view.records if r.name == "conv_block2.3")
    np.testing.assert_allclose(record.output[0], next(
        layer["output"] for layer in expected["layers"] if layer["name"] == "conv_block2.3"),
        rtol=1e-6)
    assert view.tiled(record.output[0]).shape == (4 * 8 - 1, 16 * 8 - 1)
