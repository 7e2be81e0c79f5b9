"""threads="auto": the idle cores (minicnn/cores.py), and how the training run records it."""

import os

import pytest

import minicnn.cores as cores
from minicnn.train import TrainConfig
from minicnn.train.threads import limit_threads


def test_auto_follows_minicnn_threads_and_rejects_a_bad_value(monkeypatch):
    monkeypatch.setenv("MINICNN_THREADS", "3")
    assert cores.resolve_threads("auto") == 3
    assert cores.resolve_threads(2) == 2 and cores.resolve_threads(None) is None
    for bad in ("0", "-2", "lots"):
        monkeypatch.setenv("MINICNN_THREADS", bad)
        with pytest.raises(ValueError, match="MINICNN_THREADS"):
            cores.resolve_threads("auto")


@pytest.mark.parametrize("cpus, usable, busy, expected", [
    (2, 2, 0.0, 2),      # an idle 2-core machine: both
    (2, 2, 0.4, 2),      # a core at least half idle counts
    (2, 2, 0.6, 1),
    (2, 2, 2.0, 1),      # all busy: still one thread
    (8, 8, 1.0, 7),
    (8, 4, 0.0, 4),      # the process may run on 4 of the 8 (affinity)
    (64, 64, 0.0, cores.MAX_AUTO_THREADS),
    (1, 1, 0.0, 1),
])
def test_idle_cores_counts_the_cores_other_work_leaves(monkeypatch, cpus, usable, busy,
                                                       expected):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(cores, "usable_cores", lambda: usable)
    monkeypatch.setattr(cores, "_busy_cores", lambda seconds: busy)
    assert cores.idle_cores() == expected


def test_busy_cores_reads_proc_stat_or_falls_back_to_the_load_average(monkeypatch):
    fraction = cores.busy_fraction(0.05)
    if os.path.exists("/proc/stat"):
        assert 0.0 <= fraction <= 1.0
    monkeypatch.setattr(cores, "busy_fraction", lambda seconds: None)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.5, 1.0, 0.5), raising=False)
    assert cores._busy_cores(0.0) == 1.5
    monkeypatch.setattr(cores, "busy_fraction", lambda seconds: 0.25)
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 4)
    assert cores._busy_cores(0.0) == 1.0


def test_auto_is_the_default_and_a_valid_setting():
    assert TrainConfig().threads == "auto"
    TrainConfig(threads="auto").validate()
    TrainConfig(threads=None).validate()
    for bad in (0, "two", True, 1.5):
        with pytest.raises(ValueError, match="threads"):
            TrainConfig(threads=bad).validate()


def test_limit_threads_auto_applies_the_resolved_count(monkeypatch):
    import numba
    monkeypatch.setenv("MINICNN_THREADS", "1")
    with limit_threads("auto"):
        assert numba.get_num_threads() == 1 and cores.layer_threads() == 1
    monkeypatch.setenv("MINICNN_THREADS", "2")
    assert cores.layer_threads() == 1
    with limit_threads("auto"):
        assert cores.layer_threads() == 2
    assert cores.layer_threads() == 1


def test_a_run_records_the_thread_count_auto_stood_for(tmp_path, monkeypatch):
    from minicnn import train as training
    monkeypatch.setenv("MINICNN_THREADS", "1")
    lines = []
    result = training.train(TrainConfig(sample=True, epochs=1, subset=128, val_size=16,
                                        figures=False, progress=False, out=tmp_path / "run"),
                            log=lines.append)
    import json
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["config"]["threads"] == 1
    assert lines[0] == "threads: 1 (auto: the cores idle now; --threads N fixes it)"


def _fresh_python(code, **env):
    import subprocess
    import sys
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT")}
    environment.update(env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=environment)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


CHECK = ("import os; from minicnn.cores import blas_threads_sleep; "
         "print(blas_threads_sleep(), os.environ['OPENBLAS_THREAD_TIMEOUT'], "
         "os.environ['GOMP_SPINCOUNT'])")


ENVIRONMENT = ("import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), "
               "os.environ.get('GOMP_SPINCOUNT'))")


def test_importing_minicnn_changes_no_environment_variable():
    before = _fresh_python("import os; print(sorted(os.environ.items()))")
    after = _fresh_python("import minicnn, minicnn.nn, minicnn.functional, minicnn.train, "
                          "minicnn.fast, os; print(sorted(os.environ.items()))")
    assert after == before
    assert _fresh_python("import minicnn, numpy; " + ENVIRONMENT) == ["None", "None"]


def test_settling_before_numpy_tells_idle_library_threads_to_sleep():
    code = "import minicnn; minicnn.settle_idle_threads(); import numpy; " + CHECK
    assert _fresh_python(code) == ["True", "4", "10000"]


def test_numpy_first_is_noticed_and_a_users_own_settings_are_kept():
    code = "import numpy, minicnn; minicnn.settle_idle_threads(); " + CHECK
    assert _fresh_python(code) == ["False", "4", "10000"]
    assert _fresh_python(code, OPENBLAS_THREAD_TIMEOUT="8",
                         GOMP_SPINCOUNT="5") == ["True", "8", "5"]


def test_the_cli_settles_idle_threads_before_numpy_loads():
    code = ("import sys; from minicnn.cli import _threads_before_numpy; "
            "_threads_before_numpy(['train', '--threads', '1']); "
            "print('numpy' in sys.modules); " + CHECK)
    assert _fresh_python(code) == ["False", "True", "4", "10000"]


def test_blas_keeps_one_thread_when_its_threads_would_spin(monkeypatch):
    from minicnn.train.threads import blas_thread_count
    monkeypatch.setattr(cores, "_blas_threads_sleep", False)
    assert [blas_thread_count(n) for n in (1, 2, 8)] == [1, 1, 1]
    monkeypatch.setattr(cores, "_blas_threads_sleep", True)
    assert [blas_thread_count(n) for n in (1, 2, 8)] == [1, 2, 8]
