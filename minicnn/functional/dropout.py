"""Inverted dropout, as in PyTorch's ``nn.Dropout``.

Training: each unit is kept with probability 1 - p and scaled by 1 / (1 - p), so the expected
output equals the input and evaluation needs no rescaling:

    mask = Bernoulli(1 - p) / (1 - p),   out = x * mask
Evaluation: out = x.
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.functional._common import check_array


def _check_dropout_args(x, p, training, rng):
    check_array(x, "x", "dropout")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is the probability of zeroing a unit and must be in "
                         f"[0, 1], got {p!r}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training must be True or False, got {training!r}")
    if training and p > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout: rng must be a numpy.random.Generator when training with "
                        f"p > 0 (e.g. np.random.default_rng(0)), got {type(rng).__name__}")


def dropout_forward(x, p, training, rng):
    """Inverted dropout.

    training and 0 < p < 1:  keep ~ Bernoulli(1 - p) elementwise (drawn from rng),
                             mask = keep / (1 - p),  out = x * mask
    training and p == 1:     out = 0 (every unit dropped; no division by zero)
    evaluation, or p == 0:   out = x (the same array), and rng is not used

    Parameters
    ----------
    x : array of any shape, float32 or float64
    p : float in [0, 1], the probability of zeroing each unit
    training : bool
    rng : numpy.random.Generator, the only source of randomness (may be None when it is not
        used: in evaluation or when p == 0)

    Returns
    -------
    out : same shape and dtype as x
    cache : tuple ``(mask,)``: mask is the scaled keep mask (x's shape and dtype, entries 0 or
        1 / (1 - p)), or None when dropout was the identity

    Raises
    ------
    ValueError when p is outside [0, 1]; TypeError when rng is needed but is not a Generator.
    """
    _check_dropout_args(x, p, training, rng)
    # BEGIN SOLUTION
    if not training or p == 0:
        return x, (None,)
    if p == 1:
        mask = np.zeros_like(x)
    else:
        keep = rng.random(x.shape, dtype=x.dtype) >= p       # True with probability 1 - p
        mask = np.multiply(keep, x.dtype.type(1.0 / (1.0 - p)), dtype=x.dtype)
    out = x * mask
    cache = (mask,)
    # END SOLUTION
    return out, cache


def dropout_backward(dout, cache):
    """Gradient of inverted dropout: the same mask, applied to the upstream gradient.

    dx = dout * mask      (dx = dout when dropout was the identity, mask None)

    Parameters
    ----------
    dout : same shape as x, upstream gradient dL/dout
    cache : tuple ``(mask,)`` from ``dropout_forward``

    Returns
    -------
    dx : same shape as x
    """
    (mask,) = cache
    check_array(dout, "dout", "dropout_backward")
    if mask is not None and dout.shape != mask.shape:
        raise ValueError(f"dropout_backward: dout has shape {dout.shape} but the input to "
                         f"dropout_forward had shape {mask.shape}")
    # BEGIN SOLUTION
    dx = dout if mask is None else dout * mask
    # END SOLUTION
    return dx
