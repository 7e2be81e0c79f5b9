"""Grade submissions against the hidden checks.

A submission is a directory holding a ``minicnn/`` package (a student's copy of the release,
or this source tree itself, which earns full points). Every task runs in its own sandboxed
process (``runner``, ``sandbox``), with a time limit; the expected values come from the
grader's own minicnn, computed in the grader's process on fresh random inputs (``seed``). A
task's result depends only on that task's code: what one task's code does (raise, hang, exit,
print) costs that task's points only.

``grade_many`` grades every subdirectory of a directory (one per student). The grade files
(``write_json``, ``write_csv``) are written by this process, atomically, after
``grade_submission`` has returned, that is after every child process and everything it
started is dead (in the ``bwrap`` and ``user`` sandboxes; ``none`` cannot promise it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from minicnn.assignments.grading.cases import compute_expected, hidden_cases, reference_module
from minicnn.assignments.grading.evaluate import TaskReport, evaluate
from minicnn.assignments.grading.runner import submission_root
from minicnn.assignments.grading.sandbox import resolve_sandbox
from minicnn.assignments.registry import get_tasks
from minicnn._atomic import atomic_write

DEFAULT_TIMEOUT = 60.0


@dataclass
class GradeReport:
    submission: str
    seed: int
    tasks: list = field(default_factory=list)      # TaskReport
    error: str = ""
    sandbox: str = ""                              # "bwrap", "user" or "none"
    sandbox_warnings: list = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(t.points for t in self.tasks), 2)

    @property
    def max_total(self) -> float:
        return round(sum(t.max_points for t in self.tasks), 2)

    def as_dict(self) -> dict:
        data = {"submission": self.submission, "seed": self.seed, "total": self.total,
                "max_total": self.max_total, "sandbox": self.sandbox,
                "sandbox_warnings": list(self.sandbox_warnings),
                "tasks": [t.as_dict() for t in self.tasks]}
        if self.error:
            data["error"] = self.error
        return data

    def table(self) -> str:
        width = max([len(t.task) for t in self.tasks] + [4])
        lines = [f"{'task':<{width}}  {'points':>11}  result  diagnostic"]
        for t in self.tasks:
            pts = f"{_fmt(t.points)}/{_fmt(t.max_points)}"
            verdict = "PASS" if t.passed else ("PART" if t.points > 0 else "FAIL")
            if t.passed and REFERENCE_CACHE_ONLY in t.message:
                verdict = "PASS*"               # right on the reference cache only
            lines.append(f"{t.task:<{width}}  {pts:>11}  {verdict:<6}  {t.message}")
        lines.append(f"{'total':<{width}}  {_fmt(self.total) + '/' + _fmt(self.max_total):>11}")
        if any(t.passed and REFERENCE_CACHE_ONLY in t.message for t in self.tasks):
            lines.append("PASS*: the backward is right on the reference forward's cache; with "
                         "the student's own forward's cache it is not (that forward task pays)")
        lines.append(self.sandbox_line())
        lines.extend(f"WARNING: {w}" for w in self.sandbox_warnings)
        return "\n".join(lines)

    def sandbox_line(self) -> str:
        if self.sandbox == "none":
            return "sandbox: NONE (submission code ran unsandboxed; see the warning below)"
        return f"sandbox: {self.sandbox}"


#: Said in a backward task's message when it earned its points on the reference forward's
#: cache only (the student's own forward + backward pair disagrees: the forward's bug).
REFERENCE_CACHE_ONLY = "only with the reference forward's cache"


def _fmt(value) -> str:
    return f"{value:g}"


def grade_task(task, root, *, seed: int, timeout: float, sandbox=None) -> TaskReport:
    """Grade one task of the submission under ``root`` (a directory with minicnn/)."""
    ref = reference_module(task.spec)
    cases = hidden_cases(task, seed)
    expected = compute_expected(task, cases, ref)
    return evaluate(task, root, cases=cases, expected=expected, timeout=timeout,
                    sandbox=sandbox)


def grade_submission(path, task_ids=None, *, seed=None, timeout=DEFAULT_TIMEOUT,
                     jobs=None, progress=None, sandbox="auto") -> GradeReport:
    """Grade one submission; never raises for anything inside the submission.

    ``sandbox``: "auto" (default), "bwrap", "user", "none", or a resolved
    :class:`~minicnn.assignments.grading.sandbox.Sandbox`; a mode that cannot run here raises
    ``SandboxError`` before anything is graded.
    """
    tasks = get_tasks(task_ids)
    sandbox = resolve_sandbox(sandbox)
    seed = int(seed) if seed is not None else secrets.randbits(32)
    report = GradeReport(str(path), seed, sandbox=sandbox.name,
                         sandbox_warnings=list(sandbox.warnings))
    try:
        root = submission_root(path)
    except FileNotFoundError as exc:
        report.error = str(exc)
        report.tasks = [TaskReport(t.id, 0, t.points, False, str(exc)) for t in tasks]
        return report
    jobs = jobs or max(1, min(len(tasks), os.cpu_count() or 1))

    def one(task):
        try:
            result = grade_task(task, root, seed=seed, timeout=timeout, sandbox=sandbox)
        except Exception as exc:   # noqa: BLE001 - a grader bug must not lose the others
            result = TaskReport(task.id, 0, task.points, False,
                                f"grader error: {type(exc).__name__}: {exc}")
        if progress:
            progress(result)
        return result

    with sandbox.for_submission() as session:       # a Numba cache for this student only
        sandbox = session
        if jobs == 1:
            report.tasks = [one(t) for t in tasks]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                report.tasks = list(pool.map(one, tasks))
    return report


def is_submission(path) -> bool:
    try:
        submission_root(path)
        return True
    except FileNotFoundError:
        return False


def grade_many(directory, task_ids=None, *, seed=None, timeout=DEFAULT_TIMEOUT, jobs=None,
               progress=None, sandbox="auto") -> list[GradeReport]:
    """Grade every subdirectory of ``directory`` (one student each), in name order."""
    seed = int(seed) if seed is not None else secrets.randbits(32)
    sandbox = resolve_sandbox(sandbox)
    reports = []
    for sub in sorted(p for p in Path(directory).iterdir() if p.is_dir()
                      and not p.name.startswith(".")):
        reports.append(grade_submission(sub, task_ids, seed=seed, timeout=timeout, jobs=jobs,
                                        progress=progress, sandbox=sandbox))
    return reports


def write_csv(reports, path) -> None:
    """One row per student: student, points of each task, total (and max_total)."""
    task_ids = [t.task for t in reports[0].tasks] if reports else []
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["student", *task_ids, "total", "max_total", "sandbox"])
    for report in reports:
        points = {t.task: t.points for t in report.tasks}
        writer.writerow([Path(report.submission).name,
                         *[_fmt(points.get(t, 0)) for t in task_ids],
                         _fmt(report.total), _fmt(report.max_total), report.sandbox])
    _write_atomically(path, text.getvalue())


def write_json(data, path) -> None:
    _write_atomically(path, json.dumps(data, indent=2) + "\n")


def _write_atomically(path, text: str) -> None:
    """A new file renamed into place: a link or file planted at ``path`` beforehand is
    replaced, never written through."""
    with atomic_write(path) as fh:
        fh.write(text.encode("utf-8"))
