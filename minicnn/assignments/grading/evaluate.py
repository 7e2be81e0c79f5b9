"""Evaluate one task on one copy of minicnn: run the student's code on the cases in a separate
process (``runner``), judge what came back (the task's check spec), and sum it up in one line.

Used by ``check`` (public cases, expected values stored in the student copy: ``public``), by
``grade`` (hidden cases, expected values from the grader's own minicnn) and by the audit.

Scoring: a task earns its points when every value check passes. When every value is right
but a float32 case came back in another dtype, it earns ``DTYPE_CREDIT`` of its points.
Anything else (a wrong value, an exception, a time-out, an early exit) earns 0.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from minicnn.assignments.checks.base import (BUDGET_FACTOR, TAG_HINTS, TAG_NAMES, CallOutcome,
                                             CheckResult, distinguishing_tags, tag_hints,
                                             uses_reference_cache)
from minicnn.assignments.grading.runner import run_calls

DTYPE_CREDIT = 0.75
BUDGET_FACTOR_TEXT = f"{BUDGET_FACTOR:g} x"


@dataclass
class TaskReport:
    task: str
    points: float
    max_points: float
    passed: bool
    message: str
    results: list = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"task": self.task, "points": self.points, "max_points": self.max_points,
                "passed": self.passed, "message": self.message}


# ----------------------------------------------------------------------------- evaluation


def evaluate(task, root, *, cases, expected, timeout: float, public: bool = False,
             sandbox=None) -> TaskReport:
    """Run ``cases`` of ``task`` on the code under ``root`` and judge them (in ``sandbox``,
    a :class:`~minicnn.assignments.grading.sandbox.Sandbox`; None: a plain child process, as
    the public checks on a student's own machine use).

    The untimed cases share one process, limited to ``timeout`` seconds. Each timed
    (realistic-size) case runs alone in its own process, killed after its ``case.budget``
    (computed by the grader from the reference's time, see ``checks.base.backward_budget``):
    only a time the grader measures itself, the whole child's wall time, is trusted.
    """
    return evaluate_together([(task, cases, expected)], root, timeout=timeout, public=public,
                             sandbox=sandbox)[0]


def evaluate_together(items, root, *, timeout: float, public: bool = False,
                      sandbox=None) -> list:
    """``evaluate`` for several tasks of ONE copy, their untimed cases in one process (the
    audit grades a variant on its own task and on the tasks whose checks run its code: one
    process start instead of two). ``items``: ``(task, cases, expected)`` each; a TaskReport
    each."""
    many = len(items) > 1
    untimed = [(case, f"{task.id}/{case.name}" if many else case.name)
               for task, cases, _ in items for case in cases if not case.timed]
    ids = [call["id"] for case, _ in untimed for call in case.calls]
    if len(ids) != len(set(ids)):
        raise ValueError("the tasks graded together have calls of the same name")
    run = _run_cases(root, untimed, timeout, public, sandbox)
    reports = []
    for task, cases, expected in items:
        own = {call["id"] for case in cases for call in case.calls}
        view = copy.copy(run)
        view.outcomes = {k: v for k, v in run.outcomes.items() if k in own}
        reports.append(_judge_task(task, root, cases, expected, view, timeout, public,
                                   sandbox))
    return reports


def _judge_task(task, root, cases, expected, run, timeout, public, sandbox) -> TaskReport:
    """Run the timed cases (each alone, within its budget), judge everything, sum it up."""
    outcomes = dict(run.outcomes)
    seconds = run.seconds
    budget_results, unjudged = [], set()
    # the backward on the reference caches runs first in the process: if those calls all
    # came back, a time-out came later (the student's forward, in a pair call)
    ref_ids = [call["id"] for case in cases if not case.timed for call in case.calls
               if uses_reference_cache(call)]
    hung = run.timed_out and not (ref_ids and all(
        run.outcomes.get(i) is not None and run.outcomes[i].ok for i in ref_ids))
    for case in (case for case in cases if case.timed):
        limit = min(timeout, case.budget or timeout)
        if hung:                        # the task's code hangs: do not wait for it again
            budget_results.append(CheckResult(case.name, "time budget", False,
                                              detail="not run: the other cases timed out"))
            continue
        if run.outcomes and not any(o.ok for o in run.outcomes.values()):
            continue                    # nothing ran (a stub, an import error): nothing to time
        timed = _run_cases(root, [(case, case.name)], limit, public, sandbox)
        seconds += timed.seconds
        outcomes.update(timed.outcomes)
        if timed.timed_out:
            unjudged.add(case.name)             # its only verdict is the time budget's
            budget_results.append(CheckResult(
                case.name, "time budget", False,
                detail=f"realistic size: the backward took more than its time budget "
                       f"({limit:.0f} s: start-up plus {BUDGET_FACTOR_TEXT} the reference's "
                       f"time)", hint=TAG_HINTS["realistic"]))
        elif not timed.problem:
            budget_results.append(CheckResult(case.name, "time budget", True))
    results = []
    for case in (case for case in cases if case.name not in unjudged):
        case_outcomes = {call["id"]: outcomes.get(call["id"]) or CallOutcome(error="not run")
                         for call in case.calls}
        results.extend(task.spec.judge(case, case_outcomes, expected.get(case.name, {})))
    results.extend(budget_results)
    report = summarize(task, cases, results, run)
    report.seconds = seconds
    return report


def _run_cases(root, cases, timeout, public, sandbox):
    """One child process for the calls of ``cases``: ``(case, prefix)`` pairs, the prefix
    naming the case's arrays and reference caches in the shared files."""
    calls, arrays, ref_caches = [], {}, {}
    for case, prefix in cases:
        for name, value in case.arrays.items():
            arrays[f"{prefix}/{name}"] = value
        for call in case.calls:
            if public and uses_reference_cache(call):
                continue                                 # no reference caches in a student copy
            calls.append(_prefix_arrays(call, prefix))
        for key, cache in case.ref_caches.items():
            ref_caches[f"{prefix}:{key}"] = cache
    # Backward-on-reference-cache calls first: if the student's forward hangs or exits in a
    # pair call, the backward has been judged already (a forward bug costs the forward only).
    calls.sort(key=lambda call: call.get("forward") is not None)
    run = run_calls(root, calls, arrays, ref_caches, timeout=timeout, **_sandbox_kw(sandbox))
    if public:
        for case, _ in cases:
            for call in case.calls:
                if call["id"] not in run.outcomes:
                    run.outcomes[call["id"]] = CallOutcome(error="skipped", skipped=True)
    return run


def _sandbox_kw(sandbox) -> dict:
    """``sandbox=`` for run_calls only when one is given (a plain child process otherwise)."""
    return {} if sandbox is None else {"sandbox": sandbox}


def _prefix_arrays(call, prefix):
    """Array names are per case in the spec; in the shared inputs file they get a prefix."""
    def fix(spec):
        if isinstance(spec, dict):
            if "a" in spec:
                return {"a": f"{prefix}/{spec['a']}"}
            if "t" in spec:
                return {"t": [fix(s) for s in spec["t"]]}
        return spec

    call = dict(call)
    call["args"] = [fix(s) for s in call.get("args", [])]
    call["kwargs"] = {k: fix(s) for k, s in call.get("kwargs", {}).items()}
    if call.get("dout"):
        call["dout"] = f"{prefix}/{call['dout']}"
    if call.get("ref_cache"):
        call["ref_cache"] = f"{prefix}:{call['ref_cache']}"
    if call.get("kind") == "optimizer":
        call["params"] = [f"{prefix}/{n}" for n in call["params"]]
        call["grads"] = [[f"{prefix}/{n}" for n in step] for step in call["grads"]]
    if call.get("kind") == "explain":
        call["x"] = f"{prefix}/{call['x']}"
        call["state"] = {key: f"{prefix}/{name}" for key, name in call["state"].items()}
    if call.get("kind") == "residual_block":
        call["state"] = {key: f"{prefix}/{name}" for key, name in call["state"].items()}
        call["rounds"] = [[f"{prefix}/{name}" for name in pair] for pair in call["rounds"]]
    return call


def _names(items):
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def summarize(task, cases, results, run) -> TaskReport:
    """Points and a one-paragraph diagnosis for a task from its check results.

    The diagnosis names what is wrong (``dx``, ``cache: argmax``), in how many cases, the
    case families the failing cases share (stride > 1, padding, ties, float32, realistic
    size, ...), what is right, and hints on where the error sits; never expected values."""
    max_points = task.points
    outcomes = [o for o in run.outcomes.values() if not o.skipped]
    errors = [o.error for o in outcomes if not o.ok and o.error]
    if outcomes and errors and len(errors) == len(outcomes) and \
            all(e.startswith("NotImplementedError") for e in errors):
        own = next((e for e in errors if f"{task.id}:" in e), None)
        if own is None:                  # e.g. a backward check stopped in the forward stub
            other = errors[0].split(":", 2)[1].strip() if errors[0].count(":") >= 2 else ""
            return TaskReport(task.id, 0, max_points, False,
                              f"not implemented: its checks need {other or 'another task'} "
                              f"first ({errors[0][:200]})", results)
        return TaskReport(task.id, 0, max_points, False, f"not implemented ({own[:200]})",
                          results)
    if getattr(run, "foreign_modules", None):
        return TaskReport(task.id, 0, max_points, False, run.problem, results)
    values = [r for r in results if r.kind == "value"]
    dtypes = [r for r in results if r.kind == "dtype"]
    failed = [r for r in values if not r.passed]
    n_cases = len(cases)
    if failed and run.problem:
        return TaskReport(task.id, 0, max_points, False, run.problem, results)
    if not failed:
        note = _ref_cache_note(task, [r for r in results if r.kind == "pair"])
        bad_dtypes = [r for r in dtypes if not r.passed]
        if not bad_dtypes:
            return TaskReport(task.id, max_points, max_points, True,
                              f"all {len(values)} checks passed on {n_cases} cases{note}",
                              results)
        points = round(max_points * DTYPE_CREDIT, 2)
        what = _names(r.what.replace("dtype of ", "").replace("type of ", "")
                      for r in bad_dtypes)
        first = bad_dtypes[0]
        kind = "type is not the documented one" if first.what.startswith("type of") else \
            "dtype is not preserved"
        return TaskReport(task.id, points, max_points, False,
                          f"values correct, but the {kind}: {what} "
                          f"is {first.detail} (case {first.case}); "
                          f"{first.hint or TAG_HINT_FLOAT32}{note}", results)
    parts = []
    raised = [r for r in failed if r.error is None and _looks_like_exception(r.detail)]
    if raised:
        first = raised[0]
        parts.append(f"raised {first.detail[:300]} (case {first.case})")
    wrong = [r for r in failed if r not in raised]
    by_what: dict[str, list[CheckResult]] = {}
    for r in wrong:
        by_what.setdefault(r.what, []).append(r)
    for what, items in by_what.items():
        cases_failed = list(dict.fromkeys(r.case for r in items))
        errs = [r.error for r in items if r.error is not None and math.isfinite(r.error)]
        err_text = f": relative error {max(errs):.1e}" if errs else ""
        if not errs and items[0].detail:
            err_text = f": {items[0].detail}"
        verb = "exceeded" if what == "time budget" else "wrong"
        parts.append(f"{what} {verb}{err_text} in {len(cases_failed)} of {n_cases} case(s) "
                     f"({', '.join(cases_failed[:4])}{', ...' if len(cases_failed) > 4 else ''})")
    correct = [r.what for r in values if r.passed and r.what not in by_what
               and r.what not in {"time budget", "cache"} and not r.what.startswith("out (")]
    correct = [w for w in dict.fromkeys(correct)
               if w not in by_what and not any(w == r.what for r in failed)]
    if correct and by_what:
        parts.append(f"{_names(correct)} correct")
    failed_cases = {r.case for r in failed}
    tags = {case.name: case.tags for case in cases}
    failed_tags = [tags[c] for c in failed_cases if c in tags]
    passed_tags = [tags[c.name] for c in cases if c.name not in failed_cases]
    families = [TAG_NAMES[t] for t in distinguishing_tags(failed_tags, passed_tags)
                if t in TAG_NAMES]
    if families:
        parts.append(f"the failing cases all have {_names(families)}")
    hints = list(dict.fromkeys(r.hint for r in failed if r.hint))
    hints = [h for h in hints if not h.startswith(GENERIC_HINT_PREFIXES)] or hints
    hints += [h for h in tag_hints(failed_tags, passed_tags)
              if not any(h in shown for shown in hints)]          # said already
    message = "; ".join(parts)
    if hints:
        message += "; hint: " + " / ".join(list(dict.fromkeys(hints))[:3])
    return TaskReport(task.id, 0, max_points, False, message, results)


def _ref_cache_note(task, pair_results) -> str:
    """Said plainly when a backward earned its points only on the reference forward's cache."""
    bad = list(dict.fromkeys(r.case for r in pair_results if not r.passed))
    if not bad:
        return ""
    n_pair = len({r.case for r in pair_results})
    forward = task.requires[0] if task.requires else "the forward task"
    return (f"; but only with the reference forward's cache: with your own forward's cache "
            f"the gradients are wrong in {len(bad)} of {n_pair} case(s) "
            f"({', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}); the bug is in "
            f"{forward} and costs that task")


# hints shown only when nothing more specific is (BatchNorm's dx, the residual block's dx)
GENERIC_HINT_PREFIXES = ("dx has three paths", "the block's dx:")
TAG_HINT_FLOAT32 = "float32 input must give float32 results"


def _looks_like_exception(detail: str) -> bool:
    head = detail.split(":", 1)[0]
    return head.endswith(("Error", "Exception", "Exit", "Interrupt")) or \
        head.startswith("SystemExit") or detail.startswith("no result") or \
        detail.startswith("timed out") or detail.startswith("not run") or \
        detail.startswith("the process")
