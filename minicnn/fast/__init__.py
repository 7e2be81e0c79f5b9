"""The engine: what makes minicnn train at PyTorch's pace on a CPU.

The lecture's functions (``minicnn.functional``) are written to be read; this package computes
the same numbers faster, and each of its paths is tested against the lecture's version:

- ``conv/``: method "fast" (per layer the fastest of pointwise, direct, Winograd, im2col
  and chunked gemm, chosen in conv/choose.py) and method "gemm";
- ``activation.py``, ``pool.py``, ``norm.py``: ReLU, pooling and BatchNorm as fused Numba
  loops with the lecture's contract (arguments, checks, caches);
- ``optim.py``: Adam's step in one pass;
- ``parallel.py``: the batch split across threads; ``kernels/``: the Numba loops themselves.

Importing it registers these paths in minicnn/functional/fast_paths.py, the only place where
the lecture side learns of them; the lecture imports this package on first need.
"""

from minicnn.fast import activation, norm, optim, pool
from minicnn.fast.conv import (conv2d_fast_backward, conv2d_fast_forward, conv2d_gemm_backward,
                               conv2d_gemm_forward)
from minicnn.functional import fast_paths


def _register_engine():
    """Offer every fast path to the lecture's functions (a student copy strips the paths of
    its tasks, and assignments/registry.py lists this function among their callers)."""
    fast_paths.register_conv_method("fast", conv2d_fast_forward, conv2d_fast_backward)
    fast_paths.register_conv_method("gemm", conv2d_gemm_forward, conv2d_gemm_backward)
    fast_paths.register("relu_forward", activation.relu_forward_fused)
    fast_paths.register("relu_backward", activation.relu_backward_fused)
    fast_paths.register("tanh_backward", activation.tanh_backward_fused)
    fast_paths.register("sigmoid_backward", activation.sigmoid_backward_fused)
    fast_paths.register("max_pool2d_forward", pool.max_pool2d_forward_fused)
    fast_paths.register("max_pool2d_backward", pool.max_pool2d_backward_fused)
    fast_paths.register("avg_pool2d_forward", pool.avg_pool2d_forward_fused)
    fast_paths.register("avg_pool2d_backward", pool.avg_pool2d_backward_fused)
    fast_paths.register("batch_norm_forward", norm.batch_norm_forward_fused)
    fast_paths.register("batch_norm_backward", norm.batch_norm_backward_fused)
    fast_paths.register("adam_step", optim.adam_step_fused)


_register_engine()
