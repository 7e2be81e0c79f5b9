"""Release -> (restore | inject a bug | misbehave) -> grade, end to end.

Every grade spawns one process per task, so most tests grade only the tasks they are about.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from minicnn.assignments.grading.grade import grade_submission
from minicnn.assignments.registry import SOURCE_ROOT, TASKS
from minicnn.assignments.regions import find_regions, region_text
from minicnn.assignments.release import restore

from assignment_helpers import SEED, inject, inject_variant, make_copy

pytestmark = pytest.mark.slow


def _by_task(report):
    return {t.task: t for t in report.tasks}


def _assert_only_failure(report, bad_task, *phrases):
    tasks = _by_task(report)
    bad = tasks.pop(bad_task)
    assert not bad.passed and bad.points == 0, bad.message
    for phrase in phrases:
        assert phrase in bad.message, bad.message
    for other in tasks.values():
        assert other.passed and other.points == other.max_points, (other.task, other.message)


# ------------------------------------------------------------------ untouched, restored, repo


def test_untouched_release_earns_nothing_and_says_not_implemented(full_release):
    report = grade_submission(full_release, seed=SEED, timeout=60)
    assert [t.task for t in report.tasks] == list(TASKS)
    assert report.total == 0 and report.max_total == sum(t.points for t in TASKS.values())
    for task in report.tasks:
        assert task.points == 0 and not task.passed
        assert "not implemented" in task.message, (task.task, task.message)
        assert task.task in task.message                 # the stub names its task


def test_restored_release_earns_full_points(full_release, copy_of):
    copy = copy_of(full_release)
    restore(copy)
    report = grade_submission(copy, seed=SEED, timeout=60)
    assert report.total == report.max_total, report.table()
    assert all(t.passed for t in report.tasks)


def test_the_source_tree_itself_earns_full_points():
    tasks = ["conv2d_backward", "max_pool2d_backward", "batch_norm_forward", "dropout_backward",
             "cross_entropy_forward", "adam_step"]
    report = grade_submission(SOURCE_ROOT, tasks, seed=SEED + 1, timeout=60)
    assert report.total == report.max_total, report.table()


def test_release_contents(full_release):
    root = full_release
    assert not (root / "minicnn/assignments/checks/hidden_grids.py").exists()   # stays home
    files = (root.parent / "released_files.txt").read_text().split("\n")
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", ".nbi", ".nbc"))]
    assert (root / "setup.cfg").is_file() and (root / "pyproject.toml").is_file()
    readme = (root / "README.md").read_text()
    assert "pip install -e ." in readme and "minicnn assignment check" in readme
    for task in TASKS.values():
        assert (root / f"minicnn/assignments/public_data/{task.id}.npz").is_file()
        test_file = (root / f"tests/test_{task.id}.py").read_text()
        assert f"@pytest.mark.{task.id}" in test_file
        for path, function in task.regions:
            text = (root / path).read_text()
            regions = [r for r in find_regions(text, path) if r.function == function]
            assert regions, (task.id, function)                 # markers stay
            assert region_text(text, function).startswith(
                f'raise NotImplementedError("{task.id}: implement {function}')
            assert f"def {function.split('.')[-1]}(" in text   # signature kept
        for path, function in task.strips:
            assert "is part of the solution" in region_text((root / path).read_text(), function)
    # the reference code of the stubbed functions is gone
    assert "np.sum(weight[o] * window)" not in (root / "minicnn/functional/conv.py").read_text()


def _python(code, root, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_student_copy_imports_everything_with_every_task_stubbed(full_release):
    proc = _python("""
        import importlib, pkgutil, minicnn
        assert minicnn.__file__.startswith(%r), minicnn.__file__
        for mod in pkgutil.walk_packages(minicnn.__path__, "minicnn."):
            if mod.name.endswith("__main__"):
                continue
            importlib.import_module(mod.name)
        print("ok")
    """ % str(full_release), full_release)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_partial_release_runs_the_layers_it_did_not_select(tmp_path):
    root = make_copy(tmp_path / "conv_only", ["conv2d_forward", "max_pool2d_backward"],
                     restored=False)
    proc = _python("""
        import numpy as np
        import minicnn.functional as F
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 3, 8, 8))
        w = rng.standard_normal((4, 3, 3, 3))
        pooled, _ = F.max_pool2d_forward(x, 2)
        bn, _ = F.batch_norm_forward(x, None, None, None, None, True)
        for method in ("naive", "im2col"):     # im2col computes the same answer: stubbed too
            try:
                F.conv2d_forward(x, w, None, method=method)
            except NotImplementedError as exc:
                print(exc)
    """, root)
    assert proc.returncode == 0, proc.stderr
    assert "conv2d_forward: implement _conv2d_naive_forward" in proc.stdout
    assert "conv2d_im2col_forward: implement _conv2d_im2col_forward" in proc.stdout


# ------------------------------------------------------------------------------- student bugs

CONV_BACKWARD_STRIDE_IGNORED = ("conv2d_backward", None, lambda ref: ref.replace(
    "top, left = i * stride_h, j * stride_w", "top, left = i, j"))

MAX_POOL_FORWARD_OWN_CACHE = """
    kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, stride, padding,
                                                             "max_pool2d_forward")
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, height, width = x.shape
    x_pad = np.full((n_batch, channels, height + 2 * ph + 4 * kh, width + 2 * pw + 4 * kw),
                    -np.inf, dtype=x.dtype)
    x_pad[:, :, ph:ph + height, pw:pw + width] = x
    out = np.empty((n_batch, channels, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    cache = (x_pad, kernel, stride, padding, x.shape)
"""

MAX_POOL_BACKWARD_OWN_CACHE = """
    x_pad, kernel, stride, padding, x_shape = cache
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dx_pad = np.zeros(x_pad.shape, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x_pad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            first = window.reshape(window.shape[0], window.shape[1], -1).argmax(axis=2)
            u, v = np.divmod(first, kw)
            for n in range(dout.shape[0]):
                for c in range(dout.shape[1]):
                    dx_pad[n, c, i * sh + u[n, c], j * sw + v[n, c]] += dout[n, c, i, j]
    dx = dx_pad[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
"""

BATCH_NORM_BACKWARD_NO_MEAN_TERM = """
    channels = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    gamma = np.ones(channels, dtype=x.dtype) if weight is None else weight
    m = x.size // channels
    dweight = None if weight is None else np.sum(dout * x_hat, axis=axes)
    dbias = None if bias is None else np.sum(dout, axis=axes)
    dxhat = dout * gamma.reshape(shape)
    # BUG: the path through the batch mean, - sum(dxhat) / m, is missing
    dx = inv_std.reshape(shape) * (
        dxhat - x_hat * np.sum(dxhat * x_hat, axis=axes).reshape(shape) / m)
"""

DROPOUT_NOT_RESCALED = """
    if not training or p == 0:
        return x, (None,)
    keep = rng.random(x.shape, dtype=x.dtype) >= p
    mask = keep.astype(x.dtype)          # BUG: not rescaled by 1 / (1 - p)
    out = x * mask
    cache = (mask,)
"""


def _ref_region(task_id):
    path, function = TASKS[task_id].regions[0]
    return region_text((SOURCE_ROOT / path).read_text(), function)


BUGS = {
    # name: (tasks to release and grade, [(task, region body)], the task that must fail,
    #        phrases its message must contain)
    "conv_backward_ignores_stride": (
        ["conv2d_forward", "conv2d_backward"],
        [("conv2d_backward", lambda: _ref_region("conv2d_backward").replace(
            "top, left = i * stride_h, j * stride_w", "top, left = i, j"))],
        "conv2d_backward", ["dx wrong", "did you handle the stride", "dbias correct"]),
    "batch_norm_backward_missing_mean_term": (
        ["batch_norm_forward", "batch_norm_backward"],
        [("batch_norm_backward", lambda: BATCH_NORM_BACKWARD_NO_MEAN_TERM)],
        "batch_norm_backward", ["dx wrong", "dweight and dbias correct", "batch mean"]),
    "dropout_not_rescaled": (
        ["dropout_forward", "dropout_backward"],
        [("dropout_forward", lambda: DROPOUT_NOT_RESCALED)],
        "dropout_forward", ["not rescaled", "1/(1-p)"]),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_typical_bug_costs_its_task_only(bug, tmp_path):
    tasks, edits, bad_task, phrases = BUGS[bug]
    root = make_copy(tmp_path / bug, tasks, restored=True)
    for task_id, body in edits:
        inject(root, task_id, body())
    report = grade_submission(root, tasks, seed=SEED + 2, timeout=60)
    _assert_only_failure(report, bad_task, *phrases)


# ------------------------------------------------------- the whole contract: caches, types


def _pair_notes(report):
    return [r for r in report.results if r.kind == "pair"]


def test_a_wrong_cache_costs_the_forward_and_the_backward_says_reference_cache_only(tmp_path):
    # max-pool keeping the LAST tied maximum: the output is right, the cache's argmax is not
    tasks = ["max_pool2d_forward", "max_pool2d_backward"]
    root = make_copy(tmp_path / "ties", tasks, restored=True)
    inject_variant(root, "max_pool2d_forward", "last_tied_maximum")
    report = grade_submission(root, tasks, seed=SEED, timeout=60)
    by = _by_task(report)
    forward, backward = by["max_pool2d_forward"], by["max_pool2d_backward"]
    assert "max_pool2d_backward" in report.table() and "PASS*" in report.table()
    assert forward.points == 0, forward.message
    assert "cache: argmax wrong" in forward.message and "tied maxima" in forward.message
    assert "FIRST maximum" in forward.message                         # the hint
    assert "out correct" in forward.message
    # the backward is right on the reference cache: full points, said plainly
    assert backward.points == backward.max_points and backward.passed, backward.message
    assert "only with the reference forward's cache" in backward.message
    assert "max_pool2d_forward" in backward.message
    notes = _pair_notes(backward)
    assert notes and any(not r.passed for r in notes)       # not recorded as a plain pass


def test_batch_norm_caching_the_std_costs_the_forward_only(tmp_path):
    tasks = ["batch_norm_forward", "batch_norm_backward"]
    root = make_copy(tmp_path / "bn_std", tasks, restored=True)
    inject_variant(root, "batch_norm_forward", "cache_std_not_inverse")
    by = _by_task(grade_submission(root, tasks, seed=SEED, timeout=60))
    assert by["batch_norm_forward"].points == 0
    assert "cache: inv_std wrong" in by["batch_norm_forward"].message
    assert "INVERSE of the standard deviation" in by["batch_norm_forward"].message
    assert by["batch_norm_backward"].points == by["batch_norm_backward"].max_points


def test_a_backward_that_reads_an_undocumented_cache_fails_both_tasks(tmp_path):
    tasks = ["max_pool2d_forward", "max_pool2d_backward"]
    root = make_copy(tmp_path / "own_cache", tasks, restored=True)
    inject(root, "max_pool2d_forward", MAX_POOL_FORWARD_OWN_CACHE)
    inject(root, "max_pool2d_backward", MAX_POOL_BACKWARD_OWN_CACHE)
    by = _by_task(grade_submission(root, tasks, seed=SEED, timeout=60))
    assert by["max_pool2d_forward"].points == 0
    assert "cache: argmax" in by["max_pool2d_forward"].message      # the layout is documented
    assert by["max_pool2d_backward"].points == 0
    assert "read the cache exactly as the forward's docstring" in \
        by["max_pool2d_backward"].message


def test_relu_backward_at_exactly_zero(tmp_path):
    tasks = ["relu_forward", "relu_backward"]
    root = make_copy(tmp_path / "relu0", tasks, restored=True)
    inject_variant(root, "relu_backward", "greater_equal")
    _assert_only_failure(grade_submission(root, tasks, seed=SEED, timeout=60), "relu_backward",
                         "the failing cases all have x exactly 0",
                         "dx wrong only where x is exactly 0")


def test_a_python_float_loss_is_not_the_documented_array(tmp_path):
    tasks = ["cross_entropy_forward"]
    root = make_copy(tmp_path / "float_loss", tasks, restored=True)
    inject_variant(root, "cross_entropy_forward", "python_float_loss")
    task = grade_submission(root, tasks, seed=SEED, timeout=60).tasks[0]
    assert 0 < task.points < task.max_points                   # values right: partial credit
    assert "the type is not the documented one" in task.message
    assert "a float, the docstring says a numpy array" in task.message


def test_a_finite_difference_backward_runs_out_of_time(tmp_path, monkeypatch):
    # right on every small case (Linear is linear), but 2 forward calls per input element:
    # far beyond the budget at the realistic size (benchmarks/HISTORY.md, "Grading:
    # the time budget"), so a budget with 5 s of start-up instead of STARTUP_SECONDS (which
    # waits 20 s for the kill) proves the same thing in 10 s
    from minicnn.assignments.checks import base
    monkeypatch.setattr(base, "STARTUP_SECONDS", 5.0)
    tasks = ["linear_forward", "linear_backward"]
    root = make_copy(tmp_path / "fd", tasks, restored=True)
    inject_variant(root, "linear_backward", "finite_differences")
    report = grade_submission(root, tasks, seed=SEED, timeout=60)
    _assert_only_failure(report, "linear_backward", "time budget exceeded",
                         "realistic size", "no finite differences")
    bad = _by_task(report)["linear_backward"]
    failed = {r.case for r in bad.results if not r.passed and r.kind == "value"}
    assert failed == {"realistic"}                    # the time budget alone caught it


PLAIN_LOOP_CONV_BACKWARD = """
    n_batch, out_channels, out_h, out_w = dout.shape
    _, channels, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = stride
    dx_padded = np.zeros_like(x_padded)
    dweight = np.zeros_like(weight)
    dbias = np.zeros(out_channels, dtype=dout.dtype)
    for n in range(n_batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    grad = dout[n, o, i, j]
                    dbias[o] += grad
                    for c in range(channels):
                        for u in range(kernel_h):
                            for v in range(kernel_w):
                                row, col = i * stride_h + u, j * stride_w + v
                                dweight[o, c, u, v] += grad * x_padded[n, c, row, col]
                                dx_padded[n, c, row, col] += grad * weight[o, c, u, v]
    return dx_padded, dweight, dbias
"""


def test_a_plain_slow_loop_backward_passes_the_time_budget(tmp_path):
    # every sum of the lecture's formula a Python loop: ~10x the reference, far inside budget
    tasks = ["conv2d_backward"]
    root = make_copy(tmp_path / "plain", tasks, restored=True)
    inject(root, "conv2d_backward", PLAIN_LOOP_CONV_BACKWARD)
    task = grade_submission(root, tasks, seed=SEED, timeout=60).tasks[0]
    assert task.passed and task.points == task.max_points, task.message
    budget = [r for r in task.results if r.what == "time budget"]
    assert budget and all(r.passed for r in budget)


# ------------------------------------------------------- feedback: where the error sits


FEEDBACK = {
    # variant: (task, phrases of the message)
    ("avg_pool2d_backward", "assigned_not_accumulated"): (
        "the failing cases all have overlapping windows",
        "dx is wrong only where windows overlap", "+=, not ="),
    ("conv2d_backward", "dx_assigned_not_accumulated"): ("dweight and dbias correct",),
    ("avg_pool2d_forward", "padding_not_counted"): (
        "the failing cases all have padding", "windows that reach into the padding"),
    ("max_pool2d_forward", "window_local_index"): (
        "cache: argmax wrong", "positions inside each window"),
    ("sgd_step", "buffer_not_kept"): ("the first step is right but later ones are not",),
    ("avg_pool2d_forward", "output_size_off_by_one"): ("off by one", "H_out = floor("),
    ("batch_norm_forward", "running_stats_rebound"): ("was not changed: update it IN PLACE",),
}


@pytest.mark.parametrize("task_id, name", sorted(FEEDBACK))
def test_a_failing_task_says_where_the_error_sits_without_the_answer(task_id, name, tmp_path):
    root = make_copy(tmp_path / name, [task_id], restored=True)
    inject_variant(root, task_id, name)
    task = grade_submission(root, [task_id], seed=SEED, timeout=60).tasks[0]
    assert task.points == 0
    for phrase in FEEDBACK[task_id, name]:
        assert phrase in task.message, task.message
    assert "expected [" not in task.message and "array(" not in task.message


def test_wrong_dtype_earns_partial_credit(tmp_path):
    root = make_copy(tmp_path / "dtype", ["relu_forward", "relu_backward"], restored=True)
    inject(root, "relu_forward", "out = np.maximum(x, 0).astype(np.float64)\ncache = (x,)")
    tasks = _by_task(grade_submission(root, ["relu_forward", "relu_backward"], seed=SEED))
    assert 0 < tasks["relu_forward"].points < tasks["relu_forward"].max_points
    assert "dtype is not preserved" in tasks["relu_forward"].message
    assert tasks["relu_backward"].passed


# ------------------------------------------------------------------------- misbehaving code


def test_hang_exit_and_print_cost_only_their_own_task(tmp_path):
    tasks = ["relu_forward", "relu_backward", "linear_forward", "linear_backward",
             "cross_entropy_forward", "dropout_forward"]
    root = make_copy(tmp_path / "rogue", tasks, restored=True)
    inject(root, "relu_forward", "while True:\n    pass")
    inject(root, "linear_forward", "import sys\nsys.exit(3)")
    inject(root, "cross_entropy_forward", "import os\nos._exit(0)")
    inject(root, "dropout_forward", "for _ in range(200):\n    print('debug' * 1000)\n"
           + _ref_region("dropout_forward"))
    report = grade_submission(root, tasks, seed=SEED, timeout=12, jobs=2)
    by = _by_task(report)
    assert by["relu_forward"].points == 0 and "timed out" in by["relu_forward"].message
    assert by["linear_forward"].points == 0 and "sys.exit" in by["linear_forward"].message
    assert by["cross_entropy_forward"].points == 0
    assert "before finishing" in by["cross_entropy_forward"].message
    for ok in ("relu_backward", "linear_backward", "dropout_forward"):
        assert by[ok].passed, (ok, by[ok].message)


def test_a_runaway_allocation_fails_fast_and_costs_only_its_task(tmp_path):
    # 6 GiB of address space: granted at once on an 8+ GB machine without the grader's limit
    tasks = ["relu_forward", "relu_backward"]
    root = make_copy(tmp_path / "hog", tasks, restored=True)
    inject(root, "relu_forward", "big = np.empty(6 * 1024 ** 3, dtype=np.uint8)\n"
           + _ref_region("relu_forward"))
    by = _by_task(grade_submission(root, tasks, seed=SEED, timeout=60))
    assert by["relu_forward"].points == 0
    assert "MemoryError" in by["relu_forward"].message, by["relu_forward"].message
    assert by["relu_backward"].passed


def test_tampering_with_the_tests_and_the_checking_code_changes_nothing(tmp_path):
    tasks = ["relu_forward", "linear_backward"]
    root = make_copy(tmp_path / "tamper", tasks, restored=False)
    shutil.rmtree(root / "tests")
    forged = 'print("PASS"); import json; raise SystemExit(0)\n'
    for name in ("_child.py", "checks.py", "engine.py", "runner.py", "families.py"):
        (root / "minicnn/assignments" / name).write_text(forged)
    report = grade_submission(root, tasks, seed=SEED, timeout=60)
    assert report.total == 0 and all("not implemented" in t.message for t in report.tasks)
    restore(root, tasks)
    assert grade_submission(root, tasks, seed=SEED, timeout=60).total == report.max_total


def test_a_deleted_module_does_not_fall_back_to_the_graders_code(tmp_path):
    root = make_copy(tmp_path / "missing", ["cross_entropy_forward"], restored=True)
    (root / "minicnn/functional/loss.py").unlink()
    report = grade_submission(root, ["cross_entropy_forward"], seed=SEED, timeout=60)
    assert report.total == 0
    assert "loss" in report.tasks[0].message


def test_grade_json_shape(tmp_path):
    root = make_copy(tmp_path / "json", ["relu_forward"], restored=False)
    data = grade_submission(root, ["relu_forward", "relu_backward"], seed=SEED).as_dict()
    data = json.loads(json.dumps(data))
    assert data["total"] == 3 and data["max_total"] == 5
    assert [t["task"] for t in data["tasks"]] == ["relu_forward", "relu_backward"]
    assert set(data["tasks"][0]) == {"task", "points", "max_points", "passed", "message"}


# ------------------------------------------------------- the checks' machinery, in-process


def test_a_cache_travels_as_data_and_comes_back_equal():
    import numpy as np

    from minicnn.assignments.grading.child import describe_result
    from minicnn.assignments.checks.compare import decode_value, encode_reference, read_json_array

    cache = ((2, 3, 4, 4), np.arange(8, dtype=np.int64).reshape(2, 4), (2, 2), None, True,
             np.float32(0.5), [1.5, "naive"])
    arrays = describe_result(np.zeros(3), cache, np)
    meta = read_json_array(arrays["meta"])
    assert meta["out_type"] == "ndarray"
    back = decode_value(meta["cache"], arrays)
    assert back[0] == (2, 3, 4, 4) and back[2] == (2, 2) and back[3] is None and back[4] is True
    assert back[1].dtype == np.int64 and np.array_equal(back[1], cache[1])
    assert back[5] == 0.5 and back[6] == [1.5, "naive"]
    ref = encode_reference(cache)
    assert decode_value(read_json_array(ref["refcache_layout"]), ref)[0] == (2, 3, 4, 4)
    # anything that is not data is described by its type name, never pickled
    odd = describe_result(1.0, (object(),), np)
    assert read_json_array(odd["meta"])["cache"] == {"tuple": [{"other": "object"}]}
    assert read_json_array(odd["meta"])["out_type"] == "builtins.float"


def test_untrusted_descriptions_are_bounded():
    import numpy as np

    from minicnn.assignments.grading.child import describe_result
    from minicnn.assignments.checks.compare import decode_value, read_json_array

    assert read_json_array(np.frombuffer(b"{not json", dtype=np.uint8)) is None
    assert read_json_array(np.zeros(3, dtype=np.float64)) is None
    huge = describe_result(np.zeros(1), tuple(range(20000)), np)
    assert "more than" in read_json_array(huge["meta"])["cache_error"]
    with pytest.raises(ValueError):
        decode_value({"array": "cache/9"}, {})                   # points at nothing
    with pytest.raises(ValueError):
        decode_value({"tuple": 3}, {})


def test_compare_caches_names_the_field_and_never_the_values():
    import numpy as np

    from minicnn.assignments.checks.compare import compare_caches

    want = ((2, 3), np.arange(6, dtype=np.int64), np.ones(3, dtype=np.float32), None)
    names = ("x_shape", "argmax", "inv_std", "weight")
    assert compare_caches(want, want, names, np.float32) == []
    got = ((2, 3), np.arange(6, dtype=np.int64)[::-1].copy(), np.ones(3), None)
    problems = {p.field: p for p in compare_caches(got, want, names, np.float32)}
    assert set(problems) == {"argmax", "inv_std"}
    assert problems["argmax"].message == "6 of 6 entries differ from the documented ones"
    assert problems["inv_std"].kind == "dtype"                    # float64 for float32
    short = compare_caches(want[:2], want, names)
    assert short[0].message.startswith("has 2 item(s), the docstring's has 4")
    wrong_kind = compare_caches(((2, 3), 7, want[2], None), want, names)
    assert wrong_kind[0].field == "argmax" and "is number" in wrong_kind[0].message


def test_where_the_error_sits_for_windowed_layers():
    import numpy as np

    from minicnn.assignments.checks.windows import locate_windows

    # k3 s1 p1 on 6x6: overlaps everywhere inside; the border rows/cols touch the padding
    geometry = (3, 3, 1, 1, 1, 1, 6, 6, 6, 6)
    border = np.zeros((1, 1, 6, 6), dtype=bool)
    border[..., 0, :] = True
    assert "reach into the padding" in locate_windows(border, geometry, "output")
    # k2 s2 on 5x5: the last row and column are in no window
    geometry = (2, 2, 2, 2, 0, 0, 5, 5, 2, 2)
    uncovered = np.zeros((1, 1, 5, 5), dtype=bool)
    uncovered[..., 4, :] = True
    assert "no window covers" in locate_windows(uncovered, geometry, "input")
    # k3 s2 on 7x7: rows/cols 2 and 4 are shared by two windows
    geometry = (3, 3, 2, 2, 0, 0, 7, 7, 3, 3)
    shared = np.zeros((1, 1, 7, 7), dtype=bool)
    shared[..., 2, 1] = shared[..., 4, 4] = True
    assert "only where windows overlap" in locate_windows(shared, geometry, "input")
    # padding 1 around a 6x6 input, k3 s2: only the border of dx is wrong
    geometry = (3, 3, 2, 2, 1, 1, 6, 6, 3, 3)
    frame = np.zeros((1, 1, 6, 6), dtype=bool)
    frame[..., 0, 3] = frame[..., 5, 5] = True
    assert "only on the border rows and columns" in locate_windows(frame, geometry, "input")
