"""The explanation tasks (saliency, grad_cam): graded on a small CNN of the student's layers.

The catalogue's bugs for them are graded by the audit (test_audit.py); here: they run the
student's own backward chain, so an unwritten layer task is named as what is missing, and
the model is built from the student's nn layers in the child, in training mode.
"""

import numpy as np
import pytest

from minicnn.assignments.explain_family import ExplainTask, model_layers
from minicnn.assignments.grade import grade_submission
from minicnn.assignments.registry import TASKS

from assignment_helpers import SEED, make_copy

pytestmark = pytest.mark.slow

EXPLAIN = ["saliency", "grad_cam"]


def test_a_restored_copy_earns_both_and_an_untouched_one_nothing(tmp_path):
    restored = make_copy(tmp_path / "restored", EXPLAIN, restored=True)
    report = grade_submission(restored, EXPLAIN, seed=SEED, sandbox="none")
    assert [t.passed for t in report.tasks] == [True, True], report.table()
    untouched = make_copy(tmp_path / "untouched", EXPLAIN, restored=False)
    report = grade_submission(untouched, EXPLAIN, seed=SEED, sandbox="none")
    for task in report.tasks:
        assert task.points == 0 and "not implemented" in task.message, task.message


def test_they_run_the_students_layers_and_name_the_missing_one(tmp_path):
    root = make_copy(tmp_path / "layers", ["saliency", "conv2d_im2col_backward"],
                     restored=False)
    from minicnn.assignments.release import restore

    restore(root, ["saliency"])
    report = grade_submission(root, ["saliency"], seed=SEED, sandbox="none")
    task = report.tasks[0]
    assert task.points == 0
    assert "need conv2d_im2col_backward first" in task.message, task.message


def test_the_cases_cover_the_documented_arguments():
    from minicnn.assignments.hidden import HIDDEN_PARAMS

    for task in EXPLAIN:
        params = HIDDEN_PARAMS[task]
        kwargs = [p.get("kwargs", {}) for p in params]
        assert any(k.get("target") == "per_image" for k in kwargs)
        assert any(isinstance(k.get("target"), int) for k in kwargs)
        assert any(p.get("dtype") == "float32" for p in params)
        assert any(p["H"] != p["W"] for p in params)
        assert any(p.get("batch_norm") is False for p in params)
    saliency = [p.get("kwargs", {}) for p in HIDDEN_PARAMS["saliency"]]
    assert any(k.get("samples") for k in saliency)
    cam = [p.get("kwargs", {}) for p in HIDDEN_PARAMS["grad_cam"]]
    assert any(k.get("upsample") is False for k in cam) and any("layer" in k for k in cam)


def test_the_case_model_has_batch_norm_and_dropout_to_switch_off():
    names = [name for name, _ in model_layers(dict(C=1, H=8, W=8, classes=3))]
    assert "BatchNorm2d" in names and "Dropout" in names
    spec = TASKS["saliency"].spec
    assert isinstance(spec, ExplainTask)
    case = spec.build_case(dict(name="c", N=2, C=1, H=8, W=8, classes=3),
                           np.random.default_rng(0))
    running_var = case.arrays["state/1.running_var"]
    assert not np.allclose(running_var, 1.0)       # evaluation mode changes the result
