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

Regions of tasks that are not selected keep the reference code. The hidden checks
(``minicnn/assignments/hidden.py``), caches and build leftovers are not copied. A README for
students explains how to install the copy and check one task. The notebooks come along
(``notebooks/``, see ``notebook``): they run on the copy's own code, and a cell that needs an
unfinished task says which instead of failing. When a convolution task is released, the
copy's default convolution method becomes ``im2col`` (the fast methods are stripped), so the
layers and the lecture's CNN run on the student's code once it is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from minicnn.assignments.engine import (compute_expected, public_cases, public_data_path,
                                        reference_module, save_public_data)
from minicnn.assignments.registry import SOURCE_ROOT, get_tasks, stubbed_with
from minicnn.assignments.notebook import release_notebooks
from minicnn.assignments.regions import restore_regions, strip_functions, stub_regions

MANIFEST = "minicnn/assignments/release.json"
TOP_LEVEL_FILES = ("setup.cfg", "pyproject.toml", "LICENSE", "MANIFEST.in")
NOT_RELEASED = ("minicnn/assignments/hidden.py", "minicnn/assignments/public_data",
                MANIFEST,
                # the audit's catalogue of near-miss bugs and correct alternatives (each one
                # a solution, or one edit away from it), and the Gradescope export, which
                # packs the grader with its hidden checks: instructor tools only
                "minicnn/assignments/audit.py", "minicnn/assignments/catalogue",
                "minicnn/assignments/autograder.py", "minicnn/assignments/gradescope")
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


def _file_edits(tasks):
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
    for path, (regions, strips) in _file_edits(stubbed_with(tasks)).items():
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
    manifest = {"tasks": [t.id for t in tasks],
                "points": {t.id: t.points for t in tasks},
                "also_stubbed": [t.id for t in stubbed_with(tasks)[len(tasks):]]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _declare_package_data(out / "setup.cfg")
    _write_tests(out, tasks)
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
    for path, (regions, strips) in _file_edits(tasks).items():
        target = Path(student_dir) / path
        text = target.read_text(encoding="utf-8")
        reference = (source_root / path).read_text(encoding="utf-8")
        text = restore_regions(text, reference, set(regions) | set(strips), path)
        target.write_text(text, encoding="utf-8")
    if any(t.id.startswith("conv2d") for t in tasks):
        conv_py = "minicnn/functional/conv.py"
        _default_conv_method(Path(student_dir) / conv_py, None, source_root / conv_py)


def released_tasks(root) -> list:
    """The task ids a student copy was released with (all tasks if it has no manifest)."""
    path = Path(root) / MANIFEST
    if path.is_file():
        try:
            return list(json.loads(path.read_text())["tasks"])
        except (ValueError, KeyError, TypeError):
            pass
    return [t.id for t in get_tasks()]


# ------------------------------------------------------------------------------ tests, README

_CONFTEST = '''"""Registers one pytest marker per task, so that ``pytest -m <task>`` runs one task."""

from minicnn.assignments.registry import TASKS


def pytest_configure(config):
    for task in TASKS.values():
        config.addinivalue_line("markers", f"{task.id}: {task.description}")
'''

_TEST = '''"""Public checks of task {task}: {description}.

Run them with:   pytest -m {task}        (or: minicnn assignment check {task})

Each case compares your code with values computed by the reference implementation
(stored in minicnn/assignments/public_data/{task}.npz). The grader runs more cases than
these (other shapes, strides, paddings, dtypes), so passing here is necessary, not sufficient.
"""

import pytest

from minicnn.assignments.public import public_case_names, run_public_case

TASK = "{task}"


@pytest.mark.{task}
@pytest.mark.parametrize("case", public_case_names(TASK))
def test_{task}(case):
    passed, report = run_public_case(TASK, case)
    assert passed, report
'''


def _declare_package_data(setup_cfg: Path) -> None:
    """Ship the public data with a (non-editable) install of the student copy too."""
    if not setup_cfg.is_file():
        return
    text = setup_cfg.read_text()
    line = "minicnn.assignments = public_data/*.npz, release.json"
    if line in text:
        return
    header = "[options.package_data]\n"
    if header in text:
        text = text.replace(header, header + line + "\n", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + header + line + "\n"
    setup_cfg.write_text(text)


def _write_tests(out: Path, tasks) -> None:
    tests = out / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "conftest.py").write_text(_CONFTEST)
    for task in tasks:
        (tests / f"test_{task.id}.py").write_text(
            _TEST.format(task=task.id, description=task.description))


def student_readme(tasks) -> str:
    rows = "\n".join(f"| `{t.id}` | {t.points} | {t.description} |" for t in tasks)
    total = sum(t.points for t in tasks)
    first = tasks[0].id if tasks else "relu_forward"
    return f"""# minicnn: student copy

minicnn is a convolutional-network engine written from scratch in NumPy: every layer is a
pair of functions, `..._forward(...) -> (out, cache)` and `..._backward(dout, cache) ->
gradients`, with PyTorch's names and conventions. In this copy some of those functions are
yours to write: their bodies raise `NotImplementedError("<task>: implement ...")`. Everything
else works already.

## Install

```bash
pip install -e .            # from this directory; add ".[test]" to get pytest
```

## Your tasks ({total} points)

| task | points | what |
| --- | --- | --- |
{rows}

Each stub sits between `# BEGIN SOLUTION` and `# END SOLUTION` in `minicnn/functional/`
(`minicnn/optim/` for the optimisers).
Read the function's docstring first: it gives the formula, the shapes, and what the `cache`
must hold (a backward pass receives exactly the cache its forward pass returned). Write your
code between the markers and leave the markers in place.

## Check a task

```bash
minicnn assignment check {first}          # PASS/FAIL per check, relative errors and hints
minicnn assignment check                  # every task
pytest -m {first}                         # the same checks as pytest tests
```

`python -m minicnn.assignments check {first}` works too. A check compares your result with
values from the reference implementation; backward passes are also compared on the gradients
your forward and backward compute together. The relative error is
`max|yours - expected| / max(max|yours|, max|expected|)`; a check passes below 1e-7 in
float64 and 2e-4 in float32, and float32 input must give float32 output.

## The notebooks run on your code

`notebooks/` holds the course notebooks (`pip install jupyter`, then `jupyter notebook
notebooks/`). They import *this* minicnn, so they run your layers: implement
`conv2d_backward` and watch its gradient check pass in notebook 03; finish the convolution,
pooling, BatchNorm, linear, loss and Adam tasks and notebook 05 trains the lecture's CNN on
your code. A cell that needs a task you have not written yet prints one line naming it (and
the `minicnn assignment check` command) and the rest of the notebook still runs.

## How you are graded

The grader runs hidden checks: more cases than the public ones (stride > 1, overlapping
windows, padding, odd shapes, a batch of one, float32 and float64, finite-difference
gradient checks) on fresh random inputs, each task in its own process with a time limit.
A task earns its points when all its checks pass (3/4 of them when the values are right but
float32 input gives float64 output). Do not change function names, signatures or the
documented cache layouts; `print` is fine (it is ignored).
"""
