"""minicnn: convolutional neural networks from scratch in NumPy.

Every layer has a hand-written forward and backward pass (no autograd), checked against
finite differences; hot loops are jitted with Numba; convolution runs as im2col + one matrix
product. The vocabulary is PyTorch's, so what a student learns here carries over unchanged.
"""

__version__ = "0.1.0"
