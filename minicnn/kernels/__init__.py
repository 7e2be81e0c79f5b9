"""Numba-jitted hot loops, each next to a NumPy twin that the tests hold it to.

Kernels are compiled with ``@njit(cache=True)``, so a second process loads machine code from
the on-disk cache instead of compiling again. Set ``NUMBA_DISABLE_JIT=1`` to run every kernel
as plain Python, e.g. to step through one in a debugger (slowly).
"""
