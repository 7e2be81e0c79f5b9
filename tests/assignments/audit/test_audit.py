"""The audit: the catalogue of bugs and alternatives, and the hidden checks it tests.

``test_the_audit_passes_on_the_reference_tree`` grades the whole catalogue (every variant on
its task and on every other task whose checks run its code); the other tests are quick.
"""

import json
from collections import Counter

import pytest

from minicnn.assignments.audit import run as audit
from minicnn.assignments.audit.catalogue import CatalogueError, Variant, variants
from minicnn.assignments.cli import main as cli_main
from minicnn.assignments.registry import SOURCE_ROOT, TASKS
from minicnn.assignments.regions import region_text, replace_region

RECORD_FIELDS = {"task", "name", "kind", "points", "max_points", "as_expected"}


# ------------------------------------------------------------------------------ catalogue


def test_the_catalogue_covers_every_task():
    found = variants()
    bugs = Counter(v.task for v in found if v.kind == "bug")
    assert sum(bugs.values()) >= 60
    assert {task: n for task, n in bugs.items() if n < 3} == {}
    assert set(bugs) == set(TASKS)
    families = {type(TASKS[v.task].spec).__name__ for v in found if v.kind == "alternative"}
    assert families == {type(t.spec).__name__ for t in TASKS.values()}


@pytest.mark.parametrize("variant", variants(), ids=lambda v: v.key)
def test_every_variant_applies_to_the_reference_region(variant):
    path, function = TASKS[variant.task].regions[0]
    source = (SOURCE_ROOT / path).read_text()
    reference = region_text(source, function, path=path)
    body = variant.region(reference)
    assert body.strip() != reference.strip()                  # it changes something
    replace_region(source, function, body, path=path)         # and still parses


def test_an_edit_that_no_longer_applies_is_an_error():
    variant = Variant("relu_forward", "stale", "bug", "x", edits=(("no such text", "y"),))
    with pytest.raises(CatalogueError, match="occurs 0 times"):
        variant.region("out = np.maximum(x, 0)")
    with pytest.raises(CatalogueError, match="kind"):
        Variant("relu_forward", "bad_kind", "feature", "x", body="pass")


def test_the_verdict_rules():
    def record(kind, points, dependents=()):
        return audit.judge_record(audit.AuditRecord(
            "relu_forward", "v", kind, points, 2, False,
            dependents=[{"task": "relu_backward", "points": p, "max_points": 3}
                        for p in dependents]))

    assert record("bug", 0, [3]).as_expected
    assert record("bug", 1.5, [3]).as_expected                    # partial credit is a loss
    assert record("bug", 2, [3]).problem.startswith("MISSED")
    assert record("alternative", 2, [3]).as_expected
    assert record("alternative", 1.5).problem.startswith("REJECTED")
    assert record("bug", 0, [0]).problem == "COLLATERAL: it also costs relu_backward"


def test_the_tasks_that_run_a_region_are_found_by_running_the_checks():
    from minicnn.assignments.grading.cases import compute_expected, hidden_cases, reference_module

    prepared = {}
    for task_id, task in TASKS.items():
        cases = hidden_cases(task, 1)
        prepared[task_id] = (cases, compute_expected(task, cases, reference_module(task.spec)))
    executed = audit.regions_run_by(prepared)
    for task in TASKS.values():
        assert task.regions[0] in executed[task.id], task.id
        if task.requires:                 # a backward's checks run its forward (the pair)
            assert TASKS[task.requires[0]].regions[0] in executed[task.id], task.id
    # one bug costs once: the explanation tasks run no layer of the student's
    assert executed["saliency"] == set(TASKS["saliency"].regions)
    assert executed["grad_cam"] == set(TASKS["grad_cam"].regions)
    layer_bug = next(v for v in variants(["linear_backward"]) if v.kind == "bug")
    assert audit.tasks_running(layer_bug, executed) == []
    forward_bug = next(v for v in variants(["linear_forward"]) if v.kind == "bug")
    assert audit.tasks_running(forward_bug, executed) == ["linear_backward"]


# ------------------------------------------------------------------------------ the audit


@pytest.mark.slow
def test_the_audit_passes_on_the_reference_tree(tmp_path):
    baseline, records = audit.run_audit(None, jobs=2, work_dir=tmp_path)
    assert [b.task for b in baseline if b.points < b.max_points] == []
    assert len(records) == len(variants())
    wrong = [(r.task, r.name, r.problem, r.message[:300]) for r in records if not r.as_expected]
    assert wrong == []
    for r in records:
        if r.kind == "bug":
            assert r.points < r.max_points and r.message
        assert all(d["points"] == d["max_points"] for d in r.dependents), r


@pytest.mark.slow
def test_audit_cli_writes_one_record_per_variant(tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert cli_main(["audit", "--tasks", "relu_backward", "--jobs", "1", "-q",
                     "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["name"] for r in records] == [v.name for v in variants(["relu_backward"])]
    for r in records:
        assert RECORD_FIELDS <= set(r) and r["as_expected"] is True
        assert r["kind"] in ("bug", "alternative") and r["task"] == "relu_backward"
    assert "bugs caught" in capsys.readouterr().out


@pytest.mark.slow
def test_audit_fails_on_a_missed_bug_and_a_rejected_alternative(tmp_path, monkeypatch,
                                                                 capsys):
    # a "bug" that is the reference itself (the checks cannot catch it), and an
    # "alternative" that is wrong: both must make the audit fail
    fake = [Variant("relu_forward", "not_really_a_bug", "bug", "the reference",
                    body="out = np.maximum(x, 0)\ncache = (x,)"),
            Variant("relu_forward", "not_really_correct", "alternative", "abs",
                    body="out = np.abs(x)\ncache = (x,)")]
    monkeypatch.setattr(audit, "catalogue_variants", lambda task_ids=None: fake)
    assert cli_main(["audit", "--tasks", "relu_forward", "--jobs", "1",
                     "--json", str(tmp_path / "a.json")]) == 1
    text = capsys.readouterr().out
    assert "MISSED" in text and "REJECTED" in text
    records = {r["name"]: r for r in json.loads((tmp_path / "a.json").read_text())}
    assert records["not_really_a_bug"]["points"] == records["not_really_a_bug"]["max_points"]
    assert not records["not_really_a_bug"]["as_expected"]
    assert not records["not_really_correct"]["as_expected"]


def test_a_student_copy_has_neither_the_catalogue_nor_the_audit(full_release):
    # its variants are near-solutions and correct alternatives
    assert not (full_release / "minicnn/assignments/audit").exists()
    assert not list(full_release.rglob("catalogue"))


def test_a_variant_written_over_another_of_the_same_size_is_graded_as_itself(tmp_path):
    """The audit writes variant after variant into one copy. Python runs a cached .pyc
    whose recorded source size and mtime (whole seconds) match the file, so a child that
    wrote bytecode made a correct variant written over a same-size bug within one second run
    as the bug (Adam's "numpy_path" graded as "step_counted_after_use", ZeroDivisionError).
    Here the second file gets the first one's size and mtime exactly: it must still earn
    full points, and no bytecode may be left in the submission."""
    import os
    from assignment_helpers import SEED, inject_variant, make_copy
    from minicnn.assignments.grading.grade import grade_submission
    from minicnn.assignments.registry import TASKS

    root = make_copy(tmp_path / "copy", ["adam_step"], restored=True)
    target = root / TASKS["adam_step"].regions[0][0]
    inject_variant(root, "adam_step", "step_counted_after_use")
    bug = grade_submission(root, ["adam_step"], seed=SEED, sandbox="none").tasks[0]
    assert bug.points < bug.max_points
    stamp = target.stat()
    inject_variant(root, "adam_step", "numpy_path")
    assert target.stat().st_size == stamp.st_size           # the same size: the hazard
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    correct = grade_submission(root, ["adam_step"], seed=SEED, sandbox="none").tasks[0]
    assert correct.points == correct.max_points, correct.message
    assert not list(root.rglob("__pycache__"))
