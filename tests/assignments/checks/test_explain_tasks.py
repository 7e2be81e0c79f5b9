"""The explanation tasks (saliency, grad_cam): graded on the check's own model.

One bug costs once: a layer bug costs its layer task and never these two, which run no layer
of the student's; a bug of their own is still caught. The catalogue's bugs for them are
graded by the audit (audit/test_audit.py).
"""

import numpy as np
import pytest

from minicnn.assignments.grading.child import check_model
from minicnn.assignments.checks.explain import MAP_CHANNELS, ExplainTask
from minicnn.assignments.grading.grade import grade_submission
from minicnn.assignments.registry import TASKS

from assignment_helpers import (SEED, inject_variant, make_copy, task_functions,
                                what_the_code_uses)

pytestmark = pytest.mark.slow

EXPLAIN = ["saliency", "grad_cam"]
LAYER_TASKS = [t for t in TASKS if t not in EXPLAIN and not t.endswith("_step")]


def test_a_restored_copy_earns_both_and_an_untouched_one_nothing(tmp_path):
    restored = make_copy(tmp_path / "restored", EXPLAIN, restored=True)
    report = grade_submission(restored, EXPLAIN, seed=SEED, sandbox="none")
    assert [t.passed for t in report.tasks] == [True, True], report.table()
    untouched = make_copy(tmp_path / "untouched", EXPLAIN, restored=False)
    report = grade_submission(untouched, EXPLAIN, seed=SEED, sandbox="none")
    for task in report.tasks:
        assert task.points == 0 and "not implemented" in task.message, task.message


def test_with_every_layer_task_unwritten_the_explanations_still_earn_full_points(tmp_path):
    # every layer of the student's copy is a stub: the explanation tasks run none of them
    root = make_copy(tmp_path / "stubs", LAYER_TASKS + EXPLAIN, restored=False)
    from minicnn.assignments.release import restore

    restore(root, EXPLAIN)
    report = grade_submission(root, EXPLAIN + ["linear_forward"], seed=SEED, sandbox="none")
    saliency, grad_cam, linear = report.tasks
    assert saliency.passed and grad_cam.passed, report.table()
    assert linear.points == 0 and "not implemented" in linear.message


@pytest.mark.parametrize("task, variant", [("linear_backward", "dx_uses_weight_transposed"),
                                           ("linear_forward", "weight_not_transposed")])
def test_a_transposed_linear_weight_costs_its_linear_task_only(task, variant, tmp_path):
    # (graded on a CNN of the student's layers, this bug cost saliency and grad_cam too)
    root = make_copy(tmp_path / "linear_bug", [task] + EXPLAIN, restored=True)
    inject_variant(root, task, variant)
    report = grade_submission(root, [task] + EXPLAIN, seed=SEED, sandbox="none")
    linear, saliency, grad_cam = report.tasks
    assert linear.points == 0, linear.message
    assert saliency.passed and grad_cam.passed, report.table()


def test_a_saliency_bug_is_still_caught_and_costs_saliency_only(tmp_path):
    root = make_copy(tmp_path / "saliency_bug", EXPLAIN, restored=True)
    inject_variant(root, "saliency", "sum_over_channels")
    report = grade_submission(root, EXPLAIN, seed=SEED, sandbox="none")
    saliency, grad_cam = report.tasks
    assert saliency.points == 0 and "saliency map wrong" in saliency.message, saliency.message
    assert grad_cam.passed, grad_cam.message


def test_an_explanation_left_in_training_mode_is_caught(tmp_path):
    # explaining (outside the regions) switches to evaluation mode; a saliency that runs
    # the model as it was left (training) gives another map on the check's model
    root = make_copy(tmp_path / "training", ["saliency"], restored=True)
    target = root / "minicnn" / "explain.py"
    text = target.read_text()
    assert text.count("    model.eval()\n") == 1
    target.write_text(text.replace("    model.eval()\n", "    pass\n"))
    report = grade_submission(root, ["saliency"], seed=SEED, sandbox="none")
    assert report.tasks[0].points == 0, report.tasks[0].message


def test_the_check_model_computes_no_task_and_uses_no_student_layer():
    """Its layers are written in the check (no call into minicnn.functional, no nn layer's
    forward), and none of them is a task's function: tanh maps of one channel each and a
    quadratic readout."""
    called, attributes, source = what_the_code_uses(check_model)
    assert not called & task_functions(), called & task_functions()
    assert "functional" not in source and "conv2d" not in source
    assert not {"Linear", "ReLU", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Dropout"} & attributes


def test_the_check_model_gradients_match_finite_differences():
    import minicnn.nn as nn
    from minicnn.gradcheck import numerical_gradient

    spec = TASKS["saliency"].spec
    assert isinstance(spec, ExplainTask)
    case = spec.build_case(dict(name="c", N=2, C=2, H=6, W=5, classes=3),
                           np.random.default_rng(0))
    call = case.calls[0]
    model = check_model(call, case.arrays, np, nn)
    model.eval()
    x = case.arrays["x"].copy()
    dout = np.random.default_rng(1).standard_normal((2, 3))
    model(x)
    analytic = model.backward(dout)
    numeric = numerical_gradient(lambda: model(x), x, dout)
    assert np.max(np.abs(analytic - numeric)) < 1e-6 * max(1.0, np.abs(numeric).max())
    assert [m.out_channels for m in list(model)[:-1]] == list(MAP_CHANNELS)


def test_the_case_model_depends_on_the_mode():
    import minicnn.nn as nn

    case = TASKS["grad_cam"].spec.build_case(dict(name="c", N=2, C=1, H=8, W=8, classes=3),
                                              np.random.default_rng(0))
    model = check_model(case.calls[0], case.arrays, np, nn)
    x = case.arrays["x"]
    model.train()
    training = model(x)
    model.eval()
    assert not np.allclose(training, model(x))      # evaluation mode changes the result


def test_the_cases_cover_the_documented_arguments():
    from minicnn.assignments.checks.hidden_grids import HIDDEN_PARAMS

    for task in EXPLAIN:
        params = HIDDEN_PARAMS[task]
        kwargs = [p.get("kwargs", {}) for p in params]
        assert any(k.get("target") == "per_image" for k in kwargs)
        assert any(isinstance(k.get("target"), int) for k in kwargs)
        assert any(p.get("dtype") == "float32" for p in params)
        assert any(p["H"] != p["W"] for p in params)
        assert any(p.get("N") == 1 for p in params)
    saliency = [p.get("kwargs", {}) for p in HIDDEN_PARAMS["saliency"]]
    assert any(k.get("samples") for k in saliency)
    cam = [p.get("kwargs", {}) for p in HIDDEN_PARAMS["grad_cam"]]
    assert any(k.get("upsample") is False for k in cam)
    assert {k.get("layer") for k in cam} >= {None, "0", "1"}
