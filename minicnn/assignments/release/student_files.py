"""The files a student copy gets besides the code: its README, its ``tests/`` (one pytest
marker per task, the public checks as tests) and the package data declaration that ships the
public data with a non-editable install."""

from __future__ import annotations

from pathlib import Path

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

from minicnn.assignments.grading.public import public_case_names, run_public_case

TASK = "{task}"


@pytest.mark.{task}
@pytest.mark.parametrize("case", public_case_names(TASK))
def test_{task}(case):
    passed, report = run_public_case(TASK, case)
    assert passed, report
'''


def declare_package_data(setup_cfg: Path) -> None:
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


def write_tests(out: Path, tasks) -> None:
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
