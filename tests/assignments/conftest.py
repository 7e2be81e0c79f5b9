"""Fixtures for the assignment tooling tests."""

import shutil
from pathlib import Path

import pytest

from assignment_helpers import make_copy


@pytest.fixture(scope="session")
def full_release(tmp_path_factory):
    """One release of every task, untouched (read-only use: copy it to modify)."""
    root = make_copy(tmp_path_factory.mktemp("release") / "all", None, restored=False)
    # what the release wrote, before any grading run adds caches (numba's, Python's)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    (root.parent / "released_files.txt").write_text("\n".join(files))
    return root


@pytest.fixture
def copy_of(tmp_path):
    def _copy(source: Path, name="copy") -> Path:
        target = tmp_path / name
        shutil.copytree(source, target)
        return target
    return _copy
