"""``minicnn assignment autograder OUT.zip``: a Gradescope autograder for released tasks.

The zip (upload it on the assignment's "Configure Autograder" page)::

    setup.sh                  installs the grader and the graded code's interpreter
    run_autograder            grades /autograder/submission, writes results/results.json
    autograder.json           tasks, seed, time limit, visibility (root-only in the image)
    wheels/minicnn-*.whl      this minicnn, with the hidden checks and reference solutions
    release/                  the student copy of the same tasks (what students got)

``setup.sh`` and ``run_autograder`` are described in ``scripts``; the grading in the
container in ``container``; how uploaded files are matched to the tasks in ``submission``.

Inside the container, ``run_autograder`` calls this module::

    python -m minicnn.assignments.gradescope.autograder run [--sandbox MODE] [--jobs N]

which grades ``$AUTOGRADER_ROOT/submission`` (default root ``/autograder``) and writes
``$AUTOGRADER_ROOT/results/results.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import secrets
import sys
import tempfile
import zipfile
from pathlib import Path

from minicnn.assignments.gradescope.container import CONFIG, RELEASE_DIR, VISIBILITIES

DEFAULT_TIMEOUT = 60.0
EXECUTABLE = 0o755


def add_arguments(p) -> None:
    """The arguments of ``minicnn assignment autograder``."""
    p.add_argument("out_zip", metavar="OUT.zip", help="the autograder zip to write")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="tasks to grade (default all)")
    p.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                   help="when students see the results (Gradescope's visibility; default "
                        "visible): hidden, after_due_date, after_published or visible")
    p.add_argument("--stdout-visibility", choices=VISIBILITIES, default="hidden",
                   help="when students see run_autograder's own output (default hidden: it "
                        "is for you)")
    p.add_argument("--seed", type=int,
                   help="the build's seed of the hidden cases (default random; each "
                        "submission's cases mix it with the submission id)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per task ({DEFAULT_TIMEOUT:g})")
    p.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")


def _versions() -> dict:
    import llvmlite
    import numba
    import numpy

    import minicnn

    return {"minicnn": getattr(minicnn, "__version__", "0"),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "llvmlite": llvmlite.__version__}


def _add_tree(archive: zipfile.ZipFile, directory: Path, prefix: str) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            archive.write(path, f"{prefix}/{path.relative_to(directory).as_posix()}")


def _add_text(archive: zipfile.ZipFile, name: str, text: str, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=datetime.datetime.now().timetuple()[:6])
    info.external_attr = (0o100000 | mode) << 16          # a regular file with ``mode``
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build_autograder(out_zip, task_ids=None, *, visibility="visible",
                     stdout_visibility="hidden", seed=None, timeout=DEFAULT_TIMEOUT,
                     force=False, source_root=None) -> dict:
    """Write the Gradescope autograder zip; returns its ``autograder.json`` settings."""
    from minicnn.assignments.gradescope.scripts import run_script, setup_script
    from minicnn.assignments.gradescope.wheel import build_wheel
    from minicnn.assignments.registry import SOURCE_ROOT, get_tasks
    from minicnn.assignments.release import release

    out = Path(out_zip)
    if out.suffix != ".zip":
        raise ValueError(f"{out}: the autograder must be a .zip file (Gradescope's format)")
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")
    for name, value in (("visibility", visibility), ("stdout_visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise ValueError(f"{name} must be one of {', '.join(VISIBILITIES)}, got {value!r}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    tasks = get_tasks(task_ids)
    source_root = Path(source_root) if source_root else SOURCE_ROOT
    versions = _versions()
    config = {"tasks": [t.id for t in tasks], "points": sum(t.points for t in tasks),
              # secret: see gradescope.container.submission_seed
              "seed": int(seed) if seed is not None else secrets.randbits(32),
              "timeout": float(timeout), "visibility": visibility,
              "stdout_visibility": stdout_visibility,
              "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "versions": versions}
    with tempfile.TemporaryDirectory(prefix="minicnn-autograder-") as tmp:
        tmp = Path(tmp)
        release(tmp / RELEASE_DIR, config["tasks"], source_root=source_root)
        wheel = build_wheel(source_root, tmp / "wheels")
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_text(archive, "setup.sh", setup_script(
                wheel=wheel.name, tasks=config["tasks"], minicnn_version=versions["minicnn"],
                python_version=".".join(versions["python"].split(".")[:2]),
                numpy_version=versions["numpy"], numba_version=versions["numba"],
                llvmlite_version=versions["llvmlite"]), EXECUTABLE)
            _add_text(archive, "run_autograder",
                      run_script(minicnn_version=versions["minicnn"]), EXECUTABLE)
            _add_text(archive, CONFIG, json.dumps(config, indent=2) + "\n")
            archive.write(wheel, f"wheels/{wheel.name}")
            _add_tree(archive, tmp / RELEASE_DIR, RELEASE_DIR)
        partial.replace(out)
    return config


def run(args) -> int:
    """``minicnn assignment autograder``."""
    config = build_autograder(args.out_zip, args.tasks, visibility=args.visibility,
                              stdout_visibility=args.stdout_visibility, seed=args.seed,
                              timeout=args.timeout, force=args.force)
    versions = config["versions"]
    print(f"wrote {args.out_zip}: {len(config['tasks'])} task(s), {config['points']} points "
          f"({', '.join(config['tasks'])})")
    print(f"pinned: Python {versions['python']}, numpy {versions['numpy']}, numba "
          f"{versions['numba']}, llvmlite {versions['llvmlite']}; results visibility "
          f"{config['visibility']}")
    worst = len(config["tasks"]) * config["timeout"]
    print(f"upload it on Gradescope's 'Configure Autograder' page, with an autograder timeout "
          f"above {worst:g} s (every task timing out, one at a time, as the user-account "
          f"sandbox grades them)")
    return 0


# ------------------------------------------------------------------- inside the container


def _container_parser() -> argparse.ArgumentParser:
    from minicnn.assignments.grading.sandbox import add_sandbox_arguments
    from minicnn.cli import Parser

    parser = Parser(prog="python -m minicnn.assignments.gradescope.autograder",
                     description="Inside a Gradescope container: grade the submission under "
                                 "$AUTOGRADER_ROOT (default /autograder) and write "
                                 "results/results.json.")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, required=True)
    p = sub.add_parser("run", help="grade $AUTOGRADER_ROOT/submission")
    add_sandbox_arguments(p)
    p.add_argument("--jobs", type=int, help="tasks graded in parallel (default: the CPUs)")
    return parser


def main(argv=None) -> int:
    from minicnn.assignments.gradescope.container import run_in_container

    args = _container_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return run_in_container(sandbox=args.sandbox, sandbox_user=args.sandbox_user,
                            child_python=args.child_python, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
