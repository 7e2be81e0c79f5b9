"""What ``run_autograder`` runs inside the Gradescope container: grade, write results.json.

Layout (``ROOT`` is ``/autograder``, or ``$AUTOGRADER_ROOT``)::

    ROOT/source/autograder.json     the build's settings: tasks, seed, timeout, visibility
    ROOT/source/release/            the pristine student copy of those tasks
    ROOT/submission/                what the student uploaded
    ROOT/submission_metadata.json   Gradescope's description of the submission (its "id")
    ROOT/results/results.json       written here, once grading is over

The submitted task files are laid over a fresh copy of the release (``submission``), the
copy is graded in the sandbox (``grade_submission``: every child is dead when it returns),
and only then is ``results.json`` written, atomically. Anything that goes wrong on the
grader's side still writes a ``results.json`` (score 0 and the reason), so Gradescope never
shows a submission without a result.

results.json follows Gradescope's specification: top-level ``score``, ``execution_time``,
``output``, ``visibility``, ``stdout_visibility``, ``extra_data`` and ``tests``, one test per
task with ``name``, ``number`` ("1", "2", ...), ``score``, ``max_score``, ``status``
("passed"/"failed"), ``output`` (the grader's diagnostic, which names the failing case family
and never the expected values) and ``visibility``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

CONFIG = "autograder.json"
RELEASE_DIR = "release"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_ROOT = "/autograder"
MAX_EXTRA_NOTES = 200            # "ignored" entries kept in extra_data (a node_modules upload...)


def autograder_root() -> Path:
    """``$AUTOGRADER_ROOT``, else ``/autograder``."""
    return Path(os.environ.get("AUTOGRADER_ROOT") or DEFAULT_ROOT)


def load_config(source: Path) -> dict:
    """The build's settings from ``source/autograder.json``, checked."""
    config = json.loads((Path(source) / CONFIG).read_text())
    for key in ("tasks", "seed", "timeout", "visibility", "stdout_visibility"):
        if key not in config:
            raise ValueError(f"{CONFIG}: no {key!r}")
    for key in ("visibility", "stdout_visibility"):
        if config[key] not in VISIBILITIES:
            raise ValueError(f"{CONFIG}: {key} must be one of {', '.join(VISIBILITIES)}, got "
                             f"{config[key]!r}")
    return config


def submission_seed(build_seed: int, metadata_path: Path) -> int:
    """The seed of this submission's hidden cases: the build's seed mixed with Gradescope's
    submission id (the build's seed alone when there is no metadata).

    Why not the build's seed alone: graded code must receive its task's hidden inputs, and
    it can raise an exception that quotes them, which the results page shows. With one seed
    for every submission a student could collect the inputs over a few submissions and hand
    in answers computed elsewhere. Mixed with the submission id, every submission gets fresh
    inputs, while a regrade (same submission, same id) gets the same inputs and the same
    grade. The build's seed is secret: it lives in ``/autograder/source``, which only root
    can read (setup.sh), and neither sandbox shows that directory to the graded code.
    """
    try:
        submission_id = json.loads(Path(metadata_path).read_text()).get("id")
    except (OSError, ValueError, AttributeError):
        submission_id = None
    if submission_id is None:
        return int(build_seed)
    digest = hashlib.sha256(f"{int(build_seed)}:{submission_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def write_results(results: dict, path: Path) -> None:
    """Write ``results`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o644)              # mkstemp's 0600; the results folder stays root-only
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _test_entries(tasks, config, *, reports=None, not_submitted=(), reason="") -> list:
    """One Gradescope test per task, numbered in the build's order."""
    by_task = {r.task: r for r in (reports or [])}
    entries = []
    for number, task in enumerate(tasks, start=1):
        report = by_task.get(task.id)
        points = round(float(report.points), 4) if report else 0
        message = report.message if report else reason
        if task.id in not_submitted:
            message = (f"No file of yours was taken as {', '.join(task.files)} (the "
                       f"results' top says why): the released stub was graded. {message}")
        entries.append({
            "name": f"{task.id}: {task.description}",
            "number": str(number),
            "score": points,
            "max_score": task.points,
            "status": "passed" if report is not None and report.passed else "failed",
            "output": message,
            "visibility": config["visibility"],
        })
    return entries


def _results(config, tests, output, seconds, extra) -> dict:
    return {"score": round(sum(t["score"] for t in tests), 2),
            "execution_time": round(seconds, 2),
            "output": output,
            "visibility": config.get("visibility", "visible"),
            "stdout_visibility": config.get("stdout_visibility", "hidden"),
            "extra_data": extra,
            "tests": tests}


def crash_results(reason: str, seconds: float, config=None) -> dict:
    """results.json for a grader that could not finish: score 0 and the reason."""
    tasks = []
    if config:
        from minicnn.assignments.registry import get_tasks

        try:
            tasks = get_tasks(config["tasks"])
        except KeyError:
            tasks = []
    config = config or {}
    tests = _test_entries(tasks, {"visibility": config.get("visibility", "visible")},
                          reason="not graded: the autograder failed")
    output = (f"The autograder failed and your submission was not graded (score 0): "
              f"{reason}\nPlease tell your instructor; resubmitting will not help until "
              f"it is fixed.")
    return _results(config, tests, output, seconds, {"error": reason})


def grade_in_container(root: Path, *, sandbox="auto", sandbox_user=None, child_python=None,
                       jobs=None, log=print) -> dict:
    """Grade ``root/submission`` with the build under ``root/source``; the results dict."""
    from minicnn.assignments.grading.grade import grade_submission
    from minicnn.assignments.gradescope.submission import build_graded_copy, match_submission
    from minicnn.assignments.registry import get_tasks
    from minicnn.assignments.grading.sandbox import resolve_sandbox

    start = time.monotonic()
    root = Path(root)
    config = load_config(root / "source")
    tasks = get_tasks(config["tasks"])
    release_dir = root / "source" / RELEASE_DIR
    task_files = sorted({path for task in tasks for path in task.files})
    helper_files = sorted({path for task in tasks for path, _ in task.strips})
    overlay = match_submission(root / "submission", task_files, release_dir, helper_files)
    not_submitted = [t.id for t in tasks if not all(f in overlay.used for f in t.files)]
    summary = overlay.summary()
    log(summary)
    extra = {"graded_files": dict(sorted(overlay.used.items())),
             "ignored": overlay.notes[:MAX_EXTRA_NOTES]}
    if not overlay.usable:
        names = ", ".join(sorted({Path(f).name for f in task_files}))
        output = (f"Nothing to grade (score 0): no file of this assignment was found in your "
                  f"submission. Upload the files you edited ({names}), with or without their "
                  f"folders (minicnn/functional/...), or your whole minicnn copy."
                  + (f"\n{summary}" if summary else ""))
        tests = _test_entries(tasks, config, not_submitted=[t.id for t in tasks],
                              reason="nothing graded")
        return _results(config, tests, output, time.monotonic() - start, extra)
    box = resolve_sandbox(sandbox, user=sandbox_user, python=child_python)
    seed = submission_seed(config["seed"], root / "submission_metadata.json")
    with tempfile.TemporaryDirectory(prefix="minicnn-graded-") as tmp:
        copy = build_graded_copy(overlay, release_dir, Path(tmp) / "submission")
        report = grade_submission(copy, config["tasks"], seed=seed, timeout=config["timeout"],
                                  jobs=jobs, sandbox=box)
    # grade_submission has returned: every graded process is dead; only now the results.
    log(report.table())
    tests = _test_entries(tasks, config, reports=report.tasks, not_submitted=not_submitted)
    score = round(sum(t["score"] for t in tests), 2)
    output = "\n".join(line for line in (
        f"Score: {score:g}/{sum(t.points for t in tasks):g} on {len(tasks)} task(s).",
        summary, box.describe().replace("sandbox: ", "Sandbox: ", 1)) if line)
    extra.update({"sandbox": report.sandbox, "sandbox_warnings": list(report.sandbox_warnings)})
    return _results(config, tests, output, time.monotonic() - start, extra)


def run_in_container(*, sandbox="auto", sandbox_user=None, child_python=None, jobs=None,
                     root=None) -> int:
    """Grade and write ``results.json`` under the autograder root; always writes one."""
    start = time.monotonic()
    root = Path(root) if root is not None else autograder_root()
    results_path = root / "results" / "results.json"
    config = None
    try:
        config = load_config(root / "source")
        results = grade_in_container(root, sandbox=sandbox, sandbox_user=sandbox_user,
                                     child_python=child_python, jobs=jobs)
    except Exception as exc:     # noqa: BLE001 - whatever failed, Gradescope gets a result
        traceback.print_exc()    # stdout/stderr: for the instructor
        results = crash_results(f"{type(exc).__name__}: {exc}", time.monotonic() - start,
                                config)
    write_results(results, results_path)
    print(f"wrote {results_path}: score {results['score']:g}")
    return 0
