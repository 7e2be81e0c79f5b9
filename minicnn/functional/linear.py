"""Fully connected layer and Flatten, the classifier head's first two steps (lecture, section 5).

    Linear:  out = x W^T + b          x (N, in), W (out, in) as in PyTorch, b (out,)
    Flatten: (N, C, H, W) -> (N, C*H*W), e.g. (N, 64, 7, 7) -> (N, 3136)
"""

from __future__ import annotations

import math

import numpy as np

from minicnn.functional._common import check_array


def _check_linear_args(x, weight, bias):
    check_array(weight, "weight", "linear", ndim=2)
    check_array(x, "x", "linear")
    if x.ndim != 2:
        hint = ""
        if x.ndim > 2:
            flat = math.prod(x.shape[1:])
            hint = (f"; flatten the feature map first (flatten_forward, or nn.Flatten before "
                    f"nn.Linear): {x.shape} -> ({x.shape[0]}, {flat})")
        raise ValueError(f"linear: x must be 2-d (N, in_features), got shape {x.shape}{hint}")
    out_features, in_features = weight.shape
    if x.shape[1] != in_features and weight.shape[0] == x.shape[1]:
        raise ValueError(
            f"linear: weight has shape {weight.shape}, which is CS231n's (in_features, "
            f"out_features) layout for x of shape {x.shape}; here, as in PyTorch, weight is "
            f"(out_features, in_features) and out = x @ weight.T + b: pass weight.T")
    if x.shape[1] != in_features:
        raise ValueError(
            f"linear: input has {x.shape[1]} features (x shape {x.shape}) but weight of shape "
            f"{weight.shape} expects {in_features} (in_features); after a Flatten, in_features "
            f"must be C*H*W of the feature map (64*7*7 = 3136 in the lecture's CNN)")
    if bias is not None:
        check_array(bias, "bias", "linear", ndim=1)
        if bias.shape[0] != out_features:
            raise ValueError(f"linear: bias has shape {bias.shape} but weight of shape "
                             f"{weight.shape} has {out_features} out_features")
    for name, array in (("weight", weight), ("bias", bias)):
        if array is not None and array.dtype != x.dtype:
            raise TypeError(f"linear: x is {x.dtype} but {name} is {array.dtype}; use one "
                            f"dtype for both (float32 to train, float64 for gradient checks)")


def linear_forward(x, weight, bias):
    """Fully connected (affine) layer.

    out = x W^T + b,   out[n, j] = sum_i x[n, i] * W[j, i] + b[j]

    Parameters
    ----------
    x : (N, in_features), float32 or float64
    weight : (out_features, in_features), same dtype as x (PyTorch's layout)
    bias : (out_features,) or None

    Returns
    -------
    out : (N, out_features), x's dtype
    cache : tuple ``(x, weight, bias)``, the inputs as passed
    """
    _check_linear_args(x, weight, bias)
    # BEGIN SOLUTION
    out = x @ weight.T
    if bias is not None:
        out += bias
    cache = (x, weight, bias)
    # END SOLUTION
    return out, cache


def linear_backward(dout, cache):
    """Gradients of the fully connected layer.

    dx = dout W        (N, in)
    dW = dout^T x      (out, in)
    db = sum_n dout    (out,)

    Parameters
    ----------
    dout : (N, out_features), upstream gradient dL/dout
    cache : tuple ``(x, weight, bias)`` from ``linear_forward``

    Returns
    -------
    dx : (N, in_features)
    dweight : (out_features, in_features)
    dbias : (out_features,), or None when bias is None
    """
    x, weight, bias = cache
    check_array(dout, "dout", "linear_backward", ndim=2)
    if dout.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(f"linear_backward: dout has shape {dout.shape} but the layer's "
                         f"output has shape {(x.shape[0], weight.shape[0])}")
    # BEGIN SOLUTION
    dx = dout @ weight
    dweight = dout.T @ x
    dbias = None if bias is None else np.add.reduce(dout, axis=0)
    # END SOLUTION
    return dx, dweight, dbias


def flatten_forward(x):
    """Flatten every axis after the batch axis (PyTorch's ``nn.Flatten()``).

    (N, d1, d2, ...) -> (N, d1 * d2 * ...), e.g. (N, 64, 7, 7) -> (N, 3136)

    Parameters
    ----------
    x : (N, ...) array with at least 2 dimensions

    Returns
    -------
    out : (N, prod of the other sizes), a view of x when x is contiguous
    cache : tuple ``(x_shape,)``, the input's shape (a tuple of ints)
    """
    check_array(x, "x", "flatten", float_only=False)
    if x.ndim < 2:
        raise ValueError(f"flatten: x must have a batch axis and at least one more, got shape "
                         f"{x.shape}")
    out = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    return out, (x.shape,)


def flatten_backward(dout, cache):
    """Gradient of Flatten: reshape dout back to the input's shape.

    Parameters
    ----------
    dout : (N, prod of the other sizes)
    cache : tuple ``(x_shape,)`` from ``flatten_forward``

    Returns
    -------
    dx : array of shape x_shape
    """
    (x_shape,) = cache
    check_array(dout, "dout", "flatten_backward", float_only=False)
    if dout.size != math.prod(x_shape) or dout.shape[:1] != tuple(x_shape[:1]):
        raise ValueError(f"flatten_backward: dout has shape {dout.shape}, which does not "
                         f"reshape to the input's shape {tuple(x_shape)}")
    return dout.reshape(x_shape)
