"""Training the lecture's CNN: the loop a student reads, and the run plumbing around it.

Read ``loop.py`` first: ``train_one_epoch`` and ``evaluate`` are the lecture's recipe
(sections 7 and 9), the pieces a notebook strings together itself::

    for epoch in range(1, epochs + 1):
        train_loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer)
        val_loss, val_acc, _ = evaluate(model, val_loader, criterion)
        scheduler.step(val_loss)

``train(TrainConfig(...))`` (``minicnn train``) runs the whole recipe and writes a run
directory; ``resume(run_dir)`` continues one bit for bit. One job per file:

    loop.py        train_one_epoch, evaluate, predict; the divergence guard
    config.py      TrainConfig: every setting, the lecture's recipe as defaults
    build.py       model, optimiser, scheduler and loss from a TrainConfig
    datasets.py    Fashion-MNIST split into train / validation / test, loaders, transforms
    run.py         train and resume: the epochs, checkpoints, the final report
    run_dir.py     where a run goes, metrics.csv, config.json
    figures.py     the run's PNG figures (one function writes them all)
    metrics.py     confusion matrix, per-class accuracy
    evaluation.py  evaluate_checkpoint (``minicnn evaluate``)
    progress.py    the tqdm progress bar
    threads.py     thread counts for BLAS (threadpoolctl) and Numba

Every name below is importable from ``minicnn.train``, as before this package was split.
"""

from minicnn.train.build import build_criterion, build_model, build_optimizer, build_scheduler
from minicnn.train.config import (DEFAULT_EPOCHS, DEFAULT_THREADS, OPTIMIZERS,
                                  RESUMABLE_OVERRIDES, SCHEDULERS, TrainConfig)
from minicnn.train.datasets import Splits, load_datasets, make_loaders, make_transforms, open_split
from minicnn.train.evaluation import evaluate_checkpoint
from minicnn.train.figures import FIGURES, write_figures
from minicnn.train.loop import (DivergenceGuard, TrainingDiverged, evaluate,
                                images_need_no_gradient, predict, train_one_epoch)
from minicnn.train.metrics import confusion_matrix, per_class_accuracy
from minicnn.train.progress import ProgressBar
from minicnn.train.run import TrainResult, resume, train
from minicnn.train.run_dir import METRIC_COLUMNS, write_metrics
from minicnn.train.threads import limit_threads, set_threads

__all__ = [
    "TrainConfig", "TrainResult", "TrainingDiverged", "DivergenceGuard", "ProgressBar",
    "train", "resume", "train_one_epoch", "evaluate", "predict", "images_need_no_gradient",
    "confusion_matrix",
    "per_class_accuracy", "set_threads", "limit_threads", "build_model", "build_optimizer",
    "build_scheduler", "build_criterion", "load_datasets", "make_transforms", "make_loaders",
    "write_figures", "evaluate_checkpoint", "METRIC_COLUMNS", "DEFAULT_EPOCHS",
    "DEFAULT_THREADS", "FIGURES", "Splits", "open_split", "write_metrics", "OPTIMIZERS",
    "SCHEDULERS", "RESUMABLE_OVERRIDES",
]
