"""CompileNotice: a run says when Numba compiles the engine's kernels, and for how long."""

import threading

import numpy as np
from numba import njit

from minicnn import train as training
from minicnn.train import TrainConfig, train
from minicnn.train.progress import CompileNotice


def _fresh_kernels():
    """Two new Numba functions, the outer calling the inner: never in any cache."""
    @njit
    def inner(x):
        return x + 1

    @njit
    def outer(x):
        return inner(x) * 2

    return outer


def test_the_first_compilation_is_announced_once_and_reported_with_its_count():
    notes = []
    with CompileNotice(notes.append) as notice:
        assert _fresh_kernels()(1) == 4          # outer compiles inner: one kernel, not two
        assert notes == ["note: compiling the engine's Numba kernels for this machine (once; "
                         "the first batches wait for it)"]
        _fresh_kernels()(2)
        assert len(notes) == 1                   # announced once
        notice.report()
        assert notes[-1].startswith("note: compiled 2 kernels in ")
        notice.report()                          # nothing new: nothing said
        assert len(notes) == 2
        _fresh_kernels()(3)
        notice.report()
        assert notes[-1].startswith("note: compiled 1 kernel in ")
    _fresh_kernels()(4)                          # outside the context: not heard
    assert len(notes) == 3


def test_a_kernel_already_compiled_says_nothing_and_no_log_is_silent():
    kernel = _fresh_kernels()
    kernel(1)
    notes = []
    with CompileNotice(notes.append) as notice:
        kernel(2)
        notice.report()
    assert notes == []
    with CompileNotice(None) as notice:          # log=None: no listener, nothing to say
        _fresh_kernels()(1)
        notice.report()


def test_threads_compiling_at_once_count_each_kernel_and_the_burst_once():
    notes = []
    kernels = [_fresh_kernels() for _ in range(4)]
    with CompileNotice(notes.append) as notice:
        threads = [threading.Thread(target=kernel, args=(1,)) for kernel in kernels]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert notice.kernels == 4
        notice.report()
    assert len(notes) == 2 and notes[1].startswith("note: compiled 4 kernels in ")


def test_a_run_says_it_compiles_and_reports_after_the_epoch(tmp_path, monkeypatch):
    real_epoch = training.run.train_one_epoch

    def epoch_that_compiles(*args, **kwargs):
        _fresh_kernels()(np.int64(1))            # as a first run's kernels would
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training.run, "train_one_epoch", epoch_that_compiles)
    notes = []
    train(TrainConfig(sample=True, subset=64, batch_size=32, epochs=2, out=str(tmp_path / "run"),
                      progress=False, figures=False, threads=1), log=notes.append)
    compiling = [i for i, note in enumerate(notes) if note.startswith("note: compiling")]
    compiled = [i for i, note in enumerate(notes) if note.startswith("note: compiled 1 kernel")]
    epochs = [i for i, note in enumerate(notes) if note.startswith("epoch ")]
    assert len(compiling) == 1 and compiling[0] < epochs[0]
    assert compiled == [epochs[0] + 1, epochs[1] + 1]       # each epoch compiled one


def test_an_end_without_its_start_is_ignored():
    # a compilation already running on another thread when the listener was installed
    notes = []
    with CompileNotice(notes.append) as notice:
        notice._ended()
        notice.report()
        _fresh_kernels()(1)
        notice.report()
    assert len(notes) == 2 and notes[1].startswith("note: compiled 1 kernel in ")
