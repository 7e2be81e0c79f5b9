"""The lecture's output size along one axis, compiled so that the Numba kernels share it with
``minicnn.functional`` (whose ``output_size`` adds the check and the error message)."""

from numba import njit

__all__ = ["output_length"]


@njit(cache=True)
def output_length(size, kernel, stride, padding):
    """``floor((size + 2*padding - kernel) / stride) + 1``: the arithmetic alone, unchecked."""
    return (size + 2 * padding - kernel) // stride + 1
