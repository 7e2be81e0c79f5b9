"""Batch normalisation: one core for BatchNorm1d (N, F) and BatchNorm2d (N, C, H, W).

For a feature map Z (N, C, H, W) and each channel c (lecture, section 6):

    mu_c      = 1/(NHW) sum_{n,i,j} Z[n,c,i,j]
    sigma_c^2 = 1/(NHW) sum_{n,i,j} (Z[n,c,i,j] - mu_c)^2           (biased: divide by m = NHW)
    Z_hat     = (Z - mu_c) / sqrt(sigma_c^2 + eps)
    Z_tilde   = gamma_c * Z_hat + beta_c

BatchNorm1d is the same with H = W = 1: statistics over the batch only. Both reduce over
every axis except axis 1, the channels. Training runs fused Numba loops with the same contract
(minicnn/fast/norm.py), tested against the functions here.
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.functional._common import check_array

_FUNC = "batch_norm"


def _layer_hint(x: np.ndarray) -> tuple[str, str]:
    """What axis 1 is called and the lecture's rule for where num_features comes from."""
    if x.ndim == 4:
        return "channels", "BatchNorm2d(C) must get the out_channels of the preceding Conv2d"
    if x.ndim == 2:
        return "features", "BatchNorm1d(F) must get the out_features of the preceding Linear"
    return "channels", "BatchNorm1d(C) must get the size of the input's dimension 1"


def _check_per_channel(array, name: str, x: np.ndarray) -> None:
    if array is None:
        return
    check_array(array, name, _FUNC, ndim=1)
    channels = x.shape[1]
    if array.shape[0] != channels:
        noun, rule = _layer_hint(x)
        raise ValueError(f"{_FUNC}: {name} has {array.shape[0]} features but the input has "
                         f"{channels} {noun} (input shape {x.shape}); {rule}")


def check_batch_norm_args(x, weight, bias, running_mean, running_var, training, momentum, eps):
    """Check batch_norm_forward's arguments; raise naming the layer and the lecture's rule."""
    check_array(x, "x", _FUNC, ndim=(2, 3, 4))
    for name, array in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                        ("running_var", running_var)):
        _check_per_channel(array, name, x)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{_FUNC}: training must be True or False, got {training!r}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{_FUNC}: pass both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(f"{_FUNC}: evaluation mode (training=False) normalises with the "
                         f"running statistics, but running_mean and running_var are None")
    if training and running_mean is not None:
        for name, array in (("running_mean", running_mean), ("running_var", running_var)):
            if not array.flags.writeable:
                raise ValueError(f"{_FUNC}: {name} is read-only, but training updates it in "
                                 f"place")
    if (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)
            or not 0.0 <= momentum <= 1.0):
        raise ValueError(f"{_FUNC}: momentum must be a number in [0, 1], got {momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"{_FUNC}: eps must be a positive number, got {eps!r}")
    values_per_channel = x.size // x.shape[1] if x.shape[1] else 0
    if training and values_per_channel < 2:
        raise ValueError(f"{_FUNC}: expected more than 1 value per channel when training, got "
                         f"input of shape {x.shape} (N*H*W = {values_per_channel}); the batch "
                         f"variance of a single value is 0. Use a batch of 2 or more, or "
                         f"evaluation mode (model.eval())")


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum=0.1,
                       eps=1e-5):
    """Batch normalisation over every axis except the channel axis 1.

    mu_c = mean of x[:, c] over (N, H, W),  sigma_c^2 = biased variance (divide by m = N*H*W)
    x_hat = (x - mu_c) / sqrt(sigma_c^2 + eps),  out = gamma_c * x_hat + beta_c

    Training (``training=True``): normalise with the batch's mu_c and sigma_c^2, and update the
    running statistics IN PLACE, as PyTorch does (with the unbiased variance, m / (m - 1)):

        running_mean = (1 - momentum) * running_mean + momentum * mu_c
        running_var  = (1 - momentum) * running_var  + momentum * sigma_c^2 * m / (m - 1)

    Evaluation (``training=False``): normalise with running_mean and running_var instead (no
    batch statistics, nothing updated), so out is an affine function of x.

    Parameters
    ----------
    x : (N, C) for BatchNorm1d or (N, C, H, W) for BatchNorm2d ((N, C, L) works too),
        float32 or float64
    weight, bias : (C,) gamma and beta, or None (``affine=False``: gamma = 1, beta = 0)
    running_mean, running_var : (C,) running statistics, updated in place when training; may
        both be None when training (nothing to update), never in evaluation
    training : bool
    momentum : float in [0, 1], weight of the new batch in the running statistics
    eps : float > 0, added to the variance for numerical stability

    Returns
    -------
    out : same shape and dtype as x
    cache : tuple ``(x, mean, inv_std, weight, bias, training)``
        x       -- the input, unchanged
        mean    -- (C,) array, x's dtype: the mu_c used to normalise (batch or running)
        inv_std -- (C,) array, x's dtype: 1 / sqrt(sigma_c^2 + eps) (batch or running variance)
        weight, bias -- as passed (arrays or None)
        training -- bool: whether mean and inv_std depend on x (the batch statistics)
        so that x_hat = (x - mean) * inv_std, with mean and inv_std broadcast along axis 1.

    Raises
    ------
    ValueError
        when weight, bias or a running statistic does not have C entries, or when training
        with a single value per channel (N*H*W == 1).
    """
    check_batch_norm_args(x, weight, bias, running_mean, running_var, training, momentum, eps)
    # BEGIN SOLUTION
    channels = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))               # every axis but the channels
    per_channel = (1, channels) + (1,) * (x.ndim - 2)   # a (C,) array, broadcast along axis 1
    if training:
        mean = x.mean(axis=axes, dtype=np.float64)      # mu_c
        var = x.var(axis=axes, dtype=np.float64)        # sigma_c^2, biased: 1/m
        if running_mean is not None:
            m = x.size // channels                      # N*H*W values per channel
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            # the running estimate takes the unbiased variance, 1/(m - 1)
            running_var[...] = (1 - momentum) * running_var + momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var.astype(np.float64) + eps)       # 1 / sqrt(sigma_c^2 + eps)
    mean, inv_std = mean.astype(x.dtype), inv_std.astype(x.dtype)
    out = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)     # x_hat
    if weight is not None:
        out = out * weight.reshape(per_channel)         # gamma_c * x_hat
    if bias is not None:
        out = out + bias.reshape(per_channel)           # ... + beta_c
    cache = (x, mean, inv_std, weight, bias, bool(training))
    # END SOLUTION
    return out, cache


def batch_norm_backward(dout, cache):
    """Gradients of batch normalisation, in the compact closed form.

    With m = N*H*W values per channel and sums over (N, H, W) for each channel c:

        dbeta_c  = sum(dout)
        dgamma_c = sum(dout * x_hat)
        training:   dx = gamma_c * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))
        evaluation: dx = gamma_c * inv_std * dout        (mean and inv_std do not depend on x)

    The training form accounts for x reaching the output through mu_c and sigma_c^2 as well
    as directly; with gamma = 1 when weight is None.

    Parameters
    ----------
    dout : same shape as x, upstream gradient dL/dout
    cache : tuple ``(x, mean, inv_std, weight, bias, training)`` from ``batch_norm_forward``
        (see there; x_hat = (x - mean) * inv_std along axis 1)

    Returns
    -------
    dx : same shape and dtype as x
    dweight : (C,) like weight, or None when weight is None
    dbias : (C,) like bias, or None when bias is None
    """
    x, mean, inv_std, weight, bias, training = cache
    check_array(dout, "dout", "batch_norm_backward")
    if dout.shape != x.shape:
        raise ValueError(f"batch_norm_backward: dout has shape {dout.shape} but the input to "
                         f"batch_norm_forward had shape {x.shape}")
    # BEGIN SOLUTION
    channels = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))               # every axis but the channels
    per_channel = (1, channels) + (1,) * (x.ndim - 2)   # a (C,) array, broadcast along axis 1
    m = x.size // channels                              # N*H*W values per channel
    x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
    sum_dout = dout.sum(axis=axes, dtype=np.float64)                   # dbeta_c
    sum_dout_xhat = (dout * x_hat).sum(axis=axes, dtype=np.float64)    # dgamma_c
    gamma = 1.0 if weight is None else weight.astype(np.float64)
    scale = (gamma * inv_std.astype(np.float64)).reshape(per_channel)  # gamma_c * inv_std_c
    if training:
        dx = scale / m * (m * dout - sum_dout.reshape(per_channel)
                          - x_hat * sum_dout_xhat.reshape(per_channel))
    else:
        dx = scale * dout                               # mean and inv_std are constants here
    dx = dx.astype(dout.dtype)
    dweight = None if weight is None else sum_dout_xhat.astype(weight.dtype)
    dbias = None if bias is None else sum_dout.astype(bias.dtype)
    # END SOLUTION
    return dx, dweight, dbias
