"""The explorer's conv arithmetic and receptive fields, on models built for the purpose: the
sum of the products plus the bias is the map's value, the window is the padded input under
the filter, and the receptive field is exactly the set of pixels a unit depends on."""

import numpy as np
import pytest

from minicnn import nn
from minicnn.explore.arithmetic import (ArithmeticRequestError, conv_arithmetic,
                                        receptive_field)
from minicnn.explore.model import MODEL_INPUT, record_layers


def recorded(model, x):
    model.eval()
    with record_layers(model) as records:
        out = model(x)
    return out, list(records)


def strided_model(rng):
    """Overlapping windows, stride 2, padding, a 5x5 kernel without padding, non-square input."""
    return nn.Sequential(
        nn.Conv2d(2, 4, kernel_size=3, stride=2, padding=1, rng=rng, dtype=np.float64),
        nn.BatchNorm2d(4, dtype=np.float64),
        nn.ReLU(),
        nn.AvgPool2d(kernel_size=3, stride=1, padding=1),
        nn.Conv2d(4, 3, kernel_size=5, stride=1, padding=0, rng=rng, dtype=np.float64),
    )


def test_sum_of_products_plus_bias_is_the_map_value_at_every_position(rng):
    model = strided_model(rng)
    bn = model[1]
    bn.running_mean[...] = rng.standard_normal(4)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 4)
    x = rng.standard_normal((1, 2, 19, 23))
    _, records = recorded(model, x)
    for name, index in (("0", 0), ("4", 4)):
        out = records[index].output[0]
        for channel in range(out.shape[0]):
            for row in range(out.shape[1]):
                for col in range(out.shape[2]):
                    a = conv_arithmetic(records, name, channel, row, col)
                    assert a["sum"] == pytest.approx(a["value"], rel=1e-10, abs=1e-12)
                    assert a["value"] == out[channel, row, col]


def test_the_window_is_the_padded_input_under_the_filter(rng):
    model = strided_model(rng)
    x = rng.standard_normal((1, 2, 9, 10))
    _, records = recorded(model, x)
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    a = conv_arithmetic(records, "0", channel=1, row=4, col=0)   # bottom-left: padding below
    np.testing.assert_array_equal(a["window"], padded[:, 8:11, 0:3])
    np.testing.assert_array_equal(a["in_padding"], [[True, False, False],   # col -1: padding
                                                    [True, False, False],
                                                    [True, True, True]])    # row 9: padding
    np.testing.assert_array_equal(a["weight"], model[0].weight.data[1])
    assert a["reads_input"]
    assert not conv_arithmetic(records, "4", 0, 0, 0)["reads_input"]


def test_batch_norm_and_relu_that_follow_are_applied_to_the_value(rng):
    model = strided_model(rng)
    bn = model[1]
    bn.running_mean[...] = [0.3, -0.2, 0.1, 0.0]
    bn.running_var[...] = [2.0, 0.5, 1.0, 3.0]
    bn.weight.data[...] = [1.5, -0.7, 1.0, 0.2]
    x = rng.standard_normal((1, 2, 10, 10))
    _, records = recorded(model, x)
    seen_negative = seen_positive = False
    for row, col in np.ndindex(5, 5):
        a = conv_arithmetic(records, "0", 1, row, col)
        batch_norm, relu = a["then"]
        assert (batch_norm["type"], relu["type"]) == ("BatchNorm2d", "ReLU")
        assert batch_norm["input"] == a["value"]
        assert batch_norm["result"] == pytest.approx(batch_norm["value"], rel=1e-10, abs=1e-12)
        assert relu["result"] == max(0.0, batch_norm["value"]) == relu["value"]
        seen_negative |= batch_norm["value"] < 0
        seen_positive |= batch_norm["value"] > 0
    assert seen_negative and seen_positive, "pick an input where ReLU does something"


def input_support(model, x, layer_index, records, row, col):
    """The input pixels with a non-zero gradient of unit (0, row, col) of a layer's output."""
    head = nn.Sequential(*[model[i] for i in range(layer_index + 1)])
    out = head(x)
    dout = np.zeros_like(out)
    dout[0, 0, row, col] = 1.0
    dx = head.backward(dout)
    rows, cols = np.nonzero(np.abs(dx[0]).sum(axis=0))
    return rows.min(), cols.min(), rows.max(), cols.max()


def test_the_receptive_field_is_exactly_the_pixels_the_unit_depends_on():
    """All-positive weights and average pooling: every pixel in the field has a non-zero
    gradient, so the gradient's support is the field (clipped to the image)."""
    model = nn.Sequential(
        nn.Conv2d(1, 1, kernel_size=3, padding=1, dtype=np.float64),
        nn.AvgPool2d(kernel_size=2),
        nn.Conv2d(1, 1, kernel_size=3, stride=2, padding=1, dtype=np.float64),
        nn.ReLU(),
        nn.Conv2d(1, 1, kernel_size=5, padding=2, dtype=np.float64),
    )
    for layer in (model[0], model[2], model[4]):
        layer.weight.data[...] = 1.0
        layer.bias.data[...] = 1.0
    x = np.ones((1, 1, 27, 30))
    _, records = recorded(model, x)
    for index in (0, 2, 4):
        height, width = records[index].output.shape[2:]
        for row, col in ((0, 0), (height // 2, width // 2), (height - 1, width - 1), (1, 2)):
            field = receptive_field(records, index, row, col)
            clipped = (max(field["top"], 0), max(field["left"], 0),
                       min(field["bottom"], 26), min(field["right"], 29))
            assert clipped == input_support(model, x, index, records, row, col), \
                (index, row, col, field)


def test_receptive_field_sizes_follow_the_lecture_formula(explored):
    """1 + sum over the layers of (k - 1) * jump: 3, then 8 after pool + conv (notebook 2)."""
    _, _, records = explored.run(np.zeros((28, 28), dtype=np.uint8))
    names = [r.name for r in records]
    for name, size in (("conv_block1.0", 3), ("conv_block2.0", 8)):
        field = receptive_field(records, names.index(name), 7, 7)
        assert field["size"] == [size, size]
    field = receptive_field(records, names.index("conv_block2.0"), 7, 7)
    # conv_block2.0 reads pooled rows 6..8, the pool reads rows 12..17, conv_block1.0 11..18
    assert (field["top"], field["bottom"], field["left"]) == (11, 18, 11)


class Residual(nn.Module):
    """conv(x) + x: not a chain; the field of the layer after the sum is unknown."""

    def __init__(self, rng):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, rng=rng, dtype=np.float64)
        self.after = nn.Conv2d(1, 2, 3, padding=1, rng=rng, dtype=np.float64)

    def forward(self, x):
        return self.after(self.conv(x) + x)


def test_a_model_that_is_not_a_chain_is_recorded_and_its_arithmetic_still_adds_up(rng):
    model = Residual(rng)
    x = rng.standard_normal((1, 1, 6, 6))
    _, records = recorded(model, x)
    assert [r.name for r in records] == ["conv", "after"]
    assert records[0].source == MODEL_INPUT and records[1].source is None
    a = conv_arithmetic(records, "after", 1, 2, 3)
    assert a["sum"] == pytest.approx(a["value"], rel=1e-10)
    assert a["receptive_field"] is None
    assert conv_arithmetic(records, "conv", 0, 0, 0)["receptive_field"]["size"] == [3, 3]


def test_recording_leaves_the_model_as_it_was(rng):
    model = strided_model(rng)
    x = rng.standard_normal((1, 2, 10, 10))
    model.eval()
    before = model(x)
    _, records = recorded(model, x)
    assert all("forward" not in module.__dict__ for module in model.modules())
    np.testing.assert_array_equal(model(x), before)
    records[0].output[...] = 0                           # copies: the model's arrays untouched
    np.testing.assert_array_equal(model(x), before)


@pytest.mark.parametrize("args, words", [
    (("2", 0, 0, 0), "ReLU"), (("9", 0, 0, 0), "no layer"), (("0", 4, 0, 0), "channel"),
    (("0", 0, 5, 0), "row"), (("0", 0, 0, True), "col"),
])
def test_requests_the_arithmetic_cannot_answer(rng, args, words):
    model = strided_model(rng)
    _, records = recorded(model, rng.standard_normal((1, 2, 9, 9)))
    with pytest.raises(ArithmeticRequestError, match=words):
        conv_arithmetic(records, *args)
