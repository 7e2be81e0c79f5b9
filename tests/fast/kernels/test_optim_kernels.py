"""The fused Adam kernel against its NumPy twin, and Adam.step's fused path against its NumPy path."""

import numpy as np
import pytest

from minicnn import optim
from minicnn.fast.kernels.optim import adam_update, adam_update_numpy
from minicnn.nn.module import Parameter

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_update_equals_numpy_twin(rng, dtype, decoupled, weight_decay):
    arrays = [rng.standard_normal(37).astype(dtype) for _ in range(2)]
    moments = [np.zeros(37, dtype), np.zeros(37, dtype)]
    fused = [a.copy() for a in arrays + moments]
    reference = [a.copy() for a in arrays + moments]
    for t in range(1, 6):                             # moments away from zero after step 1
        grad = rng.standard_normal(37).astype(dtype)
        for state, update in ((fused, adam_update), (reference, adam_update_numpy)):
            param, _, exp_avg, exp_avg_sq = state
            update(param, grad, exp_avg, exp_avg_sq, 0.01, 0.9, 0.999, 1e-8, weight_decay,
                   decoupled, 1 - 0.9 ** t, 1 - 0.999 ** t)
    for name, got, expected in zip(("param", "grad", "exp_avg", "exp_avg_sq"), fused, reference):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype], err_msg=name)


@pytest.mark.parametrize("optimizer", [optim.Adam, optim.AdamW])
def test_adam_step_fused_path_equals_numpy_path(rng, optimizer):
    # a non-contiguous parameter view takes the NumPy path; a contiguous copy takes the kernel
    base = rng.standard_normal((6, 8))
    strided = Parameter(base)
    strided.data = base.T                              # F-ordered: the NumPy path
    contiguous = Parameter(np.ascontiguousarray(base.T))
    opt_numpy = optimizer([strided], lr=0.01, weight_decay=0.05)
    opt_fused = optimizer([contiguous], lr=0.01, weight_decay=0.05)
    for _ in range(4):
        grad = rng.standard_normal((8, 6))
        strided.grad = np.asfortranarray(grad)
        contiguous.grad = grad.copy()
        opt_numpy.step()
        opt_fused.step()
    np.testing.assert_allclose(contiguous.data, strided.data, rtol=1e-12, atol=1e-12)
