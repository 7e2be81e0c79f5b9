"""The lecture's CNN (section 7), layer for layer, plus a small global-average-pooling variant.

    conv_block1: Conv2d(1, 32, 3, padding=1) -> BatchNorm2d(32) -> ReLU -> MaxPool2d(2)   28 -> 14
    conv_block2: Conv2d(32, 64, 3, padding=1) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)  14 -> 7
    classifier:  Flatten -> Linear(3136, 256) -> BatchNorm1d(256) -> ReLU -> Dropout(0.4)
                 -> Linear(256, 10)                                                  raw logits

825,162 parameters (``minicnn.summary(CNN(), (1, 28, 28))`` prints the table). The attribute
names and ``state_dict`` keys are those of the lecture's PyTorch class, so weights trained in
either framework load into the other (``minicnn.interop``).
"""

from __future__ import annotations

import numpy as np

from minicnn import nn
from minicnn.nn.module import as_generator

__all__ = ["CNN", "GAPCNN"]


def _model_rng(rng, seed, owner):
    if seed is not None:
        if rng is not None:
            raise TypeError(f"{owner}: pass rng or seed, not both")
        rng = seed
    return as_generator(rng, owner)


def _child_rng(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator for a Dropout layer, derived deterministically from ``rng``."""
    return np.random.default_rng(rng.integers(2**63))


def conv_block(in_channels, out_channels, *, conv_method=None, rng=None, dtype=np.float32):
    """Conv2d(3x3, padding=1) -> BatchNorm2d -> ReLU -> MaxPool2d(2): the lecture's block."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, method=conv_method,
                  rng=rng, dtype=dtype),
        nn.BatchNorm2d(out_channels, dtype=dtype),    # must match out_channels above
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),
    )


class _Chain(nn.Module):
    """A model made of named blocks run in order (forward) and in reverse (backward)."""

    _blocks: tuple = ()

    def forward(self, x):
        for name in self._blocks:
            x = getattr(self, name)(x)
        return x

    def backward(self, dout):
        for name in reversed(self._blocks):
            dout = getattr(self, name).backward(dout)
        return dout


class CNN(_Chain):
    """The lecture's CNN for 28x28 images.

    Parameters
    ----------
    num_classes : int, number of logits (default 10)
    dropout : float, the Dropout probability in the classifier head (default 0.4)
    in_channels : int, image channels (default 1, grayscale)
    conv_method : convolution algorithm of both Conv2d (``"naive"``, ``"loop"``, ``"im2col"``
        or None for the default)
    rng : numpy.random.Generator or int seed for the initial weights and the Dropout masks
        (None: fresh, unseeded); ``seed=`` is an alias
    dtype : float32 (default) or float64 (gradient checks)

    Attributes ``conv_block1``, ``conv_block2``, ``classifier`` (each a ``Sequential``).
    """

    _blocks = ("conv_block1", "conv_block2", "classifier")

    def __init__(self, num_classes=10, dropout=0.4, in_channels=1, conv_method=None, rng=None,
                 *, seed=None, dtype=np.float32):
        super().__init__()
        rng = _model_rng(rng, seed, "CNN")
        self.num_classes, self.dropout, self.in_channels = num_classes, dropout, in_channels
        self.conv_block1 = conv_block(in_channels, 32, conv_method=conv_method, rng=rng,
                                      dtype=dtype)        # 28x28 -> 14x14
        self.conv_block2 = conv_block(32, 64, conv_method=conv_method, rng=rng,
                                      dtype=dtype)        # 14x14 -> 7x7
        self.classifier = nn.Sequential(
            nn.Flatten(),                                  # 64 * 7 * 7 = 3136
            nn.Linear(64 * 7 * 7, 256, rng=rng, dtype=dtype),
            nn.BatchNorm1d(256, dtype=dtype),
            nn.ReLU(),
            nn.Dropout(dropout, rng=_child_rng(rng)),
            nn.Linear(256, num_classes, rng=rng, dtype=dtype),   # raw logits
        )


class GAPCNN(_Chain):
    """A small variant: the lecture's two conv blocks, a third (64 -> 128), then global average
    pooling instead of Flatten + a 3136-wide Linear.

    conv_block1 (1->32) -> conv_block2 (32->64) -> conv_block3 (64->128) -> AdaptiveAvgPool2d(1)
    -> Flatten -> Dropout -> Linear(128, num_classes). About 94k parameters, any input size
    of at least 8x8. Same arguments as ``CNN``.
    """

    _blocks = ("conv_block1", "conv_block2", "conv_block3", "classifier")

    def __init__(self, num_classes=10, dropout=0.2, in_channels=1, conv_method=None, rng=None,
                 *, seed=None, dtype=np.float32):
        super().__init__()
        rng = _model_rng(rng, seed, "GAPCNN")
        self.num_classes, self.dropout, self.in_channels = num_classes, dropout, in_channels
        self.conv_block1 = conv_block(in_channels, 32, conv_method=conv_method, rng=rng,
                                      dtype=dtype)
        self.conv_block2 = conv_block(32, 64, conv_method=conv_method, rng=rng, dtype=dtype)
        self.conv_block3 = conv_block(64, 128, conv_method=conv_method, rng=rng, dtype=dtype)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout, rng=_child_rng(rng)),
            nn.Linear(128, num_classes, rng=rng, dtype=dtype),
        )
