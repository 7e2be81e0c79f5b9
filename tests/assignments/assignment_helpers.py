"""Helpers for the assignment tooling tests: releases, restored copies, injected bugs."""

import ast
import inspect
import textwrap
from pathlib import Path

from minicnn.assignments.audit.catalogue import variants
from minicnn.assignments.registry import TASKS
from minicnn.assignments.regions import region_text, replace_region
from minicnn.assignments.release import release, restore

SEED = 20240607


def make_copy(root: Path, tasks, *, restored: bool) -> Path:
    """A student copy of ``tasks`` under ``root``; with its solutions put back if
    ``restored`` (then only the injected bugs differ from the reference)."""
    release(root, tasks)
    if restored:
        restore(root, tasks)
    return root


def inject(root: Path, task_id: str, body: str, function: str | None = None) -> None:
    """Replace the solution region of ``task_id`` (or of ``function`` in the task's file)
    in the copy under ``root`` by ``body`` (a text replacement of the region)."""
    task = TASKS[task_id]
    path, default_function = task.regions[0]
    target = root / path
    target.write_text(replace_region(target.read_text(), function or default_function, body,
                                     path=path))


def catalogued(task_id: str, name: str):
    """The catalogue's variant ``name`` of ``task_id``."""
    return next(v for v in variants([task_id]) if v.name == name)


def inject_variant(root: Path, task_id: str, name: str) -> None:
    """Write the catalogue's variant ``name`` of ``task_id`` into the copy under ``root``."""
    variant = catalogued(task_id, name)
    path, function = TASKS[task_id].regions[0]
    reference = region_text((root / path).read_text(), function, path=path)
    inject(root, task_id, variant.region(reference))


def what_the_code_uses(function) -> tuple[set, set, str]:
    """``(called, attributes, source)`` of ``function``: the names it calls (functions and
    methods), the attributes it reads, its source; for a check's own model, which must call
    no task's function and no layer of the student's."""
    source = inspect.getsource(function)
    tree = ast.parse(textwrap.dedent(source))
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else
              getattr(node.func, "id", "") for node in ast.walk(tree)
              if isinstance(node, ast.Call)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return called, attributes, source


def task_functions() -> set:
    """The (unqualified) names of every task's region functions."""
    return {function.rsplit(".", 1)[-1] for task in TASKS.values()
            for function in task.functions}
