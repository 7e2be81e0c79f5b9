"""The sanity check of saliency maps (Adebayo et al., 2018): a map that stays the same when the
model's weights are re-drawn at random explains the image, not the model.

``randomise_weights`` makes the re-drawn model; ``rank_correlation`` (Spearman's rho) says how
alike the two maps are. Both are part of ``minicnn.explain``'s API.
"""

from __future__ import annotations

import copy

import numpy as np

from minicnn import nn
from minicnn.nn.module import as_generator

__all__ = ["rank_correlation", "randomise_weights"]


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation of two maps (flattened): the Pearson correlation of their
    ranks, tied values sharing the mean of their ranks.

    rho = sum_i (r_i - mean r)(s_i - mean s) / sqrt(sum_i (r_i - mean r)^2 sum_i (s_i - mean s)^2)

    1 means the two maps order the pixels the same way, 0 no relation. NaN when either map is
    constant (its ranks do not vary, so no ordering exists to compare).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"rank_correlation: the maps have {a.size} and {b.size} values; they "
                         f"must have the same size")

    def ranks(values):
        _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
        last = np.cumsum(counts)                # 1-based rank of each group's last member
        return ((last - counts + 1 + last) / 2.0)[group.ravel()]

    ra, rb = ranks(a) - (a.size + 1) / 2.0, ranks(b) - (b.size + 1) / 2.0
    denominator = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    return float(np.sum(ra * rb) / denominator) if denominator > 0 else float("nan")


def randomise_weights(model, layers=None, rng=None):
    """A copy of ``model`` with the weights of some layers re-drawn at random (the
    model-parameter randomisation test of Adebayo et al., 2018).

    Each Conv2d and Linear named gets a fresh weight and bias from PyTorch's default
    initialisation, as the layers draw it: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
    C_in * kH * kW (Conv2d) or in_features (Linear). BatchNorm's parameters and running
    statistics are kept, so activations keep their scale. The original model is unchanged.

    Parameters
    ----------
    model : the trained model
    layers : dotted names of the Conv2d / Linear layers to re-draw (e.g. the last ones, for the
        cascading version of the test); None (default) re-draws every one of them
    rng : numpy.random.Generator or int seed (None: fresh, unseeded)

    Returns
    -------
    a new model of the same class
    """
    generator = as_generator(rng, "randomise_weights")
    randomised = copy.deepcopy(model)
    weighted = {name: module for name, module in randomised.named_modules()
                if isinstance(module, (nn.Conv2d, nn.Linear))}
    names = list(weighted) if layers is None else list(layers)
    for name in names:
        if name not in weighted:
            raise ValueError(f"randomise_weights: {name!r} is not a Conv2d or Linear layer of "
                             f"{type(model).__name__}; those are {', '.join(weighted)}")
        module = weighted[name]
        bound = 1.0 / np.sqrt(module.weight.data[0].size)
        for param in (module.weight, module.bias):
            if param is not None:
                param.data[...] = generator.uniform(-bound, bound, param.data.shape)
    return randomised
