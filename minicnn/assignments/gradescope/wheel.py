"""Build the minicnn wheel that an autograder installs for its grader.

The wheel is built from the instructor's source tree (hidden checks and reference solutions
included: it is the grader, installed where only root can read it). The tree is first copied
to a temporary directory, so the build leaves no ``build/`` or ``*.egg-info`` behind and a
stale ``build/lib`` cannot slip old files into the wheel.

``pip wheel`` is tried twice: without build isolation first (fast, offline; it needs a
setuptools that builds wheels by itself, 70.1 or later, or the ``wheel`` package), then with
isolation (pip fetches setuptools and wheel from the package index), which is what a fresh
virtual environment with only pip and an older setuptools needs. This module imports nothing
but the standard library, so it runs in such an environment too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What a build of the package reads: the package, its configuration, and the files named in
# setup.cfg (long_description = file: README.md; the licence).
BUILD_FILES = ("setup.cfg", "pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.nbi", "*.nbc", "*.so",
                                 "*.egg-info", ".ipynb_checkpoints")


class WheelError(RuntimeError):
    pass


def _pip_wheel(source: Path, out_dir: Path, *, isolated: bool, python: str) -> tuple[bool, str]:
    command = [python, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), "."]
    if not isolated:
        command.insert(5, "--no-build-isolation")
    # cwd= the tree and "." as the project: pip 23's in-tree build reads setup.cfg relative
    # to the working directory (a path argument from elsewhere builds a package named "src").
    proc = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return proc.returncode == 0, tail


def build_wheel(source_root, out_dir, *, python=None) -> Path:
    """Build ``minicnn-*.whl`` from ``source_root`` into ``out_dir``; returns its path.

    Parameters
    ----------
    source_root : the directory that holds ``minicnn/`` and ``setup.cfg``/``pyproject.toml``
    out_dir : where the wheel goes (created)
    python : the interpreter whose pip builds it (default: this one)
    """
    source_root, out_dir = Path(source_root), Path(out_dir)
    python = python or sys.executable
    if not (source_root / "minicnn" / "__init__.py").is_file() or not any(
            (source_root / name).is_file() for name in ("setup.cfg", "pyproject.toml")):
        raise WheelError(f"{source_root}: not a minicnn source tree (no minicnn/ with "
                         f"setup.cfg or pyproject.toml); build the autograder from a checkout "
                         f"of minicnn, not from an installed copy")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minicnn-wheel-") as tmp:
        tree = Path(tmp) / "minicnn-src"
        shutil.copytree(source_root / "minicnn", tree / "minicnn", ignore=_IGNORE)
        for name in BUILD_FILES:
            if (source_root / name).is_file():
                shutil.copy2(source_root / name, tree / name)
        built = Path(tmp) / "wheels"
        ok, offline_error = _pip_wheel(tree, built, isolated=False, python=python)
        if not ok:
            shutil.rmtree(tree / "build", ignore_errors=True)
            ok, isolated_error = _pip_wheel(tree, built, isolated=True, python=python)
            if not ok:
                raise WheelError(
                    f"pip could not build the minicnn wheel. Without build isolation: "
                    f"{offline_error or '?'}. With isolation (needs the package index): "
                    f"{isolated_error or '?'}. Install setuptools>=70.1 or wheel, or allow "
                    f"pip to reach the index.")
        wheels = sorted(built.glob("minicnn-*.whl"))
        if len(wheels) != 1:
            raise WheelError(f"pip built {len(wheels)} minicnn wheels, expected one")
        target = out_dir / wheels[0].name
        shutil.copy2(wheels[0], target)
    return target
