"""Public checks: what a student runs on their own copy (``check`` and the released tests).

The cases are fixed (a seed per task); their inputs and the reference's expected values were
stored in ``minicnn/assignments/public_data/<task>.npz`` when the copy was released. In a
tree without that data (the instructor's source tree), the expected values are computed by
the running installation's own minicnn.

- ``check_tasks(root, ids)``: each task in a separate process (like grading), for the CLI.
- ``run_public_case(task, case)``: in-process, for pytest, so that an exception in the
  student's code shows up with its traceback.
"""

from __future__ import annotations

from pathlib import Path

from minicnn.assignments.checks.base import CallOutcome, uses_reference_cache
from minicnn.assignments.grading.cases import (compute_expected, load_public_data, public_cases,
                                               public_data_path, reference_module)
from minicnn.assignments.grading.evaluate import TaskReport, evaluate, summarize
from minicnn.assignments.registry import TASKS, get_tasks

DEFAULT_TIMEOUT = 120.0


def _cases_and_expected(task, root):
    """Public cases of ``task`` with the expected values stored under ``root`` (or computed
    here when ``root`` has none); returns ``(cases, expected, note)``."""
    cases = public_cases(task)
    path = public_data_path(root, task.id)
    if path.is_file():
        return cases, load_public_data(path, cases), ""
    if not (Path(__file__).parents[1] / "checks" / "hidden_grids.py").is_file():
        # a student copy without its data: never take the student's code as the reference
        raise FileNotFoundError(f"{path}: the public data of {task.id} is missing (was this "
                                f"copy installed with 'pip install -e .' from the release?)")
    expected = compute_expected(task, cases, reference_module(task.spec))
    for case in cases:
        case.ref_caches = {}
    return cases, expected, "(no stored public data here: expected values computed by this " \
                            "installation's minicnn)"


def check_tasks(root, task_ids, *, timeout=DEFAULT_TIMEOUT, progress=None) -> list:
    """Run the public checks of each task on the copy under ``root``; ``TaskReport`` each."""
    reports = []
    for task in get_tasks(task_ids):
        cases, expected, note = _cases_and_expected(task, root)
        report = evaluate(task, root, cases=cases, expected=expected, timeout=timeout,
                          public=True)
        if note:
            report.message += " " + note
        if progress:
            progress(report)
        reports.append(report)
    return reports


def format_report(report: TaskReport, verbose: bool = True) -> str:
    verdict = "PASS" if report.passed else "FAIL"
    lines = [f"== {report.task}: {verdict} ({report.points:g}/{report.max_points:g} points)"]
    if verbose:
        for result in report.results:
            lines.append("   " + result.line())
    lines.append(f"   {report.message}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- in-process


def _package_root() -> Path:
    import minicnn

    return Path(minicnn.__file__).resolve().parent.parent


def public_case_names(task_id: str) -> list:
    return [case.name for case in public_cases(TASKS[task_id])]


def run_public_case(task_id: str, case_name: str):
    """Run one public case in this process; ``(passed, report text)``. Exceptions raised
    by the code under test propagate (pytest shows where)."""
    from minicnn.assignments.grading.child import execute_call

    task = TASKS[task_id]
    cases, expected, _ = _cases_and_expected(task, _package_root())
    case = next(c for c in cases if c.name == case_name)
    outcomes = {}
    for call in case.calls:
        if uses_reference_cache(call):
            outcomes[call["id"]] = CallOutcome(error="skipped (no reference cache here)",
                                               skipped=True)
            continue
        arrays = dict(case.arrays)
        outcomes[call["id"]] = CallOutcome(outputs=execute_call(call, arrays))
    results = task.spec.judge(case, outcomes, expected.get(case.name, {}))

    class _Run:                                 # what summarize needs from a process run
        problem = ""
        timed_out = False

    _Run.outcomes = outcomes
    report = summarize(task, [case], results, _Run)
    text = "\n".join(r.line() for r in results) + "\n" + report.message
    return report.passed, text
