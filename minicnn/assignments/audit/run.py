"""``minicnn assignment audit``: mutation testing of the hidden checks.

Every entry of the catalogue (:mod:`minicnn.assignments.audit.catalogue`) is a realistic student
bug, or a correct implementation written differently, of one task's solution region. The
audit writes each into a copy of the reference tree, grades it with the hidden checks on
its own task AND on every other task whose checks run that region's code, and checks the
verdict:

    bug          loses points on its own task, and costs no other task anything
    alternative  keeps full points everywhere

Anything else is a hole in the checks (a bug they miss, a correct answer they reject, a bug
that leaks into another task) and makes ``audit`` exit 1.

Which other tasks run a region is not declared anywhere: the audit runs every task's hidden
calls once on the reference, in its own process, and records which solution regions they
execute (``regions_run_by``). A backward task's checks also run its forward (the student's
own pair, reported but not scored), so a forward's variants are graded on the backward
too; the explanation tasks run no layer (they are graded on the check's own model), so a
layer's variants are not graded on them, and if a check ever ran another task's code again
the audit would grade that task too and report the COLLATERAL.

Cost: the cases and expected values of each task are computed once, for every variant of
it; ``jobs`` reference copies (one per worker) are made once, and a variant is written into
a worker's copy and taken out again after grading. The timed (realistic-size) cases of a
task run only when its other cases all pass (a variant that fails them has lost points
already, the verdict cannot change), and another task is graded without them: they run the
backward on the reference cache alone, so a variant of another task cannot change them.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minicnn.assignments.audit.catalogue import CatalogueError, variants
from minicnn.assignments.grading.cases import compute_expected, hidden_cases, reference_module
from minicnn.assignments.grading.evaluate import evaluate, evaluate_together
from minicnn.assignments.grading.sandbox import add_sandbox_arguments, resolve_sandbox
from minicnn.assignments.registry import TASKS, get_tasks
from minicnn.assignments.regions import RegionError, region_text, replace_region


def catalogue_variants(task_ids=None) -> list:
    """The catalogue's variants of ``task_ids`` (all tasks for None)."""
    return variants(task_ids)

AUDIT_SEED = 20240607          # fixed, so an audit's verdicts are reproducible
DEFAULT_TIMEOUT = 60.0


@dataclass
class AuditRecord:
    """The verdict on one catalogued variant."""

    task: str
    name: str
    kind: str                   # "bug" or "alternative"
    points: float               # on its own task
    max_points: float
    as_expected: bool
    note: str = ""              # what the variant is
    message: str = ""           # the grader's diagnostic on its own task
    # the other tasks whose checks run the variant's code: [{task, points, max_points, message}]
    dependents: list = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""           # why it is not as expected ('' when it is)

    def as_dict(self) -> dict:
        return asdict(self)


def regions_run_by(prepared) -> dict:
    """``{task id: {(path, function), ...}}``: the solution regions (of any task) that the
    task's hidden calls execute, found by running them once on the reference in this
    process with a profiler watching; ``prepared``: ``{task id: (cases, expected)}``, the
    cases' reference caches filled in. Timed cases are left out (they run a backward on a
    reference cache, like the untimed ones)."""
    import sys

    from minicnn.assignments.grading.child import execute_call
    from minicnn.assignments.registry import SOURCE_ROOT

    by_file = {}
    for task in TASKS.values():
        for path, function in task.regions:
            by_file.setdefault(str((SOURCE_ROOT / path).resolve()), {})[
                function.rsplit(".", 1)[-1]] = (path, function)
    found = {}
    for task_id, (cases, _) in prepared.items():
        seen = set()

        def watch(frame, event, arg, seen=seen):
            if event == "call":
                regions = by_file.get(frame.f_code.co_filename)
                if regions and frame.f_code.co_name in regions:
                    seen.add(regions[frame.f_code.co_name])

        for case in (c for c in cases if not c.timed):
            for call in case.calls:
                sys.setprofile(watch)
                try:
                    execute_call(call, dict(case.arrays), case.ref_caches)
                except Exception:              # noqa: BLE001 - only what ran matters here
                    pass
                finally:
                    sys.setprofile(None)
        found[task_id] = seen
    return found


def tasks_running(variant, executed: dict) -> list[str]:
    """The tasks other than its own whose checks run ``variant``'s region."""
    region = TASKS[variant.task].regions[0]
    return [t for t in TASKS if t != variant.task and region in executed.get(t, ())]


def judge_record(record: AuditRecord) -> AuditRecord:
    """Fill ``as_expected`` and ``problem`` from the points."""
    collateral = [d["task"] for d in record.dependents if d["points"] < d["max_points"]]
    if record.kind == "bug" and record.points >= record.max_points:
        record.problem = "MISSED: the bug keeps full points on its own task"
    elif record.kind == "alternative" and record.points < record.max_points:
        record.problem = "REJECTED: a correct alternative loses points"
    elif collateral:
        record.problem = f"COLLATERAL: it also costs {', '.join(collateral)}"
    record.as_expected = not record.problem
    return record


class _Copies:
    """``count`` copies of the reference tree (release + restore), one per worker."""

    def __init__(self, base: Path, count: int):
        from minicnn.assignments.release import release, restore

        self.free: queue.Queue = queue.Queue()
        for i in range(count):
            root = base / f"copy{i}"
            release(root, None)
            restore(root, None)
            self.free.put(root)

    def take(self) -> Path:
        return self.free.get()

    def give_back(self, root: Path) -> None:
        self.free.put(root)


def _write_variant(root: Path, variant) -> tuple[Path, str]:
    """Write ``variant`` into its task's (first) region under ``root``; returns the file and
    its original text (to put back)."""
    path, function = TASKS[variant.task].regions[0]
    target = root / path
    original = target.read_text(encoding="utf-8")
    body = variant.region(region_text(original, function, path=path))
    target.write_text(replace_region(original, function, body, path=path), encoding="utf-8")
    return target, original


def _task_entry(report) -> dict:
    return {"task": report.task, "points": report.points, "max_points": report.max_points,
            "message": report.message}


def run_audit(task_ids=None, *, seed: int = AUDIT_SEED, jobs=None,
              timeout: float = DEFAULT_TIMEOUT, sandbox=None, progress=None,
              work_dir=None) -> tuple[list, list]:
    """Grade every catalogued variant of ``task_ids`` (default: all tasks).

    Returns ``(baseline, records)``: ``baseline`` the reference copy's TaskReport of every
    task involved (each must have full points, or the audit means nothing), ``records`` an
    :class:`AuditRecord` per variant, in catalogue order. ``progress(record)`` is called as
    each finishes; ``sandbox`` is passed to the grader (None: plain child processes, enough
    for the project's own trusted variants).
    """
    get_tasks(task_ids)                                  # unknown task names: KeyError
    selected = catalogue_variants(task_ids)
    prepared = {}
    for task_id, task in TASKS.items():
        cases = hidden_cases(task, seed)
        prepared[task_id] = (cases, compute_expected(task, cases, reference_module(task.spec)))
    executed = regions_run_by(prepared)
    others = {v.key: tasks_running(v, executed) for v in selected}
    involved = list(dict.fromkeys(t for v in selected for t in [v.task] + others[v.key]))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(selected) or 1))
    base = Path(tempfile.mkdtemp(prefix="minicnn-audit-", dir=work_dir))
    try:
        copies = _Copies(base, jobs)

        def untimed(task_id):
            cases, expected = prepared[task_id]
            return TASKS[task_id], [c for c in cases if not c.timed], expected

        def grade_variant(root, variant):
            """Its own task's report and those of the tasks that run its code: the untimed
            cases of all of them in one process; the own task's timed cases only when every
            other case passes (a variant that fails already lost points: no need to wait for
            its budget)."""
            task_id = variant.task
            reports = evaluate_together([untimed(t) for t in [task_id] + others[variant.key]],
                                        root, timeout=timeout, sandbox=sandbox)
            own = reports[0]
            cases, expected = prepared[task_id]
            timed = [c for c in cases if c.timed]
            if timed and own.points >= own.max_points:
                late = evaluate(TASKS[task_id], root, cases=timed, expected=expected,
                                timeout=timeout, sandbox=sandbox)
                if late.points < late.max_points:
                    late.points = min(late.points, own.points)
                    own = late
            return own, reports[1:]

        def reference_grades():
            root = copies.take()
            try:
                return [evaluate(TASKS[t], root, cases=prepared[t][0],
                                 expected=prepared[t][1], timeout=timeout, sandbox=sandbox)
                        for t in involved]
            finally:
                copies.give_back(root)

        def one(variant):
            root = copies.take()
            start = time.monotonic()
            try:
                target, original = _write_variant(root, variant)
                try:
                    own, also = grade_variant(root, variant)
                finally:
                    target.write_text(original, encoding="utf-8")
                record = judge_record(AuditRecord(
                    variant.task, variant.name, variant.kind, own.points, own.max_points,
                    False, note=variant.note, message=own.message,
                    dependents=[_task_entry(r) for r in also]))
            except (CatalogueError, RegionError) as exc:     # the entry no longer applies
                record = AuditRecord(variant.task, variant.name, variant.kind, 0,
                                     TASKS[variant.task].points, False, note=variant.note,
                                     problem=f"CATALOGUE: {exc}")
            finally:
                copies.give_back(root)
            record.seconds = round(time.monotonic() - start, 2)
            if progress:
                progress(record)
            return record

        # The variants are the project's own code: they may share one Numba cache (one
        # session for the whole audit), which saves every child compiling the kernels.
        with resolve_sandbox(sandbox or "none").for_submission() as session:
            sandbox = session
            baseline = reference_grades()
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                records = list(pool.map(one, selected))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return baseline, records


# ------------------------------------------------------------------------------ reporting


def table(records) -> str:
    """One line per variant: task, name, kind, points, verdict, the grader's message."""
    if not records:
        return "no variants"
    width_task = max(len(r.task) for r in records)
    width_name = max(len(r.name) for r in records)
    lines = [f"{'task':<{width_task}}  {'variant':<{width_name}}  {'kind':<11}  "
             f"{'points':>9}  verdict     diagnostic"]
    for r in records:
        verdict = "ok" if r.as_expected else r.problem.split(":")[0]
        pts = f"{r.points:g}/{r.max_points:g}"
        message = r.problem if r.problem else r.message
        lines.append(f"{r.task:<{width_task}}  {r.name:<{width_name}}  {r.kind:<11}  "
                     f"{pts:>9}  {verdict:<10}  {message[:160]}")
    return "\n".join(lines)


def summary(baseline, records, seconds: float) -> str:
    bugs = [r for r in records if r.kind == "bug"]
    alternatives = [r for r in records if r.kind == "alternative"]
    caught = sum(r.as_expected for r in bugs)
    accepted = sum(r.as_expected for r in alternatives)
    failing_baseline = [b.task for b in baseline if b.points < b.max_points]
    text = (f"{caught}/{len(bugs)} bugs caught (on their own task only), {accepted}/"
            f"{len(alternatives)} alternatives at full points, {len(records)} variants of "
            f"{len({r.task for r in records})} task(s) in {seconds:.0f} s")
    if failing_baseline:
        text += (f"\nthe REFERENCE itself loses points on {', '.join(failing_baseline)}: "
                 f"the checks are broken")
    return text


def add_arguments(parser) -> None:
    """The ``audit`` subcommand's options (``cli.py`` calls this)."""

    parser.add_argument("--tasks", nargs="+", metavar="TASK",
                        help="audit the variants of these tasks only (default all)")
    parser.add_argument("--json", metavar="FILE",
                        help="write one record per variant (task, name, kind, points, "
                             "max_points, as_expected, ...) as JSON")
    parser.add_argument("--seed", type=int, default=AUDIT_SEED,
                        help=f"seed of the hidden cases (default {AUDIT_SEED})")
    parser.add_argument("--jobs", type=int,
                        help="variants graded in parallel (default: the CPUs)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per task and variant ({DEFAULT_TIMEOUT:g})")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress, only the variants that are not as expected")
    # the variants are the project's own code: no sandbox unless asked for
    add_sandbox_arguments(parser, default="none", sandbox_help=(
        "how each graded child process is isolated (bwrap, user, none or auto, as for "
        "grade); default none: the variants are the project's own code"))


def _progress_printer(total: int, quiet: bool):
    if quiet:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:                          # pragma: no cover - tqdm is installed
        tqdm = None
    if tqdm is not None and sys.stderr.isatty():
        bar = tqdm(total=total, unit="variant", file=sys.stderr)

        def show(record):
            bar.set_postfix_str(f"{record.task}/{record.name}", refresh=False)
            bar.update(1)
        return show, bar
    done = [0]

    def line(record):
        done[0] += 1
        verdict = "ok" if record.as_expected else record.problem.split(":")[0]
        print(f"[{done[0]}/{total}] {record.task}/{record.name} ({record.kind}): "
              f"{record.points:g}/{record.max_points:g} {verdict}", file=sys.stderr,
              flush=True)
    return line, None


def run(args) -> int:
    """``minicnn assignment audit``: 0 when every variant is as expected, else 1."""
    sandbox = None
    if getattr(args, "sandbox", "none") != "none":
        sandbox = resolve_sandbox(args.sandbox, user=getattr(args, "sandbox_user", None),
                                  python=getattr(args, "child_python", None))
    total = len(catalogue_variants(args.tasks))
    show, bar = _progress_printer(total, args.quiet)
    start = time.monotonic()
    try:
        baseline, records = run_audit(args.tasks, seed=args.seed, jobs=args.jobs,
                                      timeout=args.timeout, sandbox=sandbox, progress=show)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.monotonic() - start
    shown = [r for r in records if not r.as_expected] if args.quiet else records
    if shown:
        print(table(shown))
    print(summary(baseline, records, seconds))
    if args.json:
        data = [r.as_dict() for r in records]
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    ok = all(r.as_expected for r in records) and \
        all(b.points >= b.max_points for b in baseline)
    return 0 if ok else 1
