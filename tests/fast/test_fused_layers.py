"""The engine's fused ReLU, pooling, BatchNorm and Adam against the lecture's NumPy versions:
same outputs, same caches, same errors, and the dispatch that picks between them."""

import json

import numpy as np
import pytest

from minicnn import functional as F
from minicnn.fast import activation, norm, pool
from minicnn.fast.optim import adam_step_fused
from minicnn.functional import fast_paths
from minicnn.nn import Parameter
from minicnn.optim import Adam, AdamW

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def assert_same_cache(fused, lecture, dtype):
    assert len(fused) == len(lecture)
    for got, want in zip(fused, lecture):
        if isinstance(want, np.ndarray):
            assert isinstance(got, np.ndarray) and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, **tolerance(dtype))
        else:
            assert got == want


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7, 11), (1,)])
def test_relu_fused_equals_lecture(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = activation.relu_forward_fused(x)
    want, want_cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, want)
    assert out.dtype == dtype and cache[0] is x and want_cache[0] is x
    dout = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(activation.relu_backward_fused(dout, cache),
                                  F.relu_backward(dout, want_cache))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7, 11), (1,), (0, 3)])
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_tanh_and_sigmoid_backward_fused_equal_the_lecture_to_the_last_bit(rng, dtype, shape,
                                                                          name):
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    _, cache = getattr(F, f"{name}_forward")(x)
    dout = rng.standard_normal(shape).astype(dtype)
    got = getattr(activation, f"{name}_backward_fused")(dout, cache)
    want = getattr(F, f"{name}_backward")(dout, cache)
    assert got.dtype == want.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_tanh_and_sigmoid_backward_fused_leave_other_input_to_the_lecture(rng, name):
    fused = getattr(activation, f"{name}_backward_fused")
    lecture = getattr(F, f"{name}_backward")
    _, cache = getattr(F, f"{name}_forward")(rng.standard_normal((2, 3)).astype(np.float32))
    mixed = rng.standard_normal((2, 3))                        # float64 dout, float32 output
    np.testing.assert_array_equal(fused(mixed, cache), lecture(mixed, cache))
    assert fused(mixed, cache).dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        fused(np.ones((3, 2), np.float32), cache)
    assert fast_paths.implementation(f"{name}_backward", lecture) is fused


POOL_CASES = [((2, 3, 8, 8), 2, None, 0), ((1, 2, 7, 9), 3, 2, 1), ((2, 1, 6, 5), (3, 2), 1, 1),
              ((1, 1, 5, 5), 1, 1, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_pool_fused_equals_lecture(rng, dtype, kind, shape, kernel, stride, padding):
    x = rng.standard_normal(shape).astype(dtype)
    fused_forward = getattr(pool, f"{kind}_pool2d_forward_fused")
    fused_backward = getattr(pool, f"{kind}_pool2d_backward_fused")
    lecture_forward = getattr(F, f"{kind}_pool2d_forward")
    lecture_backward = getattr(F, f"{kind}_pool2d_backward")
    out, cache = fused_forward(x, kernel, stride, padding)
    want, want_cache = lecture_forward(x, kernel, stride, padding)
    np.testing.assert_allclose(out, want, **tolerance(dtype))
    assert out.dtype == dtype
    assert_same_cache(cache, want_cache, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    # each backward runs on the other's cache too: the caches are one contract
    for backward_cache in (cache, want_cache):
        np.testing.assert_allclose(fused_backward(dout, backward_cache),
                                   lecture_backward(dout, backward_cache), **tolerance(dtype))


@pytest.mark.parametrize("function", ["max_pool2d_forward", "avg_pool2d_forward"])
def test_pool_fused_raises_what_the_lecture_raises(function):
    fused = getattr(pool, function + "_fused")
    for bad in [dict(x=np.zeros((2, 3, 4)), kernel_size=2),             # not 4-d
                dict(x=np.zeros((1, 1, 4, 4)), kernel_size=2, padding=2),   # padding > k/2
                dict(x=np.zeros((1, 1, 2, 2)), kernel_size=3)]:          # kernel too large
        with pytest.raises(ValueError) as lecture_error:
            getattr(F, function)(**bad)
        with pytest.raises(ValueError) as fused_error:
            fused(**bad)
        assert str(fused_error.value) == str(lecture_error.value)


def test_max_pool2d_fused_rejects_argmax_outside_the_input(rng):
    x = rng.standard_normal((1, 1, 4, 4))
    out, (shape, argmax, kernel, stride, padding) = pool.max_pool2d_forward_fused(x, 2)
    argmax = argmax.copy()
    argmax[0, 0, 0, 0] = 16
    with pytest.raises(ValueError, match="outside"):
        pool.max_pool2d_backward_fused(np.ones_like(out), (shape, argmax, kernel, stride, padding))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape, affine", [((4, 3, 5, 6), True), ((8, 5), True),
                                           ((3, 2, 7), False)])
def test_batch_norm_fused_equals_lecture(rng, dtype, training, shape, affine):
    channels = shape[1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    weight = rng.standard_normal(channels).astype(dtype) if affine else None
    bias = rng.standard_normal(channels).astype(dtype) if affine else None
    stats = (rng.random(channels).astype(dtype), (rng.random(channels) + 0.5).astype(dtype))
    fused_stats = tuple(s.copy() for s in stats)
    out, cache = norm.batch_norm_forward_fused(x, weight, bias, *fused_stats, training,
                                               momentum=0.2)
    want, want_cache = F.batch_norm_forward(x, weight, bias, *stats, training, momentum=0.2)
    np.testing.assert_allclose(out, want, **tolerance(dtype))
    assert out.dtype == dtype
    for got, expected in zip(fused_stats, stats):           # running statistics, in place
        np.testing.assert_allclose(got, expected, **tolerance(dtype))
    assert_same_cache(cache, want_cache, dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    for got, expected in zip(norm.batch_norm_backward_fused(dout, cache),
                             F.batch_norm_backward(dout, want_cache)):
        if expected is None:
            assert got is None
        else:
            assert got.dtype == expected.dtype
            np.testing.assert_allclose(got, expected, **tolerance(dtype))


@pytest.mark.parametrize("optimizer", [Adam, AdamW])
def test_adam_fused_step_equals_the_lectures_step(rng, monkeypatch, optimizer):
    shapes = [(3, 4), (5,)]
    values = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(3)]
    results = {}
    for fused in (True, False):
        if not fused:
            monkeypatch.setitem(fast_paths._FUNCTIONS, "adam_step", None)
        params = [Parameter(v.copy()) for v in values]
        opt = optimizer(params, lr=0.01, weight_decay=0.1)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()
        results[fused] = [p.data for p in params]
    for got, want in zip(results[True], results[False]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adam_fused_step_declines_arrays_it_cannot_update_in_place():
    p = Parameter(np.zeros((4, 2)))
    p.grad = np.ones_like(p.data)
    moment = np.zeros((4, 4))[:, ::2]                        # a strided view: no flat view
    state = {"step": 0, "exp_avg": moment, "exp_avg_sq": np.zeros_like(p.data)}
    group = {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    assert adam_step_fused(p, state, group, False) is False
    assert state["step"] == 0


def test_layers_run_the_engine_unless_the_copy_assigns_the_task(monkeypatch, tmp_path):
    assert fast_paths.implementation("relu_forward", F.relu_forward) is \
        activation.relu_forward_fused
    assert fast_paths.implementation("linear_forward", F.linear_forward) is F.linear_forward
    manifest = tmp_path / "release.json"
    manifest.write_text(json.dumps({"tasks": ["relu_forward"], "also_stubbed": []}))
    monkeypatch.setattr(fast_paths, "_MANIFEST", manifest)
    monkeypatch.setitem(fast_paths._state, "student_tasks", None)
    assert fast_paths.implementation("relu_forward", F.relu_forward) is F.relu_forward
    assert fast_paths.implementation("relu_backward", F.relu_backward) is \
        activation.relu_backward_fused
    monkeypatch.setitem(fast_paths._state, "student_tasks", None)
    manifest.write_text("{ truncated")                    # unreadable: the student's code
    assert fast_paths.implementation("relu_backward", F.relu_backward) is F.relu_backward


def test_unknown_conv_method_names_the_available_ones():
    with pytest.raises(ValueError, match="not available"):
        fast_paths.conv_method("winograd")
