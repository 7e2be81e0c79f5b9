"""The engine's Numba loops, each next to the NumPy twin the tests hold it to: the direct sum
(conv_direct.py), Winograd's tile transforms by family (winograd/), the fused ReLU, BatchNorm,
pooling and Adam loops (elementwise.py, pool.py, optim.py), and the serial/parallel builds they
share (_two_builds.py)."""
