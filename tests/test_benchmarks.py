"""Smoke tests of the benchmark scripts: each runs with --quick in a subprocess, exits 0 and
writes its outputs. No timing is asserted (speed is a benchmark figure, never a test)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

SCRIPTS = {
    "conv.py": ["conv_quick.md", "conv_quick.json", "conv_quick.png"],
    "train_step.py": ["train_step_quick.md", "train_step_quick.json",
                      "train_step_layers_quick.png"],
    "memory.py": ["memory_quick.md", "memory_quick.json"],
    "epoch.py": ["epoch_quick.md", "epoch_quick.json"],
    "winograd_chunks.py": ["winograd_chunks_quick.md", "winograd_chunks_quick.json"],
    "conv_choice.py": ["conv_choice_quick.md", "conv_choice_quick.json"],
    "winograd_layout.py": ["winograd_layout_quick.md", "winograd_layout_quick.json"],
    "fused_layers.py": ["fused_layers_quick.md", "fused_layers_quick.json"],
    "explore.py": ["explore_quick.md", "explore_quick.json"],
}


def installed_frameworks() -> list[str]:
    """recipe.py's frameworks that can run here: minicnn, and PyTorch where it is installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return ["minicnn"]
    return ["minicnn", "pytorch"]


def run_script(name, *args, timeout=300):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_quick_run_writes_its_outputs(script, tmp_path):
    # one thread: on a shared machine, two OpenMP threads that wait for each other at every
    # barrier make the smoke test several times slower; the code paths are the same
    proc = run_script(script, "--quick", "--threads", "1", "--out", str(tmp_path))
    assert proc.returncode == 0, f"{script} --quick failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    for output in SCRIPTS[script]:
        path = tmp_path / output
        assert path.exists(), f"{script} --quick did not write {output}: {sorted(tmp_path.iterdir())}"
        assert path.stat().st_size > 0, f"{script} --quick wrote an empty {output}"
    # every script prints the machine it ran on, BLAS kernel included
    assert "BLAS:" in proc.stdout, f"{script} printed no machine information"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_has_help(script):
    proc = run_script(script, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for option in ("--quick", "--threads", "--out"):
        assert option in proc.stdout, f"{script} --help does not mention {option}"


@pytest.mark.slow
def test_recipe_quick_runs_and_report(tmp_path):
    """recipe.py trains one seed per call (here a 2-epoch run on the bundled sample) and the
    report tabulates every finished run; a second run into the same directory is refused."""
    frameworks = installed_frameworks()
    for framework in frameworks:
        proc = run_script("recipe.py", "run", "--framework", framework, "--seed", "3",
                          "--quick", "--out", str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert (tmp_path / f"{framework}_seed3" / "metrics.csv").exists()
    again = run_script("recipe.py", "run", "--framework", "minicnn", "--seed", "3", "--quick",
                       "--out", str(tmp_path))
    assert again.returncode != 0 and "already holds 2 epochs" in again.stderr
    proc = run_script("recipe.py", "report", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (tmp_path / "recipe.md").read_text()
    for framework in frameworks:
        assert f"| {framework} | 3 |" in table
    assert (tmp_path / "recipe.png").stat().st_size > 0


@pytest.mark.slow
def test_a_stopped_recipe_run_continues_where_it_stopped(tmp_path):
    """--model lenet5 (its own recipe): one epoch, then the same command for two continues
    from the checkpoint instead of starting again, in both frameworks."""
    frameworks = installed_frameworks()
    for framework in frameworks:
        common = ["recipe.py", "run", "--model", "lenet5", "--framework", framework,
                  "--quick", "--out", str(tmp_path)]
        first = run_script(*common, "--epochs", "1")
        assert first.returncode == 0, first.stderr[-4000:]
        second = run_script(*common, "--epochs", "2")
        assert second.returncode == 0, second.stderr[-4000:]
        assert "resuming" in second.stdout + second.stderr
        rows = (tmp_path / f"{framework}_seed0" / "metrics.csv").read_text().splitlines()
        assert [row.split(",")[0] for row in rows[1:]] == ["1", "2"]
    proc = run_script("recipe.py", "report", "--model", "lenet5", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (tmp_path / "recipe.md").read_text()
    assert "LeNet-5" in table and "| epoch 15 |" in table


@pytest.mark.slow
def test_a_stopped_full_protocol_run_continues_bit_for_bit(tmp_path):
    """--protocol full trains outside minicnn.train's run (no validation split) and keeps its
    own last.npz: one epoch and then the same command for two gives the numbers of two epochs
    in one go (test loss and accuracy of every epoch; 1 thread)."""
    def run(out, epochs):
        proc = run_script("recipe.py", "run", "--model", "lenet5", "--framework", "minicnn",
                          "--quick", "--protocol", "full", "--threads", "1", "--epochs",
                          str(epochs), "--out", str(out))
        assert proc.returncode == 0, proc.stderr[-4000:]
        return proc.stdout + proc.stderr

    run(tmp_path / "stopped", 1)
    assert "resuming" in run(tmp_path / "stopped", 2)
    run(tmp_path / "whole", 2)

    def numbers(out):
        lines = (out / "minicnn-full_seed0" / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        keep = [header.index(name) for name in ("epoch", "train_loss", "train_acc",
                                                  "test_loss", "test_acc", "lr")]
        return [[line.split(",")[k] for k in keep] for line in lines[1:]]

    assert numbers(tmp_path / "stopped") == numbers(tmp_path / "whole")
    assert len(numbers(tmp_path / "whole")) == 2


@pytest.mark.slow
@pytest.mark.parametrize("script, outputs", [
    ("train_step.py", ["train_step_lenet5_quick.md", "train_step_layers_lenet5_quick.png"]),
    ("memory.py", ["memory_lenet5_quick.md"])])
def test_speed_and_memory_scripts_take_another_model(tmp_path, script, outputs):
    proc = run_script(script, "--quick", "--threads", "1", "--model", "lenet5", "--out",
                      str(tmp_path), *(["--no-layers"] if script == "memory.py" else []))
    assert proc.returncode == 0, proc.stderr[-4000:]
    for output in outputs:
        assert (tmp_path / output).stat().st_size > 0, sorted(tmp_path.iterdir())
    assert "LeNet-5, batch 256" in (tmp_path / outputs[0]).read_text()


def test_recipe_report_without_runs_is_one_clear_error(tmp_path):
    proc = run_script("recipe.py", "report", "--out", str(tmp_path), timeout=60)
    assert proc.returncode != 0 and "no <framework>_seed<S>/metrics.csv" in proc.stderr


def test_recipe_report_compares_the_frameworks_seed_by_seed(tmp_path):
    """The comparison table pairs the seeds both frameworks ran and counts runs at the target.
    Synthetic histories: minicnn is 0.10 points behind on seed 0 and 0.30 ahead on seed 1."""
    finals = {("minicnn", 0): 0.9200, ("pytorch", 0): 0.9210, ("minicnn", 1): 0.9260,
              ("pytorch", 1): 0.9230, ("pytorch", 2): 0.9100}     # seed 2: PyTorch only
    for (framework, seed), final in finals.items():
        run_dir = tmp_path / f"{framework}_seed{seed}"
        run_dir.mkdir()
        lines = ["epoch,val_loss,test_acc,seconds"]
        lines += [f"{epoch},0.3,{final - (15 - epoch) * 0.001:.4f},40" for epoch in range(1, 16)]
        (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    proc = run_script("recipe.py", "report", "--out", str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (tmp_path / "recipe.md").read_text()
    # mean paired difference (-0.10 + 0.30) / 2 = +0.10 over the 2 shared seeds; the bootstrap
    # interval of two differences spans them; one minicnn run of 2 reached 92.5 %, no PyTorch run
    assert "| holdout | 2 | +0.10 | [-0.10, +0.30] | 1 of 2 | 0 of 3 |" in table


def test_recipe_report_can_take_pytorchs_runs_from_another_directory(tmp_path):
    """``--pytorch-from``: minicnn runs of another conv method in --out, PyTorch's from the
    original study (and a stray PyTorch run in --out is not mixed in)."""
    def write(directory, framework, seed, final):
        run_dir = directory / f"{framework}_seed{seed}"
        run_dir.mkdir(parents=True)
        lines = ["epoch,val_loss,test_acc,seconds"]
        lines += [f"{epoch},0.3,{final - (15 - epoch) * 0.001:.4f},40" for epoch in range(1, 16)]
        (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    fast, original = tmp_path / "fast", tmp_path / "original"
    write(fast, "minicnn", 0, 0.9230)
    write(fast, "minicnn", 1, 0.9200)
    write(fast, "pytorch", 0, 0.5000)                 # must be ignored
    write(original, "pytorch", 0, 0.9210)
    write(original, "pytorch", 1, 0.9220)
    write(original, "minicnn", 0, 0.1000)             # another method's minicnn: ignored
    proc = run_script("recipe.py", "report", "--out", str(fast), "--pytorch-from",
                      str(original), timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (fast / "recipe.md").read_text()
    # (+0.20 - 0.20) / 2 = 0.00 over seeds 0 and 1
    assert "| holdout | 2 | +0.00 | [-0.20, +0.20] | 0 of 2 | 0 of 2 |" in table
    assert f"--pytorch-from {original}" in table
