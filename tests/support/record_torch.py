"""Record what PyTorch returns for the suite's cross-checks, so they also run without torch.

    python tests/support/record_torch.py                       # every test module
    python tests/support/record_torch.py tests/functional/test_conv.py   # just these modules

Runs the PyTorch cross-checks (``pytest -m torch``) with live torch, collects every
``torch_reference`` call and rewrites tests/torch_recordings/<module>.npz for each module it
ran, from scratch (a recording of a module without cross-checks any more is deleted). Needs
PyTorch: pip install torch==2.13.0 (or pip install -e ".[torch]"). See tests/support/torch_reference.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO = TESTS_DIR.parent
# instructor tooling: its tests grade student code and hold no PyTorch cross-check
EXCLUDED = [TESTS_DIR / "assignments"]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python tests/support/record_torch.py",
        description="Rewrite tests/torch_recordings/: PyTorch's results for every "
                    "torch_reference call of the cross-checks (pytest -m torch), recorded "
                    "with the installed torch, so that the cross-checks run without torch.")
    parser.add_argument("modules", nargs="*", type=Path, metavar="MODULE",
                        help="test modules to record (default: every module under tests/, "
                             "except tests/assignments/)")
    return parser.parse_args(argv)


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.1f} KiB"


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("record_torch.py: PyTorch is not installed, and the recordings are what PyTorch "
              "returns, so there is nothing to record them with. Install it first: pip "
              "install torch==2.13.0 (or pip install -e \".[torch]\")", file=sys.stderr)
        return 2
    import pytest

    sys.path.insert(0, str(TESTS_DIR))
    from support.torch_reference import RECORDINGS_DIR, Recorder, recording_path, write_recording

    modules = [module.resolve() for module in args.modules]
    for module in modules:
        if not module.is_file() or not module.is_relative_to(TESTS_DIR):
            print(f"record_torch.py: {module} is not a test module under {TESTS_DIR}",
                  file=sys.stderr)
            return 2
    recorder = Recorder(torch.__version__)
    pytest_args = [str(m) for m in modules] or [str(TESTS_DIR)]
    # in this process: the recorder sees each test's results (not on pytest-xdist's workers)
    pytest_args += ["-m", "torch", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                    "--rootdir", str(REPO)]
    pytest_args += [f"--ignore={path}" for path in EXCLUDED]
    status = pytest.main(pytest_args, plugins=[recorder])
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        print(f"record_torch.py: pytest stopped ({status!r}); no recording was written",
              file=sys.stderr)
        return 1

    recorded = set(recorder.calls)
    scope = [recording_path(m) for m in modules] if modules \
        else sorted(RECORDINGS_DIR.rglob("*.npz"))
    for stale in sorted(set(scope) - recorded):
        if stale.exists():
            stale.unlink()
            print(f"deleted {stale.relative_to(REPO)} (its module has no cross-check left)")
    total = 0
    for path in sorted(recorded):
        write_recording(path, recorder.calls[path], recorder.torch_version)
        total += path.stat().st_size
        print(f"wrote {path.relative_to(REPO)}: {len(recorder.calls[path])} calls, "
              f"{_size(path)}")
    print(f"{len(recorded)} recordings, {total / 1024:.1f} KiB, torch {torch.__version__}")
    if recorder.failed:
        print(f"record_torch.py: {len(recorder.failed)} cross-checks failed while recording; "
              f"what PyTorch returned is recorded, but a test that stopped early may lack its "
              f"later calls:\n  " + "\n  ".join(recorder.failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
