"""The two scripts of a Gradescope autograder: ``setup.sh`` and ``run_autograder``.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` there once, as root,
when it builds the image (the network is open then), and runs ``run_autograder`` as root for
each submission in a fresh container. Following Gradescope's security advice, ``setup.sh``
installs two Python environments:

- the grader (``GRADER_VENV``: minicnn from the wheel in the zip, with the hidden checks and
  the reference solutions) under ``/autograder/source``, which it makes readable by root
  only, so the graded code cannot read the solutions, the checks or the seed;
- the graded code's interpreter (``CHILD_VENV``, ``/opt/minicnn-child``): world-readable,
  NumPy and Numba only. A venv links to the interpreter it was made from, so both are made
  from one the student account can run: ``/usr/bin/pythonX.Y`` first, never an
  interpreter under ``/root`` found on PATH (pyenv, conda: "Permission denied" for the
  account); ``choose_python`` in the script says what to install when there is none;

and an unprivileged account (``STUDENT_USER``) for the sandbox's user mode, used where
bubblewrap cannot start (containers often lack user namespaces). NumPy, Numba and llvmlite
are pinned to the versions of the machine that built the zip, so a regrade gives the same
result. ``@NAME@`` placeholders are filled in by :func:`setup_script` and
:func:`run_script`.
"""

from __future__ import annotations

import re

STUDENT_USER = "minicnn-student"
CHILD_VENV = "/opt/minicnn-child"
GRADER_VENV = "grader-venv"                 # under /autograder/source

SETUP_SH = r"""#!/usr/bin/env bash
# setup.sh of a minicnn Gradescope autograder, written by `minicnn assignment autograder`
# (minicnn @MINICNN_VERSION@; tasks: @TASKS@).
# Gradescope runs it once, as root, in /autograder/source, when it builds the image.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
STUDENT_USER=@STUDENT_USER@
GRADER_VENV="$SOURCE/@GRADER_VENV@"
CHILD_VENV=@CHILD_VENV@
WHEEL="$SOURCE/wheels/@WHEEL@"
# Pinned to the machine that built this zip, so a regrade runs the same code.
PYTHON_VERSION=@PYTHON_VERSION@
PINS=(numpy==@NUMPY_VERSION@ numba==@NUMBA_VERSION@ llvmlite==@LLVMLITE_VERSION@)

export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
apt-get update -q
apt-get install -y -q --no-install-recommends ca-certificates bubblewrap

# The unprivileged account the graded code runs as when bubblewrap cannot start.
if ! id -u "$STUDENT_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$STUDENT_USER"
fi

# The interpreter of both environments. The graded code's venv links to it, so the student
# account must be able to run it: one under /root (pyenv, a conda in root's home) is not
# (/root is private), and a child venv made from it fails with "Permission denied". So the
# system's /usr/bin/pythonX.Y first (the version the zip was built with, from the image's
# packages), then one on PATH that the student account can run, then the image's
# /usr/bin/python3 with a warning (the pinned NumPy may have no wheel for it).
runs_for_student() {
    runuser -u "$STUDENT_USER" -- "$1" -I -c "pass" >/dev/null 2>&1
}
choose_python() {
    local wanted="python$PYTHON_VERSION" found
    if [ ! -x "/usr/bin/$wanted" ]; then
        apt-get install -y -q --no-install-recommends "$wanted" "$wanted-venv" >&2 || true
    fi
    if [ -x "/usr/bin/$wanted" ] && runs_for_student "/usr/bin/$wanted"; then
        echo "/usr/bin/$wanted"
        return 0
    fi
    found="$(command -v "$wanted" || true)"
    if [ -n "$found" ]; then
        if runs_for_student "$found"; then
            echo "$found"
            return 0
        fi
        echo "setup.sh: $found (on PATH) cannot be run by $STUDENT_USER (it lives in a" \
             "private directory, such as root's pyenv or conda); not using it. Install" \
             "$wanted system-wide (apt-get install $wanted $wanted-venv) or put one that" \
             "every account can run first on PATH." >&2
    fi
    apt-get install -y -q --no-install-recommends python3 python3-venv >&2 || true
    if [ -x /usr/bin/python3 ] && runs_for_student /usr/bin/python3; then
        echo "setup.sh: WARNING: no $wanted that every account can run on this image; using" \
             "/usr/bin/python3 (the pins ${PINS[*]} may not exist for it: choose another" \
             "base image or rebuild the zip on a machine with that Python)" >&2
        echo /usr/bin/python3
        return 0
    fi
    echo "setup.sh: no Python that $STUDENT_USER can run: install $wanted (or python3)" \
         "under /usr/bin, e.g. apt-get install $wanted $wanted-venv" >&2
    return 1
}
PYTHON="$(choose_python)"
apt-get install -y -q --no-install-recommends "$("$PYTHON" -c \
    'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}-venv")')" || true

# The grader: minicnn with the hidden checks and reference solutions, readable by root only.
rm -rf "$GRADER_VENV"
"$PYTHON" -m venv "$GRADER_VENV"
if ! "$GRADER_VENV/bin/python" -m pip install -q "${PINS[@]}"; then
    echo "setup.sh: pip could not install ${PINS[*]} for $("$PYTHON" -V): rebuild the zip" \
         "with the Python of this image (e.g. 3.10 on Ubuntu 22.04, 3.12 on 24.04) or" \
         "choose a base image with Python $PYTHON_VERSION" >&2
    exit 1
fi
"$GRADER_VENV/bin/python" -m pip install -q --no-deps "$WHEEL"
chown -R root:root "$SOURCE"
chmod 700 "$SOURCE"
chmod -R go-rwx "$SOURCE"

# The graded code's interpreter: NumPy and Numba only, readable (not writable) by everyone.
rm -rf "$CHILD_VENV"
"$PYTHON" -m venv "$CHILD_VENV"
"$CHILD_VENV/bin/python" -m pip install -q "${PINS[@]}"
chmod -R a+rX,go-w "$CHILD_VENV"

# Smoke tests: the grader imports its hidden checks; the student account runs the child
# interpreter and cannot read the grader.
"$GRADER_VENV/bin/python" -I -c "import minicnn.assignments.checks.hidden_grids"
"$GRADER_VENV/bin/python" -I -c "import minicnn.assignments.gradescope.autograder"
"$GRADER_VENV/bin/python" -I -c "import minicnn.functional"
runuser -u "$STUDENT_USER" -- "$CHILD_VENV/bin/python" -I -c "import numpy, numba"
if runuser -u "$STUDENT_USER" -- test -r "$SOURCE/autograder.json"; then
    echo "setup.sh: $SOURCE is readable by $STUDENT_USER" >&2
    exit 1
fi
echo "setup.sh: minicnn grader installed ($("$GRADER_VENV/bin/python" -c \
    'import numpy, numba; print("numpy", numpy.__version__, "numba", numba.__version__)'))"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# run_autograder of a minicnn Gradescope autograder, written by `minicnn assignment
# autograder` (minicnn @MINICNN_VERSION@). Gradescope runs it as root for each submission.
# It grades $ROOT/submission and writes $ROOT/results/results.json; whatever happens, it
# leaves a results.json (Gradescope shows nothing without one).
#   AUTOGRADER_ROOT        moves /autograder (the tests use it)
#   MINICNN_GRADER_PYTHON  the grader's interpreter (default: setup.sh's root-only venv)
#   MINICNN_SANDBOX_USER / MINICNN_CHILD_PYTHON  the sandbox's account and interpreter
set -uo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
export AUTOGRADER_ROOT="$ROOT"
GRADER_PYTHON="${MINICNN_GRADER_PYTHON:-$ROOT/source/@GRADER_VENV@/bin/python}"
export MINICNN_SANDBOX_USER="${MINICNN_SANDBOX_USER:-@STUDENT_USER@}"
export MINICNN_CHILD_PYTHON="${MINICNN_CHILD_PYTHON:-@CHILD_VENV@/bin/python}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
chmod 700 "$ROOT/results"
rm -f "$RESULTS"
cd "$ROOT"
"$GRADER_PYTHON" -I -m minicnn.assignments.gradescope.autograder run
status=$?
if [ ! -s "$RESULTS" ]; then
    printf '{"score": 0, "execution_time": %s, "output": "The autograder stopped before grading (exit status %s): your submission was not graded. Please tell your instructor.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}\n' \
        "$SECONDS" "$status" > "$RESULTS.tmp" && mv -f "$RESULTS.tmp" "$RESULTS"
fi
exit 0
"""


def _fill(template: str, values: dict) -> str:
    text = template
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"unfilled placeholders {sorted(set(left))}")
    return text


def setup_script(*, wheel: str, tasks, minicnn_version: str, python_version: str,
                 numpy_version: str, numba_version: str, llvmlite_version: str) -> str:
    """The text of ``setup.sh`` (``wheel``: the wheel's file name under ``wheels/``)."""
    return _fill(SETUP_SH, {
        "MINICNN_VERSION": minicnn_version, "TASKS": " ".join(tasks), "WHEEL": wheel,
        "STUDENT_USER": STUDENT_USER, "GRADER_VENV": GRADER_VENV, "CHILD_VENV": CHILD_VENV,
        "PYTHON_VERSION": python_version, "NUMPY_VERSION": numpy_version,
        "NUMBA_VERSION": numba_version, "LLVMLITE_VERSION": llvmlite_version})


def run_script(*, minicnn_version: str) -> str:
    """The text of ``run_autograder``."""
    return _fill(RUN_AUTOGRADER, {
        "MINICNN_VERSION": minicnn_version, "STUDENT_USER": STUDENT_USER,
        "GRADER_VENV": GRADER_VENV, "CHILD_VENV": CHILD_VENV})
