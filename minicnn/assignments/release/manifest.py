"""The student copy's manifest (``minicnn/assignments/release.json``): the tasks it was
released with and the ones stubbed with them. ``release`` writes it; ``check`` and the
notebooks' setup cell read it."""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST = "minicnn/assignments/release.json"


def write_manifest(root, tasks, also_stubbed) -> None:
    manifest = {"tasks": [t.id for t in tasks], "points": {t.id: t.points for t in tasks},
                "also_stubbed": [t.id for t in also_stubbed]}
    (Path(root) / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def read_manifest(root) -> dict:
    """The manifest of the copy under ``root`` ({} if it has none or it is unreadable)."""
    path = Path(root) / MANIFEST
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                return data
        except ValueError:
            pass
    return {}


def released_tasks(root) -> list:
    """The task ids a student copy was released with (all tasks if it has no manifest)."""
    from minicnn.assignments.registry import get_tasks

    tasks = read_manifest(root).get("tasks")
    if isinstance(tasks, list):
        return list(tasks)
    return [t.id for t in get_tasks()]
