"""Which files of a Gradescope submission are graded, laid over a fresh copy of the release.

Students upload what they edited, in any of the shapes Gradescope allows: the single files
(``conv.py``), the files with their folders (``minicnn/functional/conv.py``), or a whole copy
(a folder holding ``minicnn/``, at the top or one or two levels down, e.g. a zip's top folder
and its ``src/``). Whatever the shape, only the *task files* (the files that hold the
released tasks' solution regions) and the *helper files* (the files whose helpers the release
stripped as solutions in disguise, e.g. ``minicnn/kernels/elementwise.py``: a reference copy
puts them back) are taken from the submission, and they are laid over a fresh copy of the
release, so every other file is the pristine one.

Matching a loose file to a task file:

- by the longest common tail of their paths (``kernels/conv.py`` is
  ``minicnn/kernels/conv.py``, not ``minicnn/functional/conv.py``); a tail of two or more
  parts that names a file of the release which is neither a task nor a helper file is
  reported, not used;
- by the file name alone (``conv.py``) when it names exactly one task file (task files
  first: a student who uploads ``conv.py`` edited ``minicnn/functional/conv.py``), else
  exactly one helper file.

A file that matches nothing, matches several task files, or is one of several *different*
files for the same task file is reported in the output and never used elsewhere. Symbolic
links are not followed (one could point at the grader's own solution), and files larger than
``MAX_FILE_BYTES`` are not read.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 1_000_000          # a task file is a few hundred lines; anything bigger is not
MAX_NOTES = 20                      # lines of "ignored ..." in the output, then a count
SKIPPED_DIRS = {"__pycache__", "__MACOSX", ".git", ".ipynb_checkpoints", ".pytest_cache"}
COPY_DEPTH = 2                      # a whole copy's minicnn/ may sit this many folders down
_CACHE_PATTERNS = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")


@dataclass
class Overlay:
    """The task files taken from a submission (contents read once) and what was left out."""

    used: dict = field(default_factory=dict)        # task file -> path in the submission
    contents: dict = field(default_factory=dict)    # task file -> bytes
    notes: list = field(default_factory=list)       # what was ignored, and why
    whole_copy: str | None = None                   # the copy's folder ("." at the top)

    @property
    def usable(self) -> bool:
        return bool(self.used)

    def summary(self) -> str:
        """Lines for the results page: what was graded, what was ignored."""
        lines = []
        if self.whole_copy is not None:
            where = "at the top" if self.whole_copy == "." else f"in {self.whole_copy}/"
            lines.append(f"Found a whole minicnn copy {where}; graded its task files: "
                         + (", ".join(sorted(self.used)) or "none"))
        elif self.used:
            lines.append("Graded files: " + ", ".join(
                f"{source} -> {target}" if source != target else target
                for target, source in sorted(self.used.items())))
        shown = self.notes[:MAX_NOTES]
        lines.extend(f"Not graded: {note}" for note in shown)
        if len(self.notes) > len(shown):
            lines.append(f"Not graded: ... and {len(self.notes) - len(shown)} more file(s)")
        return "\n".join(lines)


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file, refusing a symbolic link even if one appears late."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


def submitted_files(submission: Path) -> tuple[list[str], list[str]]:
    """``(files, notes)``: the regular files under ``submission`` (relative POSIX paths),
    without caches, hidden files and anything reached through a symbolic link."""
    files, notes = [], []
    for dirpath, dirnames, filenames in os.walk(submission, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(submission)
        kept = []
        for name in sorted(dirnames):
            if name in SKIPPED_DIRS or name.startswith("."):
                continue
            if (here / name).is_symlink():
                notes.append(f"{(rel_dir / name).as_posix()}/: a symbolic link (not followed)")
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if name.startswith(".") or name.endswith((".pyc", ".nbi", ".nbc")):
                continue
            mode = os.lstat(here / name).st_mode
            if stat.S_ISLNK(mode):
                notes.append(f"{rel}: a symbolic link (not followed)")
            elif stat.S_ISREG(mode):
                files.append(rel)
    return files, notes


def _common_tail(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _copy_roots(files: list[str]) -> list[str]:
    """Folders (``""`` for the top) that hold a ``minicnn/__init__.py``, at most COPY_DEPTH
    folders down."""
    roots = []
    for rel in files:
        parts = rel.split("/")
        if parts[-2:] == ["minicnn", "__init__.py"] and len(parts) - 2 <= COPY_DEPTH:
            roots.append("/".join(parts[:-2]))
    return sorted(roots)


def _target_of_loose_file(rel: str, task_files, helper_files,
                          release_files) -> tuple[str | None, str]:
    """The task or helper file a loose submitted file stands for, or None and why not."""
    parts = rel.split("/")
    best = max((_common_tail(parts, r.split("/")) for r in release_files), default=0)
    if best >= 2:
        matches = [r for r in release_files if _common_tail(parts, r.split("/")) == best]
        if len(matches) == 1:
            if matches[0] in task_files or matches[0] in helper_files:
                return matches[0], ""
            return None, (f"{rel}: it is {matches[0]}, which holds none of this "
                          f"assignment's tasks")
        return None, f"{rel}: ambiguous, it could be any of {', '.join(matches)}"
    for candidates in (task_files, helper_files):
        matches = sorted(t for t in candidates if t.split("/")[-1] == parts[-1])
        if len(matches) == 1:
            return matches[0], ""
        if matches:
            return None, f"{rel}: ambiguous, it could be any of {', '.join(matches)}"
    return None, f"{rel}: not a file of this assignment's tasks"


def match_submission(submission, task_files, release_dir, helper_files=()) -> Overlay:
    """Decide which submitted files are graded, as which task file.

    Parameters
    ----------
    submission : path of the uploaded files (Gradescope's ``/autograder/submission``)
    task_files : paths (relative to a copy's root) of the files holding the released tasks
    release_dir : the pristine release, to recognise (and compare with) its other files
    helper_files : paths of the files holding helpers the release stripped (taken too)
    """
    submission, release_dir = Path(submission), Path(release_dir)
    task_files, helper_files = set(task_files), set(helper_files) - set(task_files)
    release_files = set(release_python_files(release_dir))
    overlay = Overlay()
    if not submission.is_dir():
        overlay.notes.append(f"{submission}: no submission folder")
        return overlay
    files, overlay.notes = submitted_files(submission)
    roots = _copy_roots(files)
    if len(roots) > 1:
        shown = ", ".join(f"{r or '.'}/minicnn" for r in roots)
        overlay.notes.append(f"several minicnn copies ({shown}): upload one")
        return overlay
    if roots:
        claims = _claims_of_copy(overlay, submission, files, roots[0], task_files,
                                 helper_files, release_dir, release_files)
    else:
        claims = _claims_of_loose_files(overlay, files, task_files, helper_files,
                                        release_files)
    for target, sources in sorted(claims.items()):
        texts = {}
        for source in sources:
            data = _read_regular(submission / source)
            if len(data) > MAX_FILE_BYTES:
                overlay.notes.append(f"{source}: larger than {MAX_FILE_BYTES} bytes")
                continue
            texts[source] = data
        if len(set(texts.values())) > 1:
            overlay.notes.append(f"{target}: several different files stand for it "
                                 f"({', '.join(sorted(texts))}); none was graded, upload one")
        elif texts:
            overlay.used[target] = sorted(texts)[0]
            overlay.contents[target] = next(iter(texts.values()))
    return overlay


def _claims_of_copy(overlay, submission, files, root, task_files, helper_files,
                    release_dir, release_files) -> dict:
    """A whole copy under ``root``: its task and helper files; other edits are reported."""
    prefix = root + "/" if root else ""
    overlay.whole_copy = root or "."
    claims = {}
    for target in sorted(task_files):
        if prefix + target in files:
            claims[target] = [prefix + target]
        else:
            overlay.notes.append(f"{target} is missing from your copy (the released stub "
                                 f"was graded)")
    for target in sorted(helper_files):
        if prefix + target in files:
            claims[target] = [prefix + target]
    for rel in files:
        inside = rel[len(prefix):]
        if not rel.startswith(prefix):
            overlay.notes.append(f"{rel}: outside your minicnn copy")
        elif not inside.startswith("minicnn/") or not inside.endswith(".py") or \
                inside in task_files or inside in helper_files:
            continue
        elif inside not in release_files:
            overlay.notes.append(f"{rel}: a file of yours outside the task files")
        elif _read_regular(submission / rel) != (release_dir / inside).read_bytes():
            overlay.notes.append(f"{rel}: changed, but only the task files are taken "
                                 f"(the released {inside} was used)")
    return claims


def _claims_of_loose_files(overlay, files, task_files, helper_files, release_files) -> dict:
    """Loose files: each stands for the task file its path or name matches."""
    claims = {}
    for rel in files:
        if not rel.endswith(".py"):
            overlay.notes.append(f"{rel}: not a Python file")
            continue
        target, why = _target_of_loose_file(rel, task_files, helper_files, release_files)
        if target is None:
            overlay.notes.append(why)
        else:
            claims.setdefault(target, []).append(rel)
    return claims


def release_python_files(release_dir) -> list[str]:
    """Every ``.py`` path of a release, relative to its root."""
    release_dir = Path(release_dir)
    return sorted(p.relative_to(release_dir).as_posix() for p in release_dir.rglob("*.py")
                  if "__pycache__" not in p.parts)


def build_graded_copy(overlay: Overlay, release_dir, target) -> Path:
    """A fresh copy of the release at ``target`` with the overlay's task files in place.

    Readable by everyone, writable by its owner only: in the container the release is
    root-only (setup.sh), and a sandbox that runs the graded code as another uid must still
    read its own submission (nothing in it is secret: the release and the student's files).
    """
    target = Path(target)
    shutil.copytree(release_dir, target, ignore=_CACHE_PATTERNS, symlinks=False)
    for rel, data in overlay.contents.items():
        (target / rel).write_bytes(data)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
