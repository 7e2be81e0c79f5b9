"""``minicnn assignment autograder``: the Gradescope zip, and its run_autograder end to end.

The zip is built once with the CLI and unpacked into a temporary ``AUTOGRADER_ROOT/source``
per test. setup.sh's installs are not run (slow, network): run_autograder runs with the
current Python as both the grader and the graded code's interpreter
(``MINICNN_GRADER_PYTHON``, ``MINICNN_CHILD_PYTHON``), in whatever sandbox ``auto`` picks here.
Every results.json is checked against Gradescope's specification (``assert_valid_results``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import llvmlite
import numba
import numpy as np
import pytest

from minicnn.assignments.cli import main
from minicnn.assignments.gradescope.container import submission_seed
from minicnn.assignments.gradescope.submission import build_graded_copy, match_submission
from minicnn.assignments.registry import TASKS
from minicnn.assignments.release import restore

from assignment_helpers import SEED, inject

pytestmark = pytest.mark.slow

GRADED = ["relu_forward", "linear_forward"]
POINTS = {task: TASKS[task].points for task in GRADED}
TASK_FILES = ["minicnn/functional/activation.py", "minicnn/functional/linear.py"]
HELPER_FILES = ["minicnn/fast/kernels/elementwise.py"]

# ------------------------------------------------------------ Gradescope's specification
# (gradescope/autograder_samples, docs/specs.md: "Output format", "Controlling Test Case
# Visibility", "Controlling standard output visibility")
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_LEVEL_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
             "output_format", "tags", "visibility", "extra_data"}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        np.isfinite(value)


def assert_valid_results(data: dict) -> None:
    """results.json as Gradescope specifies it, plus what our export promises: every field
    the brief names, one test per task, scores within [0, max_score]."""
    json.dumps(data, allow_nan=False)                     # no NaN/Infinity: not JSON
    assert isinstance(data, dict)
    assert set(data) <= TOP_LEVEL_KEYS, set(data) - TOP_LEVEL_KEYS
    for key in ("score", "execution_time", "output", "visibility", "stdout_visibility",
                "tests"):
        assert key in data, key
    assert _is_number(data["score"]) and data["score"] >= 0
    assert _is_number(data["execution_time"]) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"]
    assert data["visibility"] in VISIBILITIES and data["stdout_visibility"] in VISIBILITIES
    assert data.get("output_format", "simple_format") in FORMATS
    assert isinstance(data.get("extra_data", {}), dict)
    assert isinstance(data["tests"], list)
    numbers = []
    for test in data["tests"]:
        assert isinstance(test, dict) and set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        for key in ("name", "number", "score", "max_score", "status", "output",
                    "visibility"):
            assert key in test, (key, test)
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str) and re.fullmatch(r"\d+(\.\d+)*",
                                                                test["number"]), test
        numbers.append(test["number"])
        assert _is_number(test["score"]) and _is_number(test["max_score"])
        assert 0 <= test["score"] <= test["max_score"], test
        assert test["status"] in {"passed", "failed"}
        assert (test["status"] == "passed") <= (test["score"] == test["max_score"]), test
        assert isinstance(test["output"], str) and test["output"]
        assert test["visibility"] in VISIBILITIES
        assert test.get("output_format", "text") in FORMATS
    assert len(set(numbers)) == len(numbers), numbers
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("autograder") / "hw1-autograder.zip"
    code = main(["autograder", str(out), "--tasks", *GRADED, "--seed", str(SEED),
                 "--visibility", "after_due_date", "--timeout", "60"])
    assert code == 0
    return out


@pytest.fixture
def root(tmp_path, autograder_zip):
    """A fresh AUTOGRADER_ROOT: the zip in source/, an empty submission/, Gradescope's
    metadata."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps({"id": 4242}))
    return root


def run_autograder(root: Path, **env_overrides) -> tuple[dict, subprocess.CompletedProcess]:
    """Run the zip's run_autograder on ``root``; its results.json and the process."""
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), MINICNN_GRADER_PYTHON=sys.executable,
               MINICNN_CHILD_PYTHON=sys.executable, OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    env.update(env_overrides)
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results_dir = root / "results"
    assert [p.name for p in results_dir.iterdir()] == ["results.json"]   # no temp file left
    data = json.loads((results_dir / "results.json").read_text())
    assert_valid_results(data)
    return data, proc


def _tests(data) -> dict:
    return {t["name"].split(":")[0]: t for t in data["tests"]}


def reference_copy(root: Path, target: Path) -> Path:
    """The zip's release with the reference solutions put back (a student who got it all)."""
    shutil.copytree(root / "source" / "release", target)
    restore(target, GRADED)
    return target


# --------------------------------------------------------------------- the zip's layout


def test_zip_layout_and_settings(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        config = json.loads(archive.read("autograder.json"))
        wheels = [n for n in names if n.startswith("wheels/")]
        assert len(wheels) == 1 and wheels[0].endswith("-py3-none-any.whl")
        with archive.open(wheels[0]) as fh, zipfile.ZipFile(fh) as wheel:
            in_wheel = set(wheel.namelist())
            reference = wheel.read("minicnn/functional/linear.py").decode()
    assert {"setup.sh", "run_autograder", "autograder.json"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    # the grader's wheel has the hidden checks and the reference solutions ...
    assert "minicnn/assignments/checks/hidden_grids.py" in in_wheel
    assert "out = x @ weight.T" in reference
    # ... the pristine student copy has neither
    assert "release/minicnn/functional/linear.py" in names
    assert "release/minicnn/assignments/checks/hidden_grids.py" not in names
    assert config["tasks"] == GRADED and config["seed"] == SEED
    assert config["visibility"] == "after_due_date" and config["timeout"] == 60
    assert config["versions"]["numpy"] == np.__version__


def test_setup_sh_parses_creates_the_user_and_installs_the_pinned_wheel(root):
    setup = (root / "source" / "setup.sh").read_text()
    for script in ("setup.sh", "run_autograder"):
        proc = subprocess.run(["bash", "-n", str(root / "source" / script)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    wheel = next((root / "source" / "wheels").glob("*.whl")).name
    assert f'WHEEL="$SOURCE/wheels/{wheel}"' in setup
    assert 'pip install -q --no-deps "$WHEEL"' in setup
    assert "useradd --system" in setup and "STUDENT_USER=minicnn-student" in setup
    assert (f"PINS=(numpy=={np.__version__} numba=={numba.__version__} "
            f"llvmlite=={llvmlite.__version__})") in setup
    assert f"PYTHON_VERSION={sys.version_info[0]}.{sys.version_info[1]}" in setup
    assert 'chmod 700 "$SOURCE"' in setup                   # the grader: root only
    assert "CHILD_VENV=/opt/minicnn-child" in setup
    run = (root / "source" / "run_autograder").read_text()
    assert 'MINICNN_SANDBOX_USER="${MINICNN_SANDBOX_USER:-minicnn-student}"' in run
    assert "-m minicnn.assignments.gradescope.autograder run" in run


def test_cli_refuses_to_overwrite_and_rejects_a_bad_visibility(autograder_zip, capsys):
    assert main(["autograder", str(autograder_zip), "--tasks", "relu_forward"]) == 1
    assert "use --force" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["autograder", str(autograder_zip), "--visibility", "students"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------- grading runs


def test_a_reference_copy_in_a_zip_folder_earns_full_marks(root):
    reference_copy(root, root / "submission" / "hw1-student")
    data, proc = run_autograder(root)
    assert data["score"] == sum(POINTS.values())
    for task, test in _tests(data).items():
        assert test["status"] == "passed" and test["score"] == POINTS[task], test
        assert test["visibility"] == "after_due_date"
    assert [t["number"] for t in data["tests"]] == ["1", "2"]
    assert "whole minicnn copy in hw1-student/" in data["output"]
    assert "Sandbox: " in data["output"]
    assert data["extra_data"]["sandbox"] in {"bwrap", "user", "none"}
    assert "5/5" in proc.stdout                            # the table, for the instructor


def test_an_untouched_release_earns_nothing(root):
    shutil.copytree(root / "source" / "release", root / "submission", dirs_exist_ok=True)
    data, _ = run_autograder(root)
    assert data["score"] == 0
    for test in data["tests"]:
        assert test["status"] == "failed" and "not implemented" in test["output"], test


def test_loose_files_earn_their_own_tasks_and_the_rest_is_reported(root, tmp_path):
    solved = reference_copy(root, tmp_path / "solved")
    shutil.copy(solved / "minicnn/functional/linear.py", root / "submission" / "linear.py")
    (root / "submission" / "notes.txt").write_text("I did linear only")
    (root / "submission" / "helpers.py").write_text("x = 1\n")
    data, _ = run_autograder(root)
    tests = _tests(data)
    assert data["score"] == POINTS["linear_forward"]
    assert tests["linear_forward"]["status"] == "passed"
    assert tests["relu_forward"]["score"] == 0
    assert "No file of yours was taken as minicnn/functional/activation.py" in \
        tests["relu_forward"]["output"]
    assert "linear.py -> minicnn/functional/linear.py" in data["output"]
    assert "notes.txt: not a Python file" in data["output"]
    assert "helpers.py: not a file of this assignment's tasks" in data["output"]


def test_a_nested_task_file_with_a_numpy_solution(root, tmp_path):
    student = shutil.copytree(root / "source" / "release", tmp_path / "student")
    inject(student, "relu_forward", "out = np.maximum(x, 0)\ncache = (x,)")
    target = root / "submission" / "minicnn" / "functional"
    target.mkdir(parents=True)
    shutil.copy(student / "minicnn/functional/activation.py", target / "activation.py")
    data, _ = run_autograder(root)
    tests = _tests(data)
    assert tests["relu_forward"]["status"] == "passed", tests["relu_forward"]
    assert data["score"] == POINTS["relu_forward"]
    assert "minicnn/functional/activation.py" in data["extra_data"]["graded_files"]


@pytest.mark.parametrize("garbage", ["empty", "not_python"])
def test_nothing_usable_scores_zero_with_a_message(root, garbage):
    if garbage == "not_python":
        (root / "submission" / "report.pdf").write_bytes(b"%PDF-1.4 not code")
    data, _ = run_autograder(root)
    assert data["score"] == 0
    assert data["output"].startswith("Nothing to grade")
    assert "activation.py" in data["output"]                 # says what to upload
    if garbage == "not_python":
        assert "report.pdf: not a Python file" in data["output"]
    assert len(data["tests"]) == len(GRADED)
    assert all(t["status"] == "failed" and t["score"] == 0 for t in data["tests"])


def test_a_grader_that_cannot_start_still_leaves_results(root):
    data, _ = run_autograder(root, MINICNN_GRADER_PYTHON="/bin/false")
    assert data["score"] == 0 and "stopped before grading" in data["output"]
    (root / "submission" / "linear.py").write_text("x = 1\n")
    (root / "source" / "autograder.json").write_text("{not json")
    data, proc = run_autograder(root)
    assert data["score"] == 0 and "The autograder failed" in data["output"]
    assert "JSONDecodeError" in data["output"] and "Traceback" in proc.stderr


# ---------------------------------------------------------- matching, seeds (no grading)


def _match(root, *files):
    """match_submission on ``files`` ((path, text) pairs) in the root's submission."""
    for rel, text in files:
        path = root / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return match_submission(root / "submission", TASK_FILES, root / "source" / "release",
                            HELPER_FILES)


def test_matching_takes_task_files_first_and_helpers_by_path(root):
    overlay = _match(root, ("linear.py", "a"), ("minicnn/fast/kernels/elementwise.py", "b"),
                     ("functional/conv.py", "c"), ("__init__.py", "d"))
    assert overlay.used == {"minicnn/functional/linear.py": "linear.py",
                            "minicnn/fast/kernels/elementwise.py": "minicnn/fast/kernels/elementwise.py"}
    notes = "\n".join(overlay.notes)
    assert "functional/conv.py: it is minicnn/functional/conv.py, which holds none" in notes
    assert "__init__.py" in notes


def test_matching_refuses_conflicting_files_and_symbolic_links(root):
    (root / "submission" / "activation.py").symlink_to(
        Path(__file__).resolve().parents[2] / "minicnn/functional/activation.py")
    overlay = _match(root, ("a/linear.py", "one"), ("b/linear.py", "two"))
    assert overlay.used == {} and not overlay.usable
    notes = "\n".join(overlay.notes)
    assert "activation.py: a symbolic link (not followed)" in notes
    assert "several different files stand for it (a/linear.py, b/linear.py)" in notes
    assert "minicnn/functional/linear.py" in notes


def test_matching_refuses_two_whole_copies(root):
    overlay = _match(root, ("x/minicnn/__init__.py", ""), ("y/minicnn/__init__.py", ""))
    assert not overlay.usable and "several minicnn copies" in overlay.notes[-1]


def test_the_graded_copy_is_readable_by_the_sandbox_account(root, tmp_path):
    release_dir = root / "source" / "release"
    for path in [release_dir, *release_dir.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)      # as setup.sh leaves it
    overlay = _match(root, ("linear.py", "x = 1\n"))
    copy = build_graded_copy(overlay, release_dir, tmp_path / "graded")
    assert (copy / "minicnn/functional/linear.py").read_text() == "x = 1\n"
    assert (copy / "minicnn/functional/linear.py").stat().st_mode & 0o777 == 0o644
    assert (copy / "minicnn/functional").stat().st_mode & 0o777 == 0o755


def test_the_seed_is_fixed_per_submission_and_differs_between_submissions(tmp_path):
    meta = tmp_path / "submission_metadata.json"
    assert submission_seed(SEED, meta) == SEED                       # no metadata
    meta.write_text(json.dumps({"id": 1}))
    first = submission_seed(SEED, meta)
    assert first == submission_seed(SEED, meta)                     # a regrade
    meta.write_text(json.dumps({"id": 2}))
    assert submission_seed(SEED, meta) != first
    assert 0 <= first < 2 ** 32


def test_the_wheel_builds_in_a_fresh_venv_with_only_pip_and_setuptools(tmp_path):
    """A fresh venv has pip (and, before Python 3.12, an old setuptools) but no ``wheel``:
    the build without isolation fails there, and the isolated build must take over."""
    from minicnn.assignments.gradescope.wheel import build_wheel
    from minicnn.assignments.registry import SOURCE_ROOT

    venv = tmp_path / "fresh"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, timeout=300)
    if made.returncode != 0:                            # e.g. Debian's python3 without venv
        pytest.skip(f"cannot create a venv here: {made.stderr.strip()[-200:]}")
    python = str(venv / "bin" / "python")
    has_wheel = subprocess.run([python, "-c", "import wheel"], capture_output=True)
    assert has_wheel.returncode != 0                    # the case that broke a fresh machine
    wheel = build_wheel(SOURCE_ROOT, tmp_path / "out", python=python)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "minicnn/assignments/checks/hidden_grids.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".egg-info")]
    assert not (SOURCE_ROOT / "build").exists()         # built in a copy, not in the tree
