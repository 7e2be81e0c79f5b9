"""Write a student copy of minicnn: selected solutions replaced by ``NotImplementedError``.

``release(out_dir, task_ids)`` copies the package (``minicnn/``, ``setup.cfg``,
``pyproject.toml``) from this source tree, then for each selected task

- replaces every region of the task by ``raise NotImplementedError("<task>: implement <f>
  (see the docstring)")`` at the region's indentation (signatures, docstrings and the
  markers stay, so a released copy can be released again or restored);
- strips the helpers that are the same solution in another form (``Task.strips``: Numba
  kernels, NumPy twins, the fast convolution methods) and stubs the tasks that compute the
  same answer another way (``registry.SAME_ANSWER``: releasing the loop convolution stubs
  im2col too), so no working path to a released task's answer is left in the copy;
- stores the public cases' inputs and expected values (``minicnn/assignments/public_data``)
  and writes ``tests/test_<task>.py``, tagged with the pytest marker ``<task>``.

Regions of tasks that are not selected keep the reference code. The instructor's modules
(``NOT_RELEASED``: the hidden grids, the audit and its catalogue, the Gradescope export),
caches and build leftovers are not copied. A README for students explains how to install
the copy and check one task (``student_files``). The notebooks come along (``notebooks/``,
see ``notebooks``): they run on the copy's own code, and a cell that needs an
unfinished task says which instead of failing. When a convolution task is released, the
copy's default convolution method becomes ``im2col`` (the fast methods are stripped), so the
layers and the lecture's CNN run on the student's code once it is written.
"""


from __future__ import annotations

import shutil
from pathlib import Path

from minicnn.assignments.grading.cases import (compute_expected, public_cases, public_data_path,
                                               reference_module, save_public_data)
from minicnn.assignments.registry import SOURCE_ROOT, get_tasks, stubbed_with
from minicnn.assignments.regions import restore_regions, strip_functions, stub_regions
from minicnn.assignments.release.manifest import MANIFEST, write_manifest
from minicnn.assignments.release.notebooks import release_notebooks
from minicnn.assignments.release.student_files import (declare_package_data, student_readme,
                                                       write_tests)

TOP_LEVEL_FILES = ("setup.cfg", "pyproject.toml", "LICENSE", "MANIFEST.in")
NOT_RELEASED = ("minicnn/assignments/checks/hidden_grids.py", "minicnn/assignments/public_data",
                MANIFEST,
                # the audit's catalogue of near-miss bugs and correct alternatives (each one
                # a solution, or one edit away from it), and the Gradescope export, which
                # packs the grader with its hidden checks: instructor tools only
                "minicnn/assignments/audit", "minicnn/assignments/gradescope")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.nbi", "*.nbc", "*.so",
                                 "*.egg-info", ".ipynb_checkpoints")


class ReleaseError(RuntimeError):
    pass


def _copy_tree(source_root: Path, out: Path) -> None:
    shutil.copytree(source_root / "minicnn", out / "minicnn", ignore=_IGNORE)
    for rel in NOT_RELEASED:
        target = out / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for name in TOP_LEVEL_FILES:
        if (source_root / name).is_file():
            shutil.copy2(source_root / name, out / name)


def file_edits(tasks):
    """``{path: ({region function: task}, {stripped function: task})}``."""
    edits: dict[str, tuple[dict, dict]] = {}
    for task in tasks:
        for path, function in task.regions:
            edits.setdefault(path, ({}, {}))[0][function] = task.id
        for path, function in task.strips:
            edits.setdefault(path, ({}, {}))[1][function] = task.id
    return edits


def release(out_dir, task_ids=None, *, source_root=None, force=False) -> list:
    """Write the student copy to ``out_dir``; returns the released tasks."""
    source_root = Path(source_root) if source_root else SOURCE_ROOT
    out = Path(out_dir)
    tasks = get_tasks(task_ids)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out} exists and is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    # The expected values first, from the reference (fails early if it is not one).
    public = {}
    for task in tasks:
        cases = public_cases(task)
        try:
            expected = compute_expected(task, cases, reference_module(task.spec))
        except NotImplementedError as exc:
            raise ReleaseError(f"{task.id}: the source tree {source_root} has no reference "
                               f"solution ({exc}); release from the instructor's tree") from None
        public[task.id] = (cases, expected)
    _copy_tree(source_root, out)
    for path, (regions, strips) in file_edits(stubbed_with(tasks)).items():
        target = out / path
        text = target.read_text(encoding="utf-8")
        if strips:
            text = strip_functions(text, strips, path)
        if regions:
            text = stub_regions(text, regions, path)
        target.write_text(text, encoding="utf-8")
    for task in tasks:
        cases, expected = public[task.id]
        save_public_data(public_data_path(out, task.id), cases, expected)
    if any(t.id.startswith("conv2d") for t in stubbed_with(tasks)):
        _default_conv_method(out / "minicnn/functional/conv.py", "im2col")
    release_notebooks(source_root / "notebooks", out / "notebooks")
    write_manifest(out, tasks, stubbed_with(tasks)[len(tasks):])
    declare_package_data(out / "setup.cfg")
    write_tests(out, tasks)
    (out / "README.md").write_text(student_readme(tasks), encoding="utf-8")
    return tasks


def _default_conv_method(conv_py: Path, method: str | None, reference: Path | None = None):
    """Point the copy's ``DEFAULT_METHOD`` at a method the student writes (or, with
    ``method=None``, put back the reference's line)."""
    if method is None:
        line = next(x for x in reference.read_text(encoding="utf-8").splitlines(keepends=True)
                    if x.startswith("DEFAULT_METHOD = "))
    else:
        line = (f"DEFAULT_METHOD = {method!r}   # student copy: the fast methods are part of "
                f"the solution\n")
    lines = conv_py.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, old in enumerate(lines):
        if old.startswith("DEFAULT_METHOD = "):
            lines[i] = line
            break
    else:
        raise ReleaseError(f"{conv_py}: no 'DEFAULT_METHOD = ...' line to point at {method}")
    conv_py.write_text("".join(lines), encoding="utf-8")


def restore(student_dir, task_ids=None, *, source_root=None) -> None:
    """Put the reference solutions of the given tasks (default: all) back into a copy."""
    source_root = Path(source_root) if source_root else SOURCE_ROOT
    tasks = stubbed_with(get_tasks(task_ids))
    for path, (regions, strips) in file_edits(tasks).items():
        target = Path(student_dir) / path
        text = target.read_text(encoding="utf-8")
        reference = (source_root / path).read_text(encoding="utf-8")
        text = restore_regions(text, reference, set(regions) | set(strips), path)
        target.write_text(text, encoding="utf-8")
    if any(t.id.startswith("conv2d") for t in tasks):
        conv_py = "minicnn/functional/conv.py"
        _default_conv_method(Path(student_dir) / conv_py, None, source_root / conv_py)
