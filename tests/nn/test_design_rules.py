"""The lecture's design rules, checked on a model's first call: BatchNorm must get
num_features channels (error naming both layers), Dropout belongs in the classifier head and
no activation follows the final Linear (DesignRuleWarning)."""

import warnings

import numpy as np
import pytest

from minicnn import nn
from minicnn.nn import DesignRuleWarning


class Block(nn.Module):
    def __init__(self, bn_features):
        super().__init__()
        self.conv_block1 = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, rng=0),
                                         nn.BatchNorm2d(bn_features), nn.ReLU())

    def forward(self, x):
        return self.conv_block1(x)


def test_batchnorm2d_after_conv_with_other_out_channels_names_both_layers():
    model = Block(64)
    with pytest.raises(ValueError) as info:
        model(np.zeros((2, 1, 8, 8), np.float32))
    assert str(info.value) == (
        "BatchNorm2d(64) at conv_block1.1 gets 32 channels from Conv2d(1, 32) at conv_block1.0; "
        "num_features must equal the preceding out_channels")


def test_batchnorm1d_after_linear_with_other_out_features_names_both_layers():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 128, rng=0), nn.BatchNorm1d(256))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(256\) at 2 gets 128 features from "
                                         r"Linear\(16, 128\) at 1; num_features must equal the "
                                         r"preceding out_features"):
        model(np.zeros((2, 1, 4, 4), np.float32))


def test_batchnorm_mismatch_is_caught_after_the_first_call_too():
    model = Block(32)
    model(np.zeros((2, 1, 8, 8), np.float32))
    model.conv_block1[1] = nn.BatchNorm2d(16)
    # replacing a child re-arms the check of the Sequential that holds it
    with pytest.raises(ValueError, match=r"^BatchNorm2d\(16\) at 1 gets 32 channels from "
                                         r"Conv2d\(1, 32\) at 0; num_features must equal the "
                                         r"preceding out_channels$"):
        model(np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"^BatchNorm2d\(16\) got 32 channels; num_features "
                                         r"must equal the out_channels of the preceding layer$"):
        nn.BatchNorm2d(16)(np.zeros((2, 32, 4, 4), np.float32))


def test_dropout_outside_the_classifier_head_warns():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0), nn.Dropout(0.2, rng=0), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=0))
    with pytest.warns(DesignRuleWarning, match=r"Dropout\(p=0.2\) at 1 is outside the classifier "
                                               r"head: the lecture's rule puts Dropout between the "
                                               r"penultimate Linear\(144, 8\) at 3 and the final "
                                               r"Linear\(8, 3\) at 5 only"):
        model(np.zeros((2, 1, 8, 8), np.float32))
    with warnings.catch_warnings():          # checked once: later calls are silent
        warnings.simplefilter("error")
        model(np.zeros((2, 1, 8, 8), np.float32))


def test_the_lecture_cnn_and_the_gap_variant_break_no_rule():
    from minicnn.models import CNN, GAPCNN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model in (CNN(rng=0), GAPCNN(rng=0)):
            logits = model(np.zeros((2, 1, 28, 28), np.float32))
            nn.CrossEntropyLoss()(logits, np.array([0, 1]))


def test_activation_after_the_final_linear_warns_when_fed_to_cross_entropy():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8, rng=0), nn.ReLU(),
                          nn.Linear(8, 3, rng=0), nn.ReLU())
    logits = model(np.ones((2, 1, 4, 4), np.float32))
    with pytest.warns(DesignRuleWarning, match=r"CrossEntropyLoss expects raw logits, but the "
                                               r"output passes through ReLU\(\) at 4 after the "
                                               r"final Linear\(8, 3\) at 3"):
        nn.CrossEntropyLoss()(logits, np.array([0, 2]))


def test_a_layer_that_rejects_its_input_is_named_with_what_fed_it():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0), nn.Flatten(), nn.Linear(100, 3, rng=0))
    with pytest.raises(ValueError, match=r"^at 2: Linear\(100, 3\) expects input \(N, 100\), got "
                                         r"shape \(2, 144\).* \(fed by Flatten\(\) at 1\)$"):
        model(np.zeros((2, 1, 8, 8), np.float32))
