"""minicnn.summary: the lecture's table, computed (825,162 parameters; Linear 803,072, not the
lecture's 802,048), receptive fields, design-rule checks and errors for a wrong input shape."""

import numpy as np
import pytest

from minicnn import nn, summary
from minicnn.models import CNN, GAPCNN
from minicnn.nn import DesignRuleWarning


@pytest.fixture(scope="module")
def cnn_summary():
    return summary(CNN(rng=0), (1, 28, 28))


def test_cnn_totals_825162_and_linear_803072_are_printed(cnn_summary):
    text = str(cnn_summary)
    assert "Total params: 825,162" in text
    assert "Trainable params: 825,162" in text
    linear_line = next(line for line in text.splitlines() if "Linear(3136, 256)" in line)
    assert "803,072" in linear_line and "802,048" not in text
    assert cnn_summary.total_params == cnn_summary.trainable_params == 825_162
    assert cnn_summary.row("classifier.1").params == 803_072


def test_rows_follow_the_lecture_table(cnn_summary):
    shapes = {row.name: row.output_shape for row in cnn_summary.rows}
    params = {row.name: row.params for row in cnn_summary.rows}
    assert shapes["conv_block1.0"] == (32, 28, 28) and params["conv_block1.0"] == 320
    assert shapes["conv_block1.3"] == (32, 14, 14)
    assert shapes["conv_block2.0"] == (64, 14, 14) and params["conv_block2.0"] == 18_496
    assert shapes["conv_block2.3"] == (64, 7, 7)
    assert shapes["classifier.0"] == (3136,)
    assert shapes["classifier.5"] == (10,) and params["classifier.5"] == 2_570
    # the BatchNorm parameters the lecture's table leaves out: 2 * (32 + 64 + 256)
    assert sum(params[n] for n in ("conv_block1.1", "conv_block2.1", "classifier.2")) == 704
    assert cnn_summary.output_shape == (10,)
    assert "Layer" in str(cnn_summary).splitlines()[2] and "Receptive field" in str(cnn_summary)


def test_receptive_fields_grow_with_kernels_and_pooling_jumps(cnn_summary):
    fields = {row.name: row.receptive_field for row in cnn_summary.rows}
    assert fields["conv_block1.0"] == (3, 3)       # one 3x3 conv
    assert fields["conv_block1.3"] == (4, 4)       # + (2 - 1) * 1, jump becomes 2
    assert fields["conv_block2.0"] == (8, 8)       # + (3 - 1) * 2
    assert fields["conv_block2.3"] == (10, 10)     # + (2 - 1) * 2, jump 4
    assert fields["classifier.1"] == (28, 28)      # a Linear sees the whole image


def test_input_shape_with_batch_axis_is_accepted_and_the_model_is_left_as_it_was():
    model = CNN(rng=0).train()
    before = model.state_dict()
    result = summary(model, (5, 1, 28, 28))
    assert result.input_shape == (1, 28, 28) and result.total_params == 825_162
    assert model.training and all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_wrong_input_shape_names_the_layer_where_it_breaks_and_the_shapes():
    with pytest.raises(ValueError) as info:
        summary(CNN(rng=0), (1, 32, 32))
    message = str(info.value)
    assert message.startswith("summary(CNN, input_shape=(1, 32, 32)) fails at classifier.1: "
                              "Linear(3136, 256) expects input (N, 3136), got shape (2, 4096)")
    assert "conv_block2.3 -> (64, 8, 8), classifier.0 -> 4,096" in message
    with pytest.raises(ValueError, match=r"at conv_block1.0: Conv2d\(1, 32\) expects input "
                                         r"\(N, 1, H, W\), got shape \(2, 3, 28, 28\)"):
        summary(CNN(rng=0), (3, 28, 28))
    with pytest.raises(ValueError, match="input_shape must be positive ints"):
        summary(CNN(rng=0), (1, 0, 28))


def test_summary_reports_batchnorm_mismatch_naming_both_layers():
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU())
    with pytest.raises(ValueError, match=r"BatchNorm2d\(64\) at 1 gets 32 channels from "
                                         r"Conv2d\(1, 32\) at 0; num_features must equal the "
                                         r"preceding out_channels"):
        summary(model, (1, 8, 8))


def test_summary_warns_about_style_rules():
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 8), nn.ReLU(),
                          nn.Linear(8, 2), nn.ReLU())
    with pytest.warns(DesignRuleWarning) as record:
        result = summary(model, (16,))
    messages = [str(w.message) for w in record]
    assert any("Dropout(p=0.5) at 1 is outside the classifier head" in m for m in messages)
    assert any("ReLU() at 5 after the final Linear(8, 2) at 4" in m for m in messages)
    assert "Warning: Dropout(p=0.5) at 1" in str(result)
    assert result.rows[0].receptive_field is None


def test_gap_variant_summary():
    result = summary(GAPCNN(rng=0), (1, 28, 28))
    assert result.total_params == sum(p.size for p in GAPCNN(rng=0).parameters())
    assert result.row("classifier.0").output_shape == (128, 1, 1)


def test_adaptive_pooling_to_a_larger_size_counts_as_a_pool():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.AdaptiveAvgPool2d(7),
                          nn.Conv2d(4, 4, 3, rng=0), nn.AdaptiveAvgPool2d((2, 3)),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2, rng=0))
    result = summary(model, (1, 28, 28))
    fields = [row.receptive_field for row in result.rows]
    assert [row.output_shape for row in result.rows[1:5]] == [(4, 7, 7), (4, 5, 5), (4, 2, 3),
                                                             (4, 1, 1)]
    assert fields[:3] == [(3, 3), (6, 6), (14, 14)]   # 28 -> 7 is a 4x4 pool: 3 + 3, 6 + 2*4
    # 5 -> 2 and 5 -> 3 do not tile: the longest window (3) at stride ceil(5/2) = 3, 2: an
    # upper bound, 14 + 2*4 = 22 along both axes
    assert fields[3] == (22, 22)
    assert fields[4:] == [(28, 28)] * 3
