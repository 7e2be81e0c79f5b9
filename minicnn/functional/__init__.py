"""The math of minicnn: pure forward/backward function pairs, one file per family.

Every ``..._forward`` returns ``(out, cache)``; the matching ``..._backward(dout, cache)``
returns the gradients. The cache is plain data (a tuple of arrays and Python scalars), so a
backward pass can be run on a cache that another implementation's forward pass produced.

Faster versions of some of these functions live in the engine, ``minicnn.fast``; it plugs in
through ``fast_paths`` (conv2d's ``method="fast"``, and the layers of ``minicnn.nn``).
"""

from minicnn.functional._common import as_pair, check_array, output_shape2d, output_size
from minicnn.functional.activation import (relu_backward, relu_forward, sigmoid_backward,
                                           sigmoid_forward, tanh_backward, tanh_forward)
from minicnn.functional.conv import CONV_METHODS, conv2d_backward, conv2d_forward
from minicnn.functional.dropout import dropout_backward, dropout_forward
from minicnn.functional.linear import (flatten_backward, flatten_forward, linear_backward,
                                       linear_forward)
from minicnn.functional.loss import cross_entropy_backward, cross_entropy_forward
from minicnn.functional.norm import batch_norm_backward, batch_norm_forward
from minicnn.functional.pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward,
                                     avg_pool2d_backward, avg_pool2d_forward,
                                     global_avg_pool2d_backward, global_avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)

__all__ = [
    "as_pair", "check_array", "output_size", "output_shape2d",
    "CONV_METHODS", "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
    "batch_norm_forward", "batch_norm_backward",
    "linear_forward", "linear_backward",
    "flatten_forward", "flatten_backward",
    "relu_forward", "relu_backward",
    "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
    "dropout_forward", "dropout_backward",
    "cross_entropy_forward", "cross_entropy_backward",
]
