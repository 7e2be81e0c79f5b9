"""``minicnn assignment ...`` (also ``python -m minicnn.assignments ...``).

    list                                   the tasks, their points and what each covers
    release OUT_DIR [--tasks T ...]        write a student copy (selected solutions stubbed)
    check [TASK ...] [--dir DIR]           run the public checks on a copy (default: the
                                           minicnn tree that holds the current directory)
    grade PATH [--json FILE] [--csv FILE]  grade a submission (PATH holds minicnn/) or a
          [--timeout S] [--tasks T ...]    directory of submissions (one per subdirectory),
          [--sandbox auto|bwrap|user|none] each task in a sandboxed child process
    restore DIR [--tasks T ...]            put the reference solutions back into a copy
    audit [--tasks T ...] [--json FILE]    grade the catalogue of realistic student bugs and
                                           correct alternatives: do the hidden checks catch
                                           every bug and accept every alternative?
    autograder OUT.zip [--tasks T ...]     write a Gradescope autograder (setup.sh,
                                           run_autograder, a minicnn wheel)

Exit status: 0 success (``check``: every check passed); 1 a check failed or something went
wrong (one line on stderr); 2 a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minicnn.assignments.grading.sandbox import add_sandbox_arguments


def build_parser() -> argparse.ArgumentParser:
    from minicnn.cli import Parser

    parser = Parser(prog="minicnn assignment",
                    description="Instructor tooling: release student stubs, check and grade.")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    sub.add_parser("list", help="the tasks, their points and what each covers")

    p = sub.add_parser("release", help="write a student copy with the selected solutions "
                                       "replaced by NotImplementedError")
    p.add_argument("out_dir")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="tasks to release (default all)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")

    p = sub.add_parser("check", help="run the public checks of one task (or all) on a copy")
    p.add_argument("tasks", nargs="*", metavar="TASK")
    p.add_argument("--dir", help="the copy to check (default: found from the current "
                                 "directory)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per task (120)")
    p.add_argument("-q", "--quiet", action="store_true", help="one line per task")

    p = sub.add_parser("grade", help="grade a submission, or a directory of submissions, "
                                     "against the hidden checks")
    p.add_argument("path")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="tasks to grade (default all)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON")
    p.add_argument("--csv", metavar="FILE", help="directory of submissions: the CSV to write "
                                                 "(default grades.csv)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per task (60)")
    p.add_argument("--seed", type=int, help="seed of the hidden cases (default random)")
    p.add_argument("--jobs", type=int, help="tasks graded in parallel (default: the CPUs)")
    add_sandbox_arguments(p)

    p = sub.add_parser("restore", help="put the reference solutions back into a copy")
    p.add_argument("dir")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="tasks to restore (default all)")

    for name, text in INSTRUCTOR_COMMANDS.items():
        module = _instructor_module(name)
        if module is not None:
            module.add_arguments(sub.add_parser(name, help=text))
    return parser


#: Commands of the instructor's tree only: a student copy leaves their packages out (the
#: audit's catalogue holds near-solutions; the autograder ships the hidden checks).
INSTRUCTOR_COMMANDS = {
    "audit": "mutation-test the hidden checks: every catalogued bug must lose points on its "
             "own task, every correct alternative must keep full points",
    "autograder": "write a Gradescope autograder zip (setup.sh, run_autograder)",
}
INSTRUCTOR_MODULES = {"audit": ("audit", "run"), "autograder": ("gradescope", "autograder")}


def _instructor_module(name):
    """The module of an instructor command, or None in a student copy (where its package
    was left out)."""
    import importlib

    package, module = INSTRUCTOR_MODULES[name]
    if not (Path(__file__).parent / package / f"{module}.py").is_file():
        return None
    return importlib.import_module(f"minicnn.assignments.{package}.{module}")


def _find_root(start) -> Path:
    from minicnn.assignments.grading.runner import submission_root

    start = Path(start).resolve()
    for candidate in (start, *start.parents):
        try:
            return submission_root(candidate)
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"no minicnn/ package in {start} or above it (use --dir)")


def _cmd_list(args) -> int:
    from minicnn.assignments.registry import get_tasks

    tasks = get_tasks()
    width = max(len(t.id) for t in tasks)
    print(f"{'task':<{width}}  points  covers")
    for t in tasks:
        where = ", ".join(f"{Path(path).name}:{function}" for path, function in t.regions)
        print(f"{t.id:<{width}}  {t.points:>6}  {t.description}  [{where}]")
    print(f"{'total':<{width}}  {sum(t.points for t in tasks):>6}")
    return 0


def _cmd_release(args) -> int:
    from minicnn.assignments.release import release

    tasks = release(args.out_dir, args.tasks, force=args.force)
    print(f"released {len(tasks)} task(s) ({sum(t.points for t in tasks)} points) to "
          f"{args.out_dir}: {', '.join(t.id for t in tasks)}")
    print(f"students: cd {args.out_dir} && pip install -e . && minicnn assignment check")
    return 0


def _cmd_check(args) -> int:
    from minicnn.assignments.grading.public import check_tasks, format_report
    from minicnn.assignments.release import released_tasks
    from minicnn.assignments.registry import get_tasks

    root = _find_root(args.dir or Path.cwd())
    task_ids = args.tasks or released_tasks(root)
    get_tasks(task_ids)                                 # unknown names: error before running
    print(f"checking {root / 'minicnn'}")
    passed = 0

    def show(report):
        print(format_report(report, verbose=not args.quiet), flush=True)

    reports = check_tasks(root, task_ids, timeout=args.timeout, progress=show)
    passed = sum(r.passed for r in reports)
    print(f"{passed}/{len(reports)} task(s) pass their public checks")
    return 0 if passed == len(reports) else 1


def _cmd_grade(args) -> int:
    from minicnn.assignments.grading.grade import (grade_many, grade_submission, is_submission,
                                                   write_csv, write_json)
    from minicnn.assignments.grading.sandbox import resolve_sandbox

    path = Path(args.path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a directory")
    sandbox = resolve_sandbox(args.sandbox, user=args.sandbox_user, python=args.child_python)
    if sandbox.name == "none":
        for warning in sandbox.warnings:
            print(f"minicnn assignment: WARNING: {warning}", file=sys.stderr)
    if is_submission(path):
        report = grade_submission(path, args.tasks, seed=args.seed, timeout=args.timeout,
                                  jobs=args.jobs, sandbox=sandbox)
        print(report.table())
        if args.json:
            write_json(report.as_dict(), args.json)
        return 0
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not subdirs:
        raise FileNotFoundError(f"{path}: neither a submission (no minicnn/ package) nor a "
                                f"directory of submissions")
    reports = grade_many(path, args.tasks, seed=args.seed, timeout=args.timeout,
                         jobs=args.jobs, sandbox=sandbox)
    for report in reports:
        print(f"== {Path(report.submission).name}: {report.total:g}/{report.max_total:g}")
        print(report.table())
    csv_path = args.csv or "grades.csv"
    write_csv(reports, csv_path)
    print(f"wrote {csv_path}")
    if args.json:
        write_json([r.as_dict() for r in reports], args.json)
    return 0


def _cmd_restore(args) -> int:
    from minicnn.assignments.release import restore

    restore(args.dir, args.tasks)
    print(f"restored the reference solutions in {args.dir}")
    return 0


def _cmd_audit(args) -> int:
    return _instructor_module("audit").run(args)


def _cmd_autograder(args) -> int:
    return _instructor_module("autograder").run(args)


COMMANDS = {"list": _cmd_list, "release": _cmd_release, "check": _cmd_check,
            "grade": _cmd_grade, "restore": _cmd_restore, "audit": _cmd_audit,
            "autograder": _cmd_autograder}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except KeyError as exc:                       # unknown task names
        print(f"minicnn assignment: error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (FileNotFoundError, OSError, RuntimeError, ValueError) as exc:
        print(f"minicnn assignment: error: {exc}", file=sys.stderr)
        return 1
