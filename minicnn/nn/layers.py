"""The layers of the lecture's CNN, as ``Module``\\ s with PyTorch's names, arguments and defaults.

Each layer is a thin shell around a pair of pure functions from ``minicnn.functional``:
``forward`` calls ``..._forward`` and keeps its ``cache``; ``backward`` hands the cache to
``..._backward``, adds the parameter gradients into ``Parameter.grad`` and returns dL/dx.
Read the functional file for the math; read this one for the bookkeeping. (ReLU, pooling and
BatchNorm run the engine's fused versions of those functions, same contract, when it has them.)

Initialisation is PyTorch's default: Conv2d and Linear draw weight and bias from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``kaiming_uniform_(a=sqrt(5))`` works out to exactly
that bound), BatchNorm starts at gamma = 1, beta = 0, running_mean = 0, running_var = 1.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from minicnn import functional as F
from minicnn.functional import fast_paths
from minicnn.functional.pool import adaptive_output_size
from minicnn.nn import conventions
from minicnn.nn.module import Module, Parameter, as_generator


def _function(name):
    """The function that computes ``minicnn.functional.<name>`` for a layer: the engine's
    fused version when it has one (same contract, tested against the lecture's), else the
    lecture's (minicnn/functional/fast_paths.py)."""
    return fast_paths.implementation(name, getattr(F, name))

__all__ = ["Conv2d", "Linear", "Flatten", "ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
           "BatchNorm1d", "BatchNorm2d", "Dropout", "Identity"]


def _positive_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _float_dtype(dtype, owner: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _uniform(rng: np.random.Generator, bound: float, shape, dtype) -> np.ndarray:
    """U(-bound, bound), drawn in float64 and then cast (the same draws for either dtype)."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _shape_of(x) -> str:
    return str(tuple(np.shape(x)))


class _CachedLayer(Module):
    """A layer that keeps its forward cache for exactly one backward."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def _take_cache(self):
        cache = self._cache
        if cache is None:
            raise RuntimeError(
                f"{self.short_repr()}: backward() was called before forward() (or twice for "
                f"one forward). Run out = layer(x) first; each forward allows one backward.")
        self._cache = None
        return cache

    def _check_input(self, x) -> None:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self.short_repr()}: input must be a numpy.ndarray, got "
                            f"{type(x).__name__}")


class Conv2d(_CachedLayer):
    """2-d convolution (cross-correlation, as in PyTorch) over an (N, C_in, H, W) input.

    Z[n, o, i, j] = sum_{c, u, v} W[o, c, u, v] * X_padded[n, c, i*s + u, j*s + v] + b[o]

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or (int, int)
    bias : bool, learn a per-channel bias (default True)
    method : ``"naive"``, ``"loop"``, ``"im2col"``, ``"gemm"``, ``"fast"`` or None (the
        functional layer's default, ``"fast"``)
    rng : numpy.random.Generator, int seed or None (fresh, unseeded) for the initial weights
    dtype : float32 (default) or float64

    Shapes: weight (C_out, C_in, kH, kW), bias (C_out,); output (N, C_out, H_out, W_out) with
    H_out = (H + 2*padding - kH) // stride + 1.
    """

    trace_role = "conv"
    #: False: ``backward`` computes dL/dW and dL/db only and returns None, for a layer whose
    #: input is the data (``minicnn.train`` sets it on the model's ``input_layer()`` while it
    #: trains: nothing needs the images' gradient).
    input_gradient = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 method=None, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = F.as_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = F.as_pair(stride, "stride", "Conv2d")
        self.padding = F.as_pair(padding, "padding", "Conv2d", minimum=0)
        if method is not None and method not in F.CONV_METHODS:
            raise ValueError(f"Conv2d: method must be one of {', '.join(F.CONV_METHODS)} or "
                             f"None, got {method!r}")
        self.method = method
        dtype = _float_dtype(dtype, "Conv2d")
        rng = as_generator(rng, "Conv2d")
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = Parameter(_uniform(rng, bound, (self.out_channels, self.in_channels,
                                                      *self.kernel_size), dtype))
        if bias:
            self.bias = Parameter(_uniform(rng, bound, (self.out_channels,), dtype))
        else:
            self.register_parameter("bias", None)

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.short_repr()} expects input (N, {self.in_channels}, H, W), "
                             f"got shape {_shape_of(x)}; in_channels must equal the channels "
                             f"that reach it")

    def forward(self, x):
        self._check_input(x)
        bias = None if self.bias is None else self.bias.data
        out, self._cache = F.conv2d_forward(x, self.weight.data, bias, stride=self.stride,
                                            padding=self.padding, method=self.method)
        return out

    def backward(self, dout):
        dx, dweight, dbias = F.conv2d_backward(dout, self._take_cache(),
                                               input_gradient=self.input_gradient)
        self.weight.accumulate(dweight)
        if self.bias is not None:
            self.bias.accumulate(dbias)
        return dx

    def short_repr(self) -> str:
        return f"Conv2d({self.in_channels}, {self.out_channels})"

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        if self.method is not None:
            text += f", method={self.method!r}"
        return text


class Linear(_CachedLayer):
    """Fully connected layer: out = x @ W.T + b, x of shape (N, in_features).

    W is (out_features, in_features), PyTorch's layout (CS231n's affine layers store the
    transpose, (in, out), and compute x @ W + b).

    Parameters
    ----------
    in_features, out_features : int
    bias : bool (default True)
    rng : numpy.random.Generator, int seed or None, for the initial weights
    dtype : float32 (default) or float64

    Shapes: weight (out_features, in_features), bias (out_features,).
    """

    trace_role = "linear"

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dtype = _float_dtype(dtype, "Linear")
        rng = as_generator(rng, "Linear")
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(_uniform(rng, bound, (self.out_features, self.in_features),
                                         dtype))
        if bias:
            self.bias = Parameter(_uniform(rng, bound, (self.out_features,), dtype))
        else:
            self.register_parameter("bias", None)

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = ""
            if x.ndim > 2:
                hint = " (put a Flatten() before it)"
            elif x.ndim == 2:
                hint = "; in_features must equal the features that reach it"
            raise ValueError(f"{self.short_repr()} expects input (N, {self.in_features}), got "
                             f"shape {_shape_of(x)}{hint}")

    def forward(self, x):
        self._check_input(x)
        if self.weight.shape != (self.out_features, self.in_features):
            raise conventions.linear_weight_layout_error(self.short_repr(), self.weight.shape,
                                                         self.in_features, self.out_features)
        bias = None if self.bias is None else self.bias.data
        out, self._cache = F.linear_forward(x, self.weight.data, bias)
        return out

    def backward(self, dout):
        dx, dweight, dbias = F.linear_backward(dout, self._take_cache())
        self.weight.accumulate(dweight)
        if self.bias is not None:
            self.bias.accumulate(dbias)
        return dx

    def short_repr(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(_CachedLayer):
    """(N, C, H, W) -> (N, C*H*W): keeps the batch axis, flattens the rest (C-order, as
    PyTorch's ``Flatten(start_dim=1)``)."""

    trace_role = "flatten"

    def forward(self, x):
        self._check_input(x)
        out, self._cache = F.flatten_forward(x)
        return out

    def backward(self, dout):
        return F.flatten_backward(dout, self._take_cache())


class _Activation(_CachedLayer):
    """An elementwise activation: the functional pair named by ``_forward`` and ``_backward``."""

    trace_role = "activation"
    _forward = _backward = None   # names of the functional pair, set by subclasses

    def forward(self, x):
        self._check_input(x)
        out, self._cache = _function(self._forward)(x)
        return out

    def backward(self, dout):
        return _function(self._backward)(dout, self._take_cache())


class ReLU(_Activation):
    """ReLU(x) = max(0, x), elementwise."""

    _forward, _backward = "relu_forward", "relu_backward"


class Tanh(_Activation):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x), elementwise (LeNet-5's activation)."""

    _forward, _backward = "tanh_forward", "tanh_backward"


class Sigmoid(_Activation):
    """sigmoid(x) = 1 / (1 + e^-x), elementwise."""

    _forward, _backward = "sigmoid_forward", "sigmoid_backward"


class Identity(_CachedLayer):
    """out = x; a placeholder (e.g. to switch a layer off)."""

    def forward(self, x):
        self._cache = True
        return x

    def backward(self, dout):
        self._take_cache()
        return dout


class _Pool2d(_CachedLayer):
    _forward = _backward = None   # names of the functional pair, set by subclasses

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self._kernel = F.as_pair(kernel_size, "kernel_size", name)
        self._stride = self._kernel if stride is None else F.as_pair(stride, "stride", name)
        self._padding = F.as_pair(padding, "padding", name, minimum=0)
        if self._padding[0] * 2 > self._kernel[0] or self._padding[1] * 2 > self._kernel[1]:
            raise ValueError(f"{name}: padding should be at most half of kernel_size, got "
                             f"kernel_size={kernel_size}, padding={padding}")
        # as given (int or pair), like PyTorch's attributes
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim != 4:
            raise ValueError(f"{self.short_repr()} expects input (N, C, H, W), got shape "
                             f"{_shape_of(x)}")

    def forward(self, x):
        self._check_input(x)
        out, self._cache = _function(self._forward)(x, self._kernel, self._stride,
                                                    self._padding)
        return out

    def backward(self, dout):
        return _function(self._backward)(dout, self._take_cache())

    def short_repr(self) -> str:
        return f"{type(self).__name__}({self.kernel_size})"

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over each (kernel_size x kernel_size) window; stride defaults to kernel_size.

    MaxPool(X)[n, c, i, j] = max over (u, v) in window(i, j) of X[n, c, u, v]
    """

    _forward, _backward = "max_pool2d_forward", "max_pool2d_backward"


class AvgPool2d(_Pool2d):
    """Mean over each (kernel_size x kernel_size) window; stride defaults to kernel_size
    (padding counts as zeros in the mean, PyTorch's ``count_include_pad=True``)."""

    _forward, _backward = "avg_pool2d_forward", "avg_pool2d_backward"


class AdaptiveAvgPool2d(_CachedLayer):
    """Average pooling to a fixed output size: (N, C, H, W) -> (N, C, H_out, W_out), whatever
    H and W are. Output cell (i, j) is the mean of its window,

        rows [floor(i*H/H_out), ceil((i+1)*H/H_out)) x cols [floor(j*W/W_out), ceil((j+1)*W/W_out))

    ``AdaptiveAvgPool2d(1)`` is global average pooling, the usual step before a classifier.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        (H_out, W_out), each >= 1; None keeps the input's size along that axis (as in PyTorch).
    """

    trace_role = "global_pool"

    def __init__(self, output_size=1):
        super().__init__()
        # Checked now, so a bad size fails where the model is built, not at the first batch.
        adaptive_output_size(output_size, 1, 1, "AdaptiveAvgPool2d")
        self.output_size = output_size if isinstance(output_size, int) else tuple(output_size)

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim != 4:
            raise ValueError(f"{self.short_repr()} expects input (N, C, H, W), got shape "
                             f"{_shape_of(x)}")

    def forward(self, x):
        self._check_input(x)
        out, self._cache = F.adaptive_avg_pool2d_forward(x, self.output_size)
        return out

    def backward(self, dout):
        return F.adaptive_avg_pool2d_backward(dout, self._take_cache())

    def short_repr(self) -> str:
        return f"AdaptiveAvgPool2d({self.output_size})"

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _BatchNorm(_CachedLayer):
    trace_role = "batch_norm"
    _input_ndims: tuple = ()
    _noun = "channels"
    _producer = "out_channels"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", name)
        if not (isinstance(eps, numbers.Real) and eps > 0):
            raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
        if momentum is not None and not (isinstance(momentum, numbers.Real)
                                         and 0 <= momentum <= 1):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        conventions.warn_batch_norm_momentum(f"{name}({self.num_features})", self.momentum)
        dtype = _float_dtype(dtype, name)
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim not in self._input_ndims:
            shapes = " or ".join(("(N, C)", "(N, C, L)", "(N, C, H, W)")[d - 2]
                                 for d in self._input_ndims)
            raise ValueError(f"{self.short_repr()} expects input {shapes}, got shape "
                             f"{_shape_of(x)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self.short_repr()} got {x.shape[1]} {self._noun}; num_features "
                             f"must equal the {self._producer} of the preceding layer")

    def forward(self, x):
        self._check_input(x)
        momentum = self.momentum
        if momentum is None:    # cumulative moving average, as PyTorch (unused in evaluation)
            momentum = 1.0 / (int(self.num_batches_tracked) + 1) if self.training else 0.0
        out, self._cache = _function("batch_norm_forward")(
            x, self.weight.data, self.bias.data, self.running_mean, self.running_var,
            self.training, momentum=momentum, eps=self.eps)
        if self.training:
            self.num_batches_tracked += 1
        return out

    def backward(self, dout):
        dx, dweight, dbias = _function("batch_norm_backward")(dout, self._take_cache())
        self.weight.accumulate(dweight)
        self.bias.accumulate(dbias)
        return dx

    def short_repr(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation per channel of an (N, C, H, W) input (lecture, section 6).

    Training: normalise with the batch's per-channel mean and (biased) variance, update the
    running statistics (momentum 0.1, unbiased variance); evaluation: use the running ones.
    running = (1 - momentum) * running + momentum * batch: momentum weights the NEW batch
    (PyTorch's sense; CS231n's momentum=0.9 is momentum=0.1 here).
    Parameters weight (gamma) and bias (beta), shape (C,); buffers running_mean, running_var
    (C,) and num_batches_tracked (0-d int64). ``num_features`` must equal the out_channels of
    the preceding Conv2d.
    """

    _input_ndims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation per feature of an (N, F) input (or per channel of (N, C, L)).

    The same statistics as BatchNorm2d, over the batch only; ``num_features`` must equal the
    out_features of the preceding Linear.
    """

    _input_ndims = (2, 3)
    _noun = "features"
    _producer = "out_features"


class Dropout(_CachedLayer):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by
    1 / (1 - p); in evaluation, the identity. (p drops, as in PyTorch; CS231n's p keeps.)

    The layer owns a ``numpy.random.Generator`` (``self.rng``) for its masks: pass ``rng`` (a
    Generator or an int seed) for reproducible runs; its state is saved in checkpoints.
    """

    trace_role = "dropout"

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p is the probability of zeroing a unit and must be in "
                             f"[0, 1], got {p!r}")
        self.p = float(p)
        conventions.warn_dropout_p(f"Dropout(p={self.p})", self.p)
        self.rng = as_generator(rng, "Dropout")

    def forward(self, x):
        self._check_input(x)
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._take_cache())

    def short_repr(self) -> str:
        return f"Dropout(p={self.p})"

    def extra_repr(self) -> str:
        return f"p={self.p}"
