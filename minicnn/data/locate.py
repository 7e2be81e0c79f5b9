"""Where a data set's files are found, how they are fetched, and what is said when neither works.

Every data set searches the same places, in this order (the first holding all its files wins):

1. the ``root`` argument (CLI: ``--data-dir``), or else the ``$MINICNN_DATA`` directory;
2. its user cache, ``$XDG_CACHE_HOME/minicnn/<name>`` (default ``~/.cache/minicnn/<name>``);
3. a Debian package's directory, where one ships the data set (``/usr/share/datasets/...``);
4. a download into the user cache (``download=True``): a short timeout, progress on stderr, a
   SHA-256 checked before the file is kept, written atomically (temp file + ``os.replace``).

When all fail, :class:`DatasetNotFoundError` lists each place tried and what to do instead
(which file to put where). A download that fails (no network, DNS, timeout) is a line of that
report, not a crash; a download whose checksum is wrong is a :class:`ChecksumError`.

Each data set's module (``fashion_mnist``, ``mnist``, ``cifar10``) keeps its names, URLs and
checksums as module attributes, read at call time, so tests and mirrors can override them.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from minicnn._atomic import atomic_write

__all__ = ["DatasetNotFoundError", "ChecksumError", "user_cache", "search_places", "find_file",
           "locate", "try_download", "not_found_message", "download_file", "Progress"]


class DatasetNotFoundError(FileNotFoundError):
    """The full dataset is in none of the places searched and could not be downloaded."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 does not match the official one (the file was deleted)."""


def user_cache(name: str) -> Path:
    """The user cache for ``name``'s downloads: ``$XDG_CACHE_HOME/minicnn/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minicnn" / name


def search_places(root, cache: Path, *more) -> list[tuple[str, Path | None]]:
    """The directories searched, in order, as ``(description, path)``; path None = unset.

    ``root`` (when not None) replaces ``$MINICNN_DATA``; then the user cache ``cache``; then
    ``more`` places, each a ``(description, path)`` pair (e.g. a Debian package's directory).
    """
    if root is not None:
        first = ("root argument (--data-dir)", Path(root).expanduser())
    else:
        env = os.environ.get("MINICNN_DATA")
        first = ("$MINICNN_DATA", Path(env).expanduser() if env else None)
    return [first, ("user cache", Path(cache)), *more]


def find_file(directory: Path, candidates) -> Path | None:
    """The first of ``candidates`` (names relative to ``directory``) that is a file, or None."""
    for name in candidates:
        path = directory / name
        if path.is_file():
            return path
    return None


def locate(places, wanted: dict, subdirs=("",), reject=None):
    """Find every wanted file in one directory, trying ``places`` in order.

    Parameters
    ----------
    places : ``[(description, directory or None), ...]`` from :func:`search_places`
    wanted : ``{label: (candidate names...)}``, e.g. ``{"x[.gz]": ("x.gz", "x")}``; the label is
        how the report names a missing file
    subdirs : where to look inside each place, in order ("" is the place itself)
    reject : ``reject(directory, paths) -> reason or None``: a directory holding every file but
        the wrong data (e.g. another data set's) is skipped, the reason kept in the report

    Returns
    -------
    ``((directory, [paths in the order of wanted]) or None, report lines)``
    """
    report = []
    for description, place in places:
        if place is None:
            report.append(f"{description}: not set")
            continue
        notes = []
        for sub in subdirs:
            directory = place / sub if sub else place
            paths = [find_file(directory, candidates) for candidates in wanted.values()]
            if not all(paths):
                if directory.is_dir() and any(paths):
                    missing = ", ".join(label for label, path in zip(wanted, paths) if not path)
                    notes.append(f"{_within(sub)}missing {missing}")
                continue
            reason = reject(directory, paths) if reject is not None else None
            if reason is None:
                return (directory, paths), report
            notes.append(f"{_within(sub)}{reason}")
        if notes:
            state = "; ".join(notes)
        elif not place.is_dir():
            state = "no such directory"
        else:
            state = "missing " + ", ".join(wanted)
        report.append(f"{description}: {place} ({state})")
    return None, report


def _within(sub: str) -> str:
    return f"{sub}/: " if sub else ""


def try_download(fetch, url: str, download: bool, report: list):
    """``fetch()``'s result, or None with a report line when ``download`` is off or it fails.

    A :class:`ChecksumError` is raised (the file was wrong, not missing); any other failure
    (network down, DNS, timeout, HTTP error, an unwritable cache) is only reported.
    """
    if not download:
        report.append(f"download from {url}: not attempted (download=False)")
        return None
    try:
        return fetch()
    except ChecksumError:
        raise
    except Exception as exc:   # network down, DNS, timeout, HTTP error, unwritable cache
        report.append(f"download from {url}: failed ({short(exc)})")
        return None


def not_found_message(title: str, report, fixes) -> str:
    """``title``, the numbered places tried, then the ways to fix it (one line each)."""
    lines = [f"{title} was not found. Places tried, in order:"]
    lines += [f"  {i}. {line}" for i, line in enumerate(report, 1)]
    fixes = list(fixes)
    words = {1: "One way", 2: "Two ways", 3: "Three ways", 4: "Four ways"}
    lines.append(f"{words.get(len(fixes), f'{len(fixes)} ways')} to fix it:")
    lines += [f"  - {fix}" for fix in fixes]
    return "\n".join(lines)


def short(exc: BaseException) -> str:
    """An exception as one short line for a report."""
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


# ----------------------------------------------------------------------------- download

def download_file(url: str, final: Path, *, opener, timeout: float, check=None) -> Path:
    """Fetch ``url`` into ``final`` atomically, with progress on stderr.

    The connection is opened first (so an offline machine fails fast and no directory is made);
    ``check(tmp_path)`` runs on the complete file before it is moved into place and raises to
    reject it (the partial file is then deleted).
    """
    final = Path(final)
    response = opener(url, timeout=timeout)   # fails fast when offline
    with response:
        final.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(final, check=check, suffix=".part") as out:
            progress = Progress(final.name, _content_length(response))
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                progress.update(len(chunk))
            progress.close()
    return final


def check_sha256(data_or_path, expected: str, what: str, url: str) -> None:
    """Raise :class:`ChecksumError` unless the SHA-256 of the bytes (or file) is ``expected``."""
    digest = hashlib.sha256()
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        digest.update(data_or_path)
    else:
        with open(data_or_path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    value = digest.hexdigest()
    if value != expected:
        raise ChecksumError(f"{url}: SHA-256 of the downloaded {what} is {value}, expected "
                            f"{expected}; the file is corrupt or not the official one and "
                            f"was not kept")


def _content_length(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class Progress:
    """A download's progress bar (tqdm, in MB): a live bar on a terminal or in a notebook, a
    few lines in a log, between a "Downloading" line and a "received" line."""

    def __init__(self, name, total, stream=None):
        from tqdm.auto import tqdm

        self.name, self.total, self.done = name, total, 0
        self.stream = stream if stream is not None else sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.stream.write(f"Downloading {name}" + (f" ({total / 1e6:.1f} MB)" if total else "")
                          + "\n")
        # in a log (not a terminal), redraw at most every 10 s: a handful of lines, not a
        # carriage return per chunk
        self.bar = tqdm(total=total, file=self.stream, unit="B", unit_scale=True,
                        unit_divisor=1000, desc="  " + name, mininterval=0.1 if tty else 10.0,
                        disable=not total)

    def update(self, n):
        self.done += n
        self.bar.update(n)

    def close(self):
        self.bar.close()
        self.stream.write(f"  {self.name}: {self.done / 1e6:.1f} MB received\n")
        self.stream.flush()
