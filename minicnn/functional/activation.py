"""Activation functions: ReLU, and the tanh and sigmoid of LeNet-5 and the networks before it.

    ReLU(x)    = max(0, x)                  dReLU/dx    = 1 where x > 0, else 0
    tanh(x)    = (e^x - e^-x)/(e^x + e^-x)  dtanh/dx    = 1 - tanh(x)^2
    sigmoid(x) = 1 / (1 + e^-x)             dsigmoid/dx = sigmoid(x) * (1 - sigmoid(x))

Both derivatives of tanh and sigmoid are written with the output, so their caches hold the
output, not the input.

The derivative at exactly 0 is taken to be 0, as in PyTorch. Training runs one-pass Numba
loops with the same contract (minicnn/fast/activation.py), tested against these.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._common import check_array


def relu_forward(x):
    """Rectified linear unit, elementwise.

    ReLU(x) = max(0, x)

    Parameters
    ----------
    x : array of any shape, float32 or float64

    Returns
    -------
    out : array, same shape and dtype as x
    cache : tuple ``(x,)``, the input (the gradient only needs to know where x > 0)
    """
    check_array(x, "x", "relu")
    # BEGIN SOLUTION
    out = np.maximum(x, 0)          # elementwise; x's dtype is kept
    cache = (x,)
    # END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Gradient of ReLU: the upstream gradient passes where the input was positive.

    dL/dx = dL/dout * 1[x > 0]

    Parameters
    ----------
    dout : array, same shape as x, upstream gradient dL/dout
    cache : tuple ``(x,)`` from ``relu_forward``

    Returns
    -------
    dx : array, same shape and dtype as x
    """
    (x,) = cache
    check_array(dout, "dout", "relu_backward")
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout has shape {dout.shape} but the input to "
                         f"relu_forward had shape {x.shape}")
    # BEGIN SOLUTION
    dx = np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)   # 1[x > 0] * dout
    # END SOLUTION
    return dx


def tanh_forward(x):
    """Hyperbolic tangent, elementwise.

    tanh(x) = (e^x - e^-x) / (e^x + e^-x),  in (-1, 1)

    Parameters
    ----------
    x : array of any shape, float32 or float64

    Returns
    -------
    out : array, same shape and dtype as x
    cache : tuple ``(out,)``: the derivative is 1 - tanh(x)^2, a function of the output
    """
    check_array(x, "x", "tanh")
    out = np.tanh(x)
    return out, (out,)


def tanh_backward(dout, cache):
    """Gradient of tanh: dL/dx = dL/dout * (1 - tanh(x)^2).

    Parameters
    ----------
    dout : array, same shape as x, upstream gradient dL/dout
    cache : tuple ``(out,)`` from ``tanh_forward``

    Returns
    -------
    dx : array, same shape and dtype as dout
    """
    (out,) = cache
    _check_same_shape(dout, out, "tanh_backward", "tanh_forward")
    return dout * (1 - out * out)


def sigmoid_forward(x):
    """Logistic sigmoid, elementwise.

    sigmoid(x) = 1 / (1 + e^-x),  in (0, 1)

    Computed with e = e^-|x|, which never overflows (e^-x does for x below about -89 in
    float32): 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, the same function, accurate
    to the last digit at both ends.

    Parameters
    ----------
    x : array of any shape, float32 or float64

    Returns
    -------
    out : array, same shape and dtype as x
    cache : tuple ``(out,)``: the derivative is sigmoid(x) * (1 - sigmoid(x))
    """
    check_array(x, "x", "sigmoid")
    e = np.exp(-np.abs(x))                       # in (0, 1]
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, (out,)


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid: dL/dx = dL/dout * sigmoid(x) * (1 - sigmoid(x)).

    Parameters
    ----------
    dout : array, same shape as x, upstream gradient dL/dout
    cache : tuple ``(out,)`` from ``sigmoid_forward``

    Returns
    -------
    dx : array, same shape and dtype as dout
    """
    (out,) = cache
    _check_same_shape(dout, out, "sigmoid_backward", "sigmoid_forward")
    return dout * out * (1 - out)


def _check_same_shape(dout, out, func, forward):
    check_array(dout, "dout", func)
    if dout.shape != out.shape:
        raise ValueError(f"{func}: dout has shape {dout.shape} but {forward} returned an "
                         f"output of shape {out.shape}")
