"""The engine's convolutions: method "fast" (the default) and method "gemm".

Method "fast" picks, per layer, the fastest of five algorithms (:func:`fast_algorithm`, in
choose.py) and runs it:

- ``pointwise.py``: a 1x1 filter at stride 1 without padding is one matrix product per
  image;
- ``direct.py``: the lecture's sum for narrow 3x3 padding-1 layers, vectorised on flat
  padded planes (stride 1) or phase planes (stride 2), and for 5x5 padding-2 stride-1
  layers with few input channels (LeNet-5's first);
- ``winograd.py``: F(4x4, 3x3) and F(2x2, r x r) for wider 3x3, 5x5 and 7x7 stride-1
  layers;
- ``im2col.py``: the lecture's im2col, tuned (one product per image on small layers);
- ``gemm.py``: im2col a cache-sized chunk at a time, for layers whose columns would not fit
  in memory (also method "gemm" on its own).

Every algorithm computes the lecture's numbers (minicnn/functional/conv.py), tested against
its methods on a grid of shapes, strides, paddings and dtypes. Both methods follow the
lecture's method contract and are registered in minicnn/functional/fast_paths.py.
"""

from __future__ import annotations

from minicnn.fast.conv.choose import fast_algorithm
from minicnn.fast.conv.direct import conv2d_direct_backward, conv2d_direct_forward
from minicnn.fast.conv.gemm import conv2d_gemm_backward, conv2d_gemm_forward
from minicnn.fast.conv.im2col import conv2d_im2col_backward, conv2d_im2col_forward
from minicnn.fast.conv.pointwise import conv2d_pointwise_backward, conv2d_pointwise_forward
from minicnn.fast.conv.winograd import conv2d_winograd_backward, conv2d_winograd_forward

__all__ = ["conv2d_fast_forward", "conv2d_fast_backward", "conv2d_gemm_forward",
           "conv2d_gemm_backward", "fast_algorithm"]


def conv2d_fast_forward(x, weight, bias, stride, padding):
    """Method "fast": ``(out, (algorithm, kept))``, with ``kept`` what the algorithm's
    backward pass needs: ("winograd", (x, V of each chunk when all of V fits in
    WINOGRAD_KEEP_BYTES, else {})), ("pointwise", x), ("direct", x as flat padded planes, or
    its phase planes for stride 2), ("im2col", the columns) or ("gemm", X_pad)."""
    algorithm = fast_algorithm(x.shape, weight.shape, stride, padding, x.dtype)
    if algorithm == "winograd":
        out, kept = conv2d_winograd_forward(x, weight, bias, padding)
    elif algorithm == "pointwise":
        out, kept = conv2d_pointwise_forward(x, weight, bias)
    elif algorithm == "direct":
        out, kept = conv2d_direct_forward(x, weight, bias, stride)
    elif algorithm == "im2col":
        out, kept = conv2d_im2col_forward(x, weight, bias, stride, padding)
    else:
        out, kept = conv2d_gemm_forward(x, weight, bias, stride, padding)
    return out, (algorithm, kept)


def conv2d_fast_backward(dout, saved, weight, stride, padding, x_shape, input_gradient=True,
                         bias_gradient=True):
    """Method "fast"'s backward pass: the same algorithm as the forward pass ran.
    ``input_gradient=False`` (the layer's input is the data): dx is None, and direct, im2col
    and gemm skip its work (Winograd and pointwise layers, never a network's first here,
    compute it and drop it). ``bias_gradient=False`` (a layer without bias): dbias is None and
    its sum over dZ is skipped."""
    algorithm, kept = saved
    if algorithm == "direct":
        return conv2d_direct_backward(dout, kept, weight, x_shape, input_gradient,
                                      bias_gradient)
    if algorithm == "im2col":
        return conv2d_im2col_backward(dout, kept, weight, stride, padding, x_shape,
                                      input_gradient, bias_gradient)
    if algorithm == "gemm":
        return conv2d_gemm_backward(dout, kept, weight, stride, padding, x_shape,
                                    input_gradient, bias_gradient)
    if algorithm == "winograd":
        dx, dweight, dbias = conv2d_winograd_backward(dout, kept, weight, padding,
                                                      bias_gradient)
    else:
        dx, dweight, dbias = conv2d_pointwise_backward(dout, kept, weight, bias_gradient)
    return (dx if input_gradient else None), dweight, dbias
