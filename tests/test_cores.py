"""threads="auto": the idle cores (minicnn/_cores.py), and how the training run records it."""

import os

import pytest

import minicnn._cores as cores
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
    fraction = cores._proc_stat_busy_fraction(0.05)
    if os.path.exists("/proc/stat"):
        assert 0.0 <= fraction <= 1.0
    monkeypatch.setattr(cores, "_proc_stat_busy_fraction", lambda seconds: None)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.5, 1.0, 0.5), raising=False)
    assert cores._busy_cores(0.0) == 1.5
    monkeypatch.setattr(cores, "_proc_stat_busy_fraction", lambda seconds: 0.25)
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
        assert numba.get_num_threads() == 1


def test_a_run_records_the_thread_count_auto_stood_for(tmp_path, monkeypatch):
    from minicnn import train as training
    monkeypatch.setenv("MINICNN_THREADS", "1")
    result = training.train(TrainConfig(sample=True, epochs=1, subset=128, val_size=16,
                                        figures=False, progress=False, out=tmp_path / "run"))
    import json
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["config"]["threads"] == 1
