"""The cases a task is checked on, and the values a correct implementation returns.

Hidden cases (``grade``, the audit) are drawn fresh from the grids of
``checks.hidden_grids`` with the grading seed; public cases (``check``, the released tests)
use a fixed seed per task, and a student copy stores their inputs and the reference's
expected values (``minicnn/assignments/public_data/<task>.npz``, written by ``release``),
so a student's own code is never taken as the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minicnn.assignments.checks.base import task_seed

PUBLIC_DATA = "minicnn/assignments/public_data"


def hidden_cases(task, seed: int):
    """Fresh random hidden cases for ``task`` (the grids live in ``checks.hidden_grids``)."""
    from minicnn.assignments.checks.hidden_grids import HIDDEN_PARAMS

    rng = np.random.default_rng([seed, task_seed(task.id)])
    return task.spec.cases(HIDDEN_PARAMS[task.id], rng)


def public_cases(task):
    """The public cases of ``task``: fixed seed, the same on every machine."""
    return task.spec.cases(task.spec.public_params(), np.random.default_rng(task_seed(task.id)))


def reference_module(spec):
    """The grader's own implementation (this installation's), imported in-process."""
    import importlib

    return importlib.import_module(spec.module)


def compute_expected(task, cases, ref) -> dict:
    """``{case name: {output: array}}`` from the reference; also fills each case's
    reference caches (for the backward fallback)."""
    expected = {}
    for case in cases:
        task.spec.prepare(case, ref)
        expected[case.name] = task.spec.expected(case, ref)
    return expected


def public_data_path(root, task_id) -> Path:
    return Path(root) / PUBLIC_DATA / f"{task_id}.npz"


def save_public_data(path, cases, expected) -> None:
    arrays = {}
    for case in cases:
        for name, value in case.arrays.items():
            arrays[f"{case.name}/input/{name}"] = value
        for name, value in expected.get(case.name, {}).items():
            arrays[f"{case.name}/expected/{name}"] = np.asarray(value)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_public_data(path, cases) -> dict:
    """Replace each case's inputs by the stored ones; return the stored expected values."""
    expected = {case.name: {} for case in cases}
    with np.load(path, allow_pickle=False) as data:
        stored = {k: data[k] for k in data.files}
    for case in cases:
        for key, value in stored.items():
            name, _, rest = key.partition("/")
            if name != case.name:
                continue
            kind, _, array_name = rest.partition("/")
            if kind == "input":
                case.arrays[array_name] = value
            elif kind == "expected":
                expected[case.name][array_name] = value
    return expected
