"""minicnn.gradcheck: the finite-difference tools students and the suite rely on."""

import subprocess
import sys

import numpy as np
import pytest

from minicnn.gradcheck import (GradCheckReport, check_gradients, numerical_gradient,
                               rel_error)


def _square_forward(x):
    return x ** 2, (x,)


def _square_backward(dout, cache):
    (x,) = cache
    return 2 * x * dout


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda: x ** 3, x, dout)
    np.testing.assert_allclose(grad, 3 * x ** 2 * dout, rtol=1e-6, atol=1e-9)


def test_numerical_gradient_of_a_scalar(rng):
    x = rng.standard_normal(5)
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(np.sin(x)), x), np.cos(x),
                               rtol=1e-7)


def test_numerical_gradient_restores_x_even_when_f_raises(rng):
    x = rng.standard_normal(4)
    before = x.copy()
    calls = []

    def f():
        calls.append(1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_of_a_function_returning_x_itself(rng):
    x = rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 3))
    np.testing.assert_allclose(numerical_gradient(lambda: x, x, dout), dout, rtol=1e-8)


def test_rel_error():
    a = np.array([1.0, 2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(a, a + 1e-9) == pytest.approx(rel_error(a + 1e-9, a))
    # a near-zero entry that is "100% wrong" barely matters in the norm
    assert rel_error([1.0, 1e-12], [1.0, 2e-12]) < 1e-11
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_gradients_passes_a_correct_backward_and_reports_it(rng):
    report = check_gradients(_square_forward, _square_backward,
                             {"x": rng.standard_normal((3, 2))}, name="square")
    assert report.passed and bool(report)
    assert set(report.errors) == {"x"} and report.max_error < 1e-7
    text = str(report)
    assert text.startswith("PASS") and "square" in text and "x " in text


def test_check_gradients_fails_a_wrong_backward(rng):
    report = check_gradients(_square_forward, lambda dout, cache: 2.01 * cache[0] * dout,
                             {"x": rng.standard_normal(4)})
    assert not report.passed
    assert str(report).startswith("FAIL") and report.errors["x"] > 1e-4


def test_check_gradients_reports_missing_and_misshaped_gradients(rng):
    def forward(x, y):
        return x * y, (x, y)

    report = check_gradients(forward, lambda dout, cache: (None, dout[:1]),
                             {"x": rng.standard_normal(3), "y": rng.standard_normal(3)})
    assert not report.passed and report.max_error == float("inf")
    assert "returned None" in report.problems["x"] and "shape" in report.problems["y"]
    report = check_gradients(forward, lambda dout, cache: (dout,),
                             {"x": rng.standard_normal(3), "y": rng.standard_normal(3)})
    assert "1 gradient(s) for 2 input(s)" in report.problems["<run>"]


def test_check_gradients_on_a_loss_calls_backward_with_the_cache_only(rng):
    def forward(z):
        return np.sum(z ** 2), (z,)

    def backward(cache):
        return 2 * cache[0]

    report = check_gradients(forward, backward, {"z": rng.standard_normal((2, 3))})
    assert report.passed, str(report)


def test_check_gradients_casts_to_float64_without_touching_the_callers_arrays(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    running_mean = np.zeros(4, np.float32)
    seen = []

    def forward(x, running_mean):
        seen.append((x.dtype, running_mean.dtype))
        running_mean += 1.0                              # an in-place update, like BatchNorm
        return x * 3.0, ()

    report = check_gradients(forward, lambda dout, cache: 3.0 * dout, {"x": x},
                             {"running_mean": running_mean})
    assert report.passed, str(report)
    assert set(seen) == {(np.dtype(np.float64), np.dtype(np.float64))}
    assert x.dtype == np.float32 and np.all(running_mean == 0)


def test_check_gradients_random_dout_is_seeded_and_not_all_ones(rng):
    douts = []

    def backward(dout, cache):
        douts.append(dout)
        return dout

    for _ in range(2):
        check_gradients(lambda x: (x.copy(), ()), backward, {"x": np.zeros((3, 3))}, seed=7)
    np.testing.assert_array_equal(douts[0], douts[1])
    assert len(np.unique(douts[0])) == 9


def test_check_gradients_rejects_non_float_inputs():
    with pytest.raises(TypeError, match="pass non-differentiated arguments in kwargs"):
        check_gradients(_square_forward, _square_backward, {"x": np.arange(3)})


def test_report_threshold():
    assert not GradCheckReport("layer", {"x": 2e-7}).passed
    assert GradCheckReport("layer", {"x": 2e-7}, threshold=1e-6).passed


LAYERS = [
    "conv2d naive", "conv2d loop", "conv2d im2col", "max_pool2d k=2", "max_pool2d k=3 s=2",
    "max_pool2d k=3 s=1", "avg_pool2d", "global_avg_pool2d", "adaptive_avg_pool2d (3, 2)",
    "adaptive_avg_pool2d 7", "batch_norm1d train",
    "batch_norm1d eval", "batch_norm2d train", "batch_norm2d eval", "linear", "flatten", "relu",
    "dropout", "cross_entropy  ", "cross_entropy weighted",
]


def test_module_checks_every_layer_and_exits_zero():
    result = subprocess.run([sys.executable, "-m", "minicnn.gradcheck"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for layer in LAYERS:
        matching = [line for line in lines if layer in line]
        assert matching, f"no report line for {layer!r}:\n{result.stdout}"
        assert all(line.startswith("PASS") for line in matching), "\n".join(matching)
    assert "FAIL" not in result.stdout


def test_main_reports_a_layer_that_cannot_run_and_exits_non_zero(monkeypatch, capsys):
    from minicnn import gradcheck

    def broken():
        raise NotImplementedError("relu_forward: implement relu_forward")

    def fine():
        return check_gradients(_square_forward, _square_backward, {"x": np.ones(3) + 0.5},
                               name="square")

    monkeypatch.setattr(gradcheck, "_layer_checks", lambda rng: [("relu", broken),
                                                                 ("square", fine)])
    assert gradcheck.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL  relu" in out and "NotImplementedError: relu_forward" in out
    assert "PASS  square" in out and "1 of 2 gradient checks FAILED: relu" in out


def test_main_only_runs_the_matching_checks(capsys):
    from minicnn import gradcheck
    assert gradcheck.main(["--only", "adaptive"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 2 and "adaptive_avg_pool2d (3, 2)" in out
    assert "conv2d" not in out and "all 2 gradient checks passed" in out


def test_main_only_that_matches_nothing_lists_the_checks(capsys):
    from minicnn import gradcheck
    assert gradcheck.main(["--only", "no such layer"]) == 2
    err = capsys.readouterr().err
    assert "no gradient check matches --only 'no such layer'" in err and "conv2d loop" in err
