"""The ``minicnn`` command: the happy path, and bad input ending in one clear line."""

import argparse
import os
import subprocess
import sys

import pytest

from minicnn.cli import build_parser, main
from minicnn.train import DEFAULT_EPOCHS


def _one_error_line(captured) -> str:
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("minicnn: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """A one-epoch run on 128 sample images, through the CLI."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--sample", "--epochs", "1", "--subset", "128", "--batch-size", "32",
                 "--no-figures", "--threads", "1", "--out", str(out)])
    assert code == 0
    return out


def test_unknown_flag_value_is_one_line_and_no_traceback_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "minicnn", "train", "--optimizer", "foo"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minicnn: error: "), proc.stderr
    assert "--optimizer" in lines[0] and "foo" in lines[0] and "adam" in lines[0]


@pytest.mark.parametrize("argv, words", [
    (["train", "--scheduler", "linear"], ["--scheduler", "linear"]),
    (["train", "--conv-method", "fft"], ["--conv-method", "fft"]),
    (["train", "--epochs", "0"], ["--epochs", "positive"]),
    (["train", "--lr", "abc"], ["--lr", "abc"]),
    (["train", "--bogus"], ["--bogus"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_command_lines_exit_2_with_one_line(capsys, argv, words):
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr())
    for word in words:
        assert word in line


def test_missing_data_root_is_one_clear_line(capsys, tmp_path):
    missing = tmp_path / "no-such-dir"
    assert main(["train", "--data-dir", str(missing), "--out", str(tmp_path / "run")]) == 1
    line = _one_error_line(capsys.readouterr())
    assert str(missing) in line and "does not exist" in line


def test_missing_checkpoint_is_one_clear_line(capsys, tmp_path):
    assert main(["evaluate", str(tmp_path / "nothing.npz"), "--sample"]) == 1
    line = _one_error_line(capsys.readouterr())
    assert "nothing.npz" in line


def test_checkpoint_of_another_model_is_one_clear_line(capsys, tmp_path):
    import minicnn
    from minicnn import nn
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    path = tmp_path / "other.npz"
    minicnn.save(path, other)
    assert main(["evaluate", str(path), "--sample"]) == 1
    line = _one_error_line(capsys.readouterr())
    assert "other.npz" in line and "CNN" in line


def test_a_file_that_is_not_a_checkpoint_is_one_clear_line(capsys, tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    assert main(["evaluate", str(path), "--sample"]) == 1
    _one_error_line(capsys.readouterr())


def test_train_prints_test_accuracy_and_run_dir_then_evaluate_reads_the_checkpoint(
        quick_run, capsys):
    assert (quick_run / "last.npz").exists() and (quick_run / "metrics.csv").exists()
    assert main(["evaluate", str(quick_run / "last.npz"), "--sample"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    for name in ("T-shirt/top", "Ankle boot"):
        assert name in out
    # the printed accuracy is the one the training run measured after its last epoch
    import csv
    with open(quick_run / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert f"{100 * float(last['test_acc']):.2f}%" in out


def test_train_end_message(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", "--sample", "--epochs", "1", "--subset", "64", "--val-size", "64",
                 "--no-figures", "--threads", "1", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and str(out_dir) in out


def test_resume_refuses_to_change_the_recipe(quick_run, capsys):
    assert main(["train", "--resume", str(quick_run), "--lr", "0.1"]) == 1
    line = _one_error_line(capsys.readouterr())
    assert "--lr" in line and "resum" in line


def test_resume_of_a_missing_run_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nope")]) == 1
    _one_error_line(capsys.readouterr())


def test_out_dir_holding_a_run_is_refused(quick_run, capsys):
    assert main(["train", "--sample", "--out", str(quick_run)]) == 1
    assert "--resume" in _one_error_line(capsys.readouterr())


def test_summary_prints_the_lecture_table(capsys):
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "conv_block1" in out or "Conv2d" in out
    assert "825,162" in out  # the lecture's CNN, BatchNorm's gamma and beta included


def test_help_documents_the_quickstart_defaults():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert f"default {DEFAULT_EPOCHS}" in text
    for flag in ("--epochs", "--batch-size", "--lr", "--weight-decay", "--optimizer",
                 "--scheduler", "--no-augment", "--seed", "--data-dir", "--out", "--resume",
                 "--conv-method", "--threads", "--val-size", "--subset", "--sample"):
        assert flag in text


def test_assignment_is_dispatched_lazily(monkeypatch):
    import types
    seen = []
    fake = types.ModuleType("minicnn.assignments.cli")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "minicnn.assignments.cli", fake)
    assert main(["assignment", "release", "--out", "x"]) == 0
    assert seen == [["release", "--out", "x"]]


def test_assignment_tools_missing_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "minicnn.assignments.cli", None)
    assert main(["assignment", "grade"]) == 1
    assert "assignment" in _one_error_line(capsys.readouterr())


def test_threads_flag_limits_numba(monkeypatch):
    import numba
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        monkeypatch.setenv(var, "")  # restored after the test
    from minicnn.train import set_threads
    before = numba.get_num_threads()
    try:
        set_threads(1)
        assert numba.get_num_threads() == 1
    finally:
        set_threads(before)


def test_default_thread_count_reaches_blas_before_numpy_is_imported():
    import minicnn.cli
    from minicnn.cores import usable_cores
    from minicnn.train import DEFAULT_THREADS
    assert minicnn.cli._DEFAULT_THREADS == DEFAULT_THREADS == "auto"
    code = ("import os, sys; from minicnn.cli import _threads_before_numpy; "
            "_threads_before_numpy(sys.argv[1:]); "
            "assert 'numpy' not in sys.modules; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ.get('MINICNN_THREADS'))")

    def blas_threads(argv, **env):
        environment = {k: v for k, v in os.environ.items() if k != "MINICNN_THREADS"}
        environment.update(env)
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, timeout=60, env=environment)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    # "auto" follows $MINICNN_THREADS (the suite pins it to 1)
    assert blas_threads(["train"], MINICNN_THREADS="1") == ["1", "1"]
    assert blas_threads(["train", "--threads", "2"]) == ["2", "None"]
    assert blas_threads(["evaluate", "x.npz", "--threads=3"]) == ["3", "None"]
    # unset: the idle cores, measured once and handed on so the command means the same count
    counted, handed_on = blas_threads(["train", "--threads", "auto"])
    assert counted == handed_on and 1 <= int(counted) <= usable_cores()


def test_threads_option_takes_a_count_auto_or_zero():
    from minicnn.cli import _thread_setting, _threads, build_parser
    assert _threads("auto") == "auto" and _threads(" AUTO ") == "auto"
    assert _threads("3") == 3 and _thread_setting(_threads("0")) is None
    for bad in ("-1", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            _threads(bad)
    assert build_parser().parse_args(["train"]).threads is None         # not given: default
    assert build_parser().parse_args(["evaluate", "x.npz"]).threads == "auto"


def test_train_threads_zero_leaves_the_libraries_defaults(monkeypatch, tmp_path):
    # --threads 0 used to be dropped as "not given", so the default ran instead
    from minicnn import train as training
    seen = {}

    class Finished:
        def report(self):
            return "done"

    def fake_train(config):
        seen["threads"] = config.threads
        return Finished()
    monkeypatch.setattr(training, "train", fake_train)
    assert main(["train", "--sample", "--threads", "0", "--out", str(tmp_path / "run")]) == 0
    assert seen["threads"] is None
    assert main(["train", "--sample", "--out", str(tmp_path / "run")]) == 0
    assert seen["threads"] == "auto"


def test_explain_writes_the_figure_next_to_the_checkpoint_and_names_each_prediction(
        quick_run, capsys):
    assert main(["explain", str(quick_run / "last.npz"), "--sample", "--index", "3", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    figure = quick_run / "last_explanations.png"
    assert out[-1] == f"wrote {figure}" and figure.stat().st_size > 0
    assert out[0].startswith("test image 3: true ") and ", predicted " in out[0]
    assert out[1].startswith("test image 0: true ")


def test_explain_out_and_smoothgrad(quick_run, tmp_path, capsys):
    figure = tmp_path / "figures" / "why.png"
    assert main(["explain", str(quick_run / "best.npz"), "--sample", "--out", str(figure),
                 "--smoothgrad", "2"]) == 0
    out = capsys.readouterr().out
    assert figure.stat().st_size > 0 and out.count("test image ") == 4


def test_explain_index_out_of_range_is_one_clear_line(quick_run, capsys):
    assert main(["explain", str(quick_run / "last.npz"), "--sample", "--index", "500"]) == 1
    line = _one_error_line(capsys.readouterr())
    assert "--index 500 is out of range" in line and "has 500 images (0 to 499)" in line


@pytest.mark.parametrize("argv, words", [
    (["--index", "-1"], "expected an integer >= 0, got '-1'"),
    (["--smoothgrad", "x"], "expected an integer >= 0, got 'x'"),
])
def test_explain_bad_numbers_are_one_line(quick_run, capsys, argv, words):
    assert main(["explain", str(quick_run / "last.npz"), "--sample", *argv]) == 2
    assert words in _one_error_line(capsys.readouterr())


def test_explain_of_a_missing_checkpoint_is_one_clear_line(capsys, tmp_path):
    assert main(["explain", str(tmp_path / "nothing.npz"), "--sample"]) == 1
    assert "checkpoint" in _one_error_line(capsys.readouterr())


def test_evaluate_tta_says_so_and_prints_the_flip_accuracy(quick_run, capsys):
    from minicnn import train as training
    assert main(["evaluate", str(quick_run / "last.npz"), "--sample", "--tta"]) == 0
    out = capsys.readouterr().out
    expected = training.evaluate_checkpoint(quick_run / "last.npz", sample=True, flip=True)
    assert f"test accuracy {100 * expected['acc']:.2f}%" in out
    assert "flip test-time augmentation" in out


def test_evaluate_split_val_says_validation(quick_run, capsys):
    assert main(["evaluate", str(quick_run / "last.npz"), "--sample", "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "validation images (the run's own)" in out and "validation accuracy" in out
