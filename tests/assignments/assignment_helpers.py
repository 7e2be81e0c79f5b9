"""Helpers for the assignment tooling tests: releases, restored copies, injected bugs."""

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
