"""``minicnn assignment ...`` / ``python -m minicnn.assignments ...``: output and exit codes."""

import csv
import json
import os
import subprocess
import sys

import pytest

from minicnn.assignments.cli import main
from minicnn.assignments.registry import TASKS

from assignment_helpers import SEED, inject, make_copy

pytestmark = pytest.mark.slow


def run(*args, cwd=None, env_path=None, timeout=300):
    """``python -m minicnn.assignments ARGS`` in a fresh process."""
    env = dict(os.environ)
    if env_path is not None:
        env["PYTHONPATH"] = str(env_path)
    return subprocess.run([sys.executable, "-m", "minicnn.assignments", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_list_shows_every_task_with_points(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for task in TASKS.values():
        assert task.id in out
    assert f"total" in out and str(sum(t.points for t in TASKS.values())) in out


def test_no_command_and_bad_arguments_exit_2(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["grade"])
    assert exc.value.code == 2
    assert main(["release", "/nonexistent/x", "--tasks", "no_such_task"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_release_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["release", str(tmp_path), "--tasks", "relu_forward"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").exists()


def test_python_dash_m_and_the_minicnn_command_dispatch(tmp_path):
    proc = run("list")
    assert proc.returncode == 0 and "conv2d_backward" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "minicnn", "assignment", "list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "conv2d_backward" in proc.stdout, proc.stderr


def test_release_then_check_untouched_fails_and_restored_passes(tmp_path):
    out = tmp_path / "student"
    proc = run("release", out, "--tasks", "relu_forward", "conv2d_backward")
    assert proc.returncode == 0, proc.stderr
    assert "released 2 task(s)" in proc.stdout
    # in the copy, found from the current directory; the copy's own code runs
    proc = run("check", "relu_forward", cwd=out / "minicnn", env_path=out)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "not implemented" in proc.stdout
    proc = run("restore", out)
    assert proc.returncode == 0, proc.stderr
    proc = run("check", "--dir", out)                  # every released task
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== relu_forward: PASS" in proc.stdout and "== conv2d_backward: PASS" in proc.stdout
    assert "relative error" in proc.stdout and "2/2 task(s) pass" in proc.stdout


def test_check_prints_relative_errors_and_a_hint_for_a_bug(tmp_path):
    root = make_copy(tmp_path / "bug", ["conv2d_backward"], restored=True)
    path = root / "minicnn/functional/conv.py"
    path.write_text(path.read_text().replace("top, left = i * stride_h, j * stride_w",
                                             "top, left = i, j", 2))
    proc = run("check", "conv2d_backward", "--dir", root)
    assert proc.returncode == 1
    assert "FAIL  stride2_pad1" in proc.stdout
    assert "dx wrong: relative error" in proc.stdout
    assert "did you handle the stride" in proc.stdout


def test_pytest_marker_runs_one_task_in_a_released_copy(tmp_path):
    root = make_copy(tmp_path / "student", ["relu_forward", "dropout_forward"], restored=False)
    inject(root, "dropout_forward", "if not training or p == 0:\n    return x, (None,)\n"
           "keep = rng.random(x.shape) >= p\nmask = (keep / (1 - p)).astype(x.dtype)\n"
           "out = x * mask\ncache = (mask,)")
    env = dict(os.environ, PYTHONPATH=str(root))
    ok = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         "-m", "dropout_forward"], cwd=root, env=env, capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "passed" in ok.stdout and "deselected" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-m", "relu_forward"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1
    assert "NotImplementedError: relu_forward: implement relu_forward" in bad.stdout


def test_grade_one_submission_writes_json(tmp_path):
    root = make_copy(tmp_path / "student", ["relu_forward", "linear_forward"], restored=False)
    inject(root, "linear_forward", "out = x @ weight.T + bias\ncache = (x, weight, bias)")
    result = tmp_path / "grade.json"
    proc = run("grade", root, "--tasks", "relu_forward", "linear_forward", "--json", result,
               "--timeout", "60", "--seed", SEED)
    assert proc.returncode == 0, proc.stderr
    assert "relu_forward" in proc.stdout and "FAIL" in proc.stdout and "PASS" in proc.stdout
    data = json.loads(result.read_text())
    assert data["total"] == TASKS["linear_forward"].points
    assert data["max_total"] == TASKS["linear_forward"].points + TASKS["relu_forward"].points
    by = {t["task"]: t for t in data["tasks"]}
    assert by["linear_forward"]["passed"] and not by["relu_forward"]["passed"]
    assert "not implemented" in by["relu_forward"]["message"]


def test_grade_a_directory_of_submissions_writes_csv(tmp_path):
    tasks = ["relu_forward", "relu_backward"]
    make_copy(tmp_path / "class" / "alice", tasks, restored=True)
    make_copy(tmp_path / "class" / "bob", tasks, restored=False)
    (tmp_path / "class" / "carol").mkdir()                      # handed in nothing usable
    out = tmp_path / "grades.csv"
    proc = run("grade", tmp_path / "class", "--tasks", *tasks, "--csv", out,
               "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["student", *tasks, "total", "max_total", "sandbox"]
    sandbox = rows[1][-1]
    assert sandbox in ("bwrap", "user", "none")
    assert rows[1] == ["alice", "2", "3", "5", "5", sandbox]
    assert rows[2] == ["bob", "0", "0", "0", "5", sandbox]
    assert rows[3][0] == "carol" and rows[3][-3] == "0"


def test_grade_errors_exit_1(tmp_path):
    proc = run("grade", tmp_path / "missing")
    assert proc.returncode == 1 and "not a directory" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run("grade", tmp_path / "empty")
    assert proc.returncode == 1 and "neither a submission" in proc.stderr


def test_a_released_copy_installs_and_runs(tmp_path):
    root = make_copy(tmp_path / "student", ["relu_forward"], restored=False)
    target = tmp_path / "site"
    # Built as a student's `pip install .` builds it: in an isolated environment with the
    # build requirements of pyproject.toml, not with whatever setuptools/wheel this Python
    # has (a fresh venv has no `wheel`, and Python 3.12's has no setuptools either).
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), str(root)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "minicnn/assignments/public_data/relu_forward.npz").is_file()
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import numpy as np, minicnn.functional as F\n"
            "assert F.__file__.startswith(%r)\n"
            "out, _ = F.max_pool2d_forward(np.arange(16.).reshape(1, 1, 4, 4), 2)\n"
            "print(out.ravel().tolist())\n") % (str(target), str(target))
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[5.0, 7.0, 13.0, 15.0]"
