"""Helpers for the assignment tooling tests: releases, restored copies, injected bugs."""

from pathlib import Path

from minicnn.assignments.registry import TASKS
from minicnn.assignments.regions import replace_region
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
