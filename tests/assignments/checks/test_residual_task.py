"""The residual block task (``residual_block_backward``): graded on stand-in layers.

What the tests parametrised over every task already cover for it (the region is registered,
a release stubs it and its public data and tests are written, an untouched release earns
nothing, a restored one everything, each catalogued variant applies, the audit) is not
repeated here. Here: the task's own contract (its grid, the stand-ins' gradients, one bug
costs once), each catalogued bug and alternative graded, grading in bubblewrap, a forged
answer, and the Gradescope container.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minicnn.assignments.audit.catalogue import variants
from minicnn.assignments.checks.hidden_grids import HIDDEN_PARAMS
from minicnn.assignments.checks.residual import ResidualBlockTask, param_names, projection
from minicnn.assignments.grading.child import block_forward, check_block
from minicnn.assignments.grading.grade import grade_submission
from minicnn.assignments.grading.public import check_tasks
from minicnn.assignments.grading.sandbox import SandboxError, resolve_sandbox
from minicnn.assignments.registry import SOURCE_ROOT, TASKS
from minicnn.assignments.regions import find_regions, region_text
from minicnn.assignments.release import restore

from assignment_helpers import (SEED, inject, inject_variant, make_copy,
                                task_functions, what_the_code_uses)

TASK = "residual_block_backward"
LAYER_TASKS = [t for t in TASKS if t.startswith(("conv2d", "batch_norm", "relu"))]
VARIANTS = variants([TASK])


def _bwrap_or_skip():
    try:
        return resolve_sandbox("bwrap")
    except SandboxError as exc:
        pytest.skip(f"bubblewrap cannot run here: {exc}")


# ------------------------------------------------------------------ the task, in-process


def test_the_task_is_the_blocks_backward_and_requires_no_other_task():
    task = TASKS[TASK]
    assert task.points == 8 and isinstance(task.spec, ResidualBlockTask)
    assert task.description == ("Residual block backward: the branch's gradient sum, the "
                                "projection's backward")
    assert task.regions == (("minicnn/models.py", "BasicBlock.backward"),)
    assert task.requires == () and task.strips == ()
    source = (SOURCE_ROOT / "minicnn/models.py").read_text()
    assert [r.function for r in find_regions(source) if r.function.startswith("BasicBlock")] \
        == ["BasicBlock.backward"]
    body = region_text(source, "BasicBlock.backward")
    assert "self.relu_out.backward(dout)" in body and "self.downsample.backward" in body


def test_the_hidden_cases_cover_both_shortcuts_dtypes_and_finite_differences():
    params = HIDDEN_PARAMS[TASK]
    identity = [p for p in params if not projection(p)]
    channels = [p for p in params if projection(p) and p.get("stride", 1) == 1]
    stride2 = [p for p in params if p.get("stride", 1) == 2]
    assert identity and stride2
    assert {p["planes"] > p["in_planes"] for p in channels} == {True, False}
    for group in (identity, stride2):
        assert any(p.get("dtype") == "float32" for p in group)
        assert any(p.get("finite_difference") and p.get("dtype", "float64") == "float64"
                   for p in group)
    assert any(p["N"] == 1 for p in params) and any(p["H"] != p["W"] for p in params)
    assert any(p["H"] % 2 for p in stride2)                      # an odd size at stride 2
    assert [p["name"] for p in params if p.get("timed")] == ["realistic"]


def test_every_untimed_case_runs_two_backward_calls():
    spec = TASKS[TASK].spec
    rng = np.random.default_rng(0)
    for p in HIDDEN_PARAMS[TASK]:
        case = spec.build_case(dict(p), rng)
        rounds = case.calls[0]["rounds"]
        assert len(rounds) == (1 if p.get("finite_difference") or p.get("timed") else 2)
        assert sorted(case.calls[0]["state"]) == sorted(param_names(p))


def test_the_stand_ins_compute_no_task_and_use_no_student_layer():
    """The block's layers in the check are written in the check (no call into
    minicnn.functional, no nn layer's forward), and none of them is a task's function."""
    called, attributes, source = what_the_code_uses(check_block)
    assert not called & task_functions(), called & task_functions()
    assert "functional" not in source and "conv2d" not in source
    assert not {"Conv2d", "BatchNorm2d", "ReLU", "Linear"} & attributes


@pytest.mark.parametrize("in_planes, planes, stride", [(3, 3, 1), (2, 4, 1), (3, 2, 2)])
def test_the_stand_in_block_matches_finite_differences(in_planes, planes, stride):
    import minicnn.models as models
    import minicnn.nn as nn
    from minicnn.gradcheck import numerical_gradient

    p = dict(name="c", in_planes=in_planes, planes=planes, N=2, H=5, W=4, stride=stride,
             finite_difference=True)
    case = TASKS[TASK].spec.build_case(p, np.random.default_rng(1))
    block, layers, params, _ = check_block(case.calls[0], case.arrays, np, nn, models)
    assert (block.downsample is not None) == projection(p)
    x, dout = case.arrays["x0"].copy(), case.arrays["dout0"]
    assert block_forward(layers, x).shape == dout.shape
    dx = block.backward(dout)
    grads = [(dx, x)] + [(param.grad.copy(), param.data) for _, param in params]
    for analytic, array in grads:
        numeric = numerical_gradient(lambda: block_forward(layers, x), array, dout)
        assert np.max(np.abs(analytic - numeric)) < 1e-7 * max(1.0, np.abs(numeric).max())


def test_a_stand_in_refuses_a_second_backward_for_one_forward():
    import minicnn.models as models
    import minicnn.nn as nn

    case = TASKS[TASK].spec.build_case(dict(name="c", in_planes=2, planes=2, N=1, H=3, W=3),
                                       np.random.default_rng(2))
    block, layers, _, _ = check_block(case.calls[0], case.arrays, np, nn, models)
    block_forward(layers, case.arrays["x0"])
    layers["relu_out"].backward(case.arrays["dout0"])
    with pytest.raises(RuntimeError, match="relu_out: backward"):
        layers["relu_out"].backward(case.arrays["dout0"])


def test_the_checks_run_no_region_but_the_blocks_own():
    # one bug costs once, measured as the audit measures it (a profiler on the reference)
    from minicnn.assignments.audit.run import regions_run_by
    from minicnn.assignments.grading.cases import compute_expected, hidden_cases, reference_module

    task = TASKS[TASK]
    cases = hidden_cases(task, 1)
    prepared = {TASK: (cases, compute_expected(task, cases, reference_module(task.spec)))}
    assert regions_run_by(prepared)[TASK] == set(task.regions)


def test_the_catalogue_has_bugs_and_alternatives():
    kinds = [v.kind for v in VARIANTS]
    assert kinds.count("bug") >= 3 and kinds.count("alternative") >= 1


# ------------------------------------------------------------------------------ grading


@pytest.mark.slow
def test_a_student_copy_stubs_the_block_and_still_builds_and_runs_it_forward(tmp_path):
    root = make_copy(tmp_path / "stub", [TASK], restored=False)
    text = (root / "minicnn/models.py").read_text()
    assert region_text(text, "BasicBlock.backward") == (
        f'raise NotImplementedError("{TASK}: implement BasicBlock.backward (see the '
        f'docstring)")')
    assert "d_main + d_shortcut" not in text and "def backward(self, dout):" in text
    assert (root / f"tests/test_{TASK}.py").is_file()
    code = textwrap.dedent("""
        import numpy as np
        from minicnn.models import BasicBlock
        block = BasicBlock(2, 4, stride=2, rng=0)
        out = block(np.ones((1, 2, 6, 6), dtype=np.float32))
        try:
            block.backward(np.ones_like(out))
        except NotImplementedError as exc:
            print(out.shape, exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(root)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"(1, 4, 3, 3) {TASK}: implement BasicBlock.backward")


@pytest.mark.slow
def test_each_catalogued_variant_is_graded_as_what_it_is(tmp_path):
    root = make_copy(tmp_path / "variants", [TASK], restored=True)
    for variant in VARIANTS:
        inject_variant(root, TASK, variant.name)
        report = grade_submission(root, [TASK], seed=SEED, sandbox="none").tasks[0]
        if variant.kind == "bug":
            assert report.points == 0 and report.message, (variant.name, report.message)
        else:
            assert report.passed, (variant.name, report.message)
        restore(root, [TASK])


@pytest.mark.slow
def test_with_every_layer_task_unwritten_the_block_still_earns_full_points(tmp_path):
    # the conv, BatchNorm and ReLU of the copy are stubs: the block's check runs none of them
    root = make_copy(tmp_path / "stubs", LAYER_TASKS + [TASK], restored=False)
    restore(root, [TASK])
    report = grade_submission(root, [TASK, "batch_norm_backward"], seed=SEED, sandbox="none")
    block, batch_norm = report.tasks
    assert block.passed, block.message
    assert batch_norm.points == 0 and "not implemented" in batch_norm.message


@pytest.mark.slow
def test_a_layer_bug_costs_its_own_task_and_not_the_block(tmp_path):
    tasks = ["batch_norm_backward", "relu_backward", TASK]
    root = make_copy(tmp_path / "layer_bugs", tasks, restored=True)
    inject_variant(root, "batch_norm_backward", "mean_term_missing")
    inject(root, "relu_backward", "dx = dout * (x >= 0)")
    report = grade_submission(root, tasks, seed=SEED, sandbox="none")
    batch_norm, relu, block = report.tasks
    assert batch_norm.points == 0 and relu.points == 0
    assert block.passed, block.message


@pytest.mark.slow
def test_the_reference_earns_full_points_in_bubblewrap_and_a_stub_nothing(tmp_path):
    sandbox = _bwrap_or_skip()
    root = make_copy(tmp_path / "bwrap", [TASK], restored=False)
    stub = grade_submission(root, [TASK], seed=SEED, sandbox=sandbox).tasks[0]
    assert stub.points == 0 and f"not implemented (NotImplementedError: {TASK}" in stub.message
    restore(root, [TASK])
    report = grade_submission(root, [TASK], seed=SEED, sandbox=sandbox)
    assert report.sandbox == "bwrap" and report.total == report.max_total, report.table()
    budget = [r for r in report.tasks[0].results if r.what == "time budget"]
    assert budget and all(r.passed for r in budget)


# the backward looks up the stored public answers for the dout it gets (the public check's
# cases are in every student copy): right on those, and on nothing else
PUBLIC_ANSWERS = """
import pathlib
data = np.load(pathlib.Path(__file__).parent / "assignments/public_data/{task}.npz")
for key in data.files:
    case, _, rest = key.partition("/input/")
    if rest.startswith("dout") and np.array_equal(data[key], dout):
        r = rest[len("dout"):]
        for name, p in self.named_parameters():
            p.grad[...] = data[f"{{case}}/expected/{{r}}/{{name}}"]
        return data[f"{{case}}/expected/{{r}}/dx"].copy()
raise ValueError("no stored answer for this dout")
""".format(task=TASK)


@pytest.mark.slow
def test_the_public_answers_earn_nothing_on_the_hidden_cases(tmp_path):
    root = make_copy(tmp_path / "forged", [TASK], restored=True)
    inject(root, TASK, PUBLIC_ANSWERS)
    public = check_tasks(root, [TASK])[0]
    assert public.passed, public.message                  # the forgery is real ...
    hidden = grade_submission(root, [TASK], seed=SEED, sandbox="none").tasks[0]
    assert hidden.points == 0 and "no stored answer" in hidden.message   # ... and worthless


@pytest.mark.slow
def test_the_instructors_block_is_out_of_reach_in_bubblewrap(tmp_path):
    sandbox = _bwrap_or_skip()
    borrow = ("import importlib.util\n"
              f"spec = importlib.util.spec_from_file_location('ref', {str(SOURCE_ROOT)!r} "
              "+ '/minicnn/models.py')\n"
              "ref = importlib.util.module_from_spec(spec)\n"
              "spec.loader.exec_module(ref)\n"
              "return ref.BasicBlock.backward(self, dout)")
    root = make_copy(tmp_path / "borrow", [TASK], restored=False)
    inject(root, TASK, borrow)
    unsandboxed = grade_submission(root, [TASK], seed=SEED, sandbox="none").tasks[0]
    assert unsandboxed.passed, unsandboxed.message        # it would work without a sandbox
    assert grade_submission(root, [TASK], seed=SEED, sandbox=sandbox).tasks[0].points == 0


@pytest.mark.slow
def test_a_backward_that_changes_the_parameters_is_caught(tmp_path):
    # an optimiser step inside backward: the first call's gradients are right, the second
    # forward sees other weights
    root = make_copy(tmp_path / "step", [TASK], restored=True)
    reference = region_text((root / "minicnn/models.py").read_text(), "BasicBlock.backward")
    inject(root, TASK, reference.replace(
        "return d_main + d_shortcut",
        "for p in self.parameters():\n    p.data -= 0.1 * p.grad\nreturn d_main + d_shortcut"))
    report = grade_submission(root, [TASK], seed=SEED, sandbox="none").tasks[0]
    assert report.points == 0 and "(2nd call)" in report.message, report.message


@pytest.mark.slow
def test_gradescope_grades_an_uploaded_models_py(tmp_path):
    from minicnn.assignments.gradescope.container import grade_in_container
    from minicnn.assignments.release import release

    root = tmp_path / "autograder"
    release(root / "source" / "release", [TASK])
    (root / "source" / "autograder.json").write_text(json.dumps(
        {"tasks": [TASK], "seed": SEED, "timeout": 60, "visibility": "visible",
         "stdout_visibility": "hidden"}))
    (root / "submission").mkdir()
    (root / "submission" / "models.py").write_text((SOURCE_ROOT / "minicnn/models.py")
                                                   .read_text())
    results = grade_in_container(root, sandbox="auto", log=lambda *_: None)
    [test] = results["tests"]
    assert test["score"] == test["max_score"] == TASKS[TASK].points, test["output"]
    assert results["extra_data"]["graded_files"] == {"minicnn/models.py": "models.py"}
