"""The training loop: the lecture's recipe (section 7 and 9), metrics, checkpoints, figures.

Two levels, both public:

- the pieces a notebook strings together itself::

      for epoch in range(1, epochs + 1):
          train_loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer)
          val_loss, val_acc, _ = evaluate(model, val_loader, criterion)
          scheduler.step(val_loss)

- ``train(TrainConfig(...))``, which runs the whole recipe and writes a run directory::

      runs/<timestamp>/
          config.json      the TrainConfig (and where the data came from)
          metrics.csv      one row per epoch: train/val/test loss and accuracy, lr, seconds
          last.npz         model + optimizer + scheduler + epoch + RNG states (resume from it)
          best.npz         the same, at the epoch with the lowest validation loss
          curves.png, confusion_matrix.png, filters.png, feature_maps.png, misclassified.png

``resume(run_dir)`` continues a run exactly where it stopped: the data order and the
augmentation of epoch ``e`` depend only on ``(seed, e)``, and the checkpoint holds the model,
the optimiser's moments, the scheduler and the Dropout generator, so 2 epochs + resume for 1
gives bit-for-bit the weights and metrics of 3 uninterrupted epochs.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minicnn._malloc import keep_freed_memory

__all__ = [
    "TrainConfig", "TrainResult", "TrainingDiverged", "DivergenceGuard", "ProgressBar",
    "train", "resume", "train_one_epoch", "evaluate", "predict", "confusion_matrix",
    "per_class_accuracy", "set_threads", "limit_threads", "build_model", "build_optimizer",
    "build_scheduler", "load_datasets", "make_transforms", "make_loaders", "write_figures",
    "evaluate_checkpoint", "METRIC_COLUMNS", "DEFAULT_EPOCHS", "DEFAULT_THREADS",
]

#: Default number of epochs of ``minicnn train``: chosen so the whole run (training, and
#: validation + test evaluation after each epoch) takes about 5 minutes on 2 cores. Measured
#: on the reference machine with one thread: ~1,200 training images/s, so ~45 s to train on
#: 55,000 images + ~5 s to evaluate 15,000, ~50 s an epoch; 5 epochs + start-up and figures
#: ~4.5 minutes (the test accuracy is ~90-91% by then).
DEFAULT_EPOCHS = 5

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("plateau", "step", "cosine", "none")

#: Default thread count for BLAS and Numba during training. Measured on the 2-core reference
#: machine (shared, so other processes run too): one thread trains at ~1,100 images/s, two
#: BLAS threads at 60-190 images/s; OpenBLAS's threads spin-wait on these small matrices
#: (64 x 288 @ 288 x 12544, 64 x 3136 @ 3136 x 256) and lose the cores to anything else
#: running. One thread also makes runs repeat bit for bit across machines (Numba's parallel
#: sums change their last bits with the thread count). ``--threads N`` to try more.
DEFAULT_THREADS = 1

#: The columns of ``metrics.csv``, in order.
METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                  "test_acc", "lr", "seconds", "images_per_second")

#: Settings that may differ when a run is resumed (they do not change the numbers).
RESUMABLE_OVERRIDES = ("epochs", "threads", "progress", "figures", "data_dir", "download")


@dataclass
class TrainConfig:
    """Everything that defines a training run; the defaults are the lecture's recipe.

    Model: the lecture's ``CNN`` (section 7), ``dropout=0.4``. Optimiser: ``Adam(lr=1e-3,
    weight_decay=1e-4)``. Scheduler: ``ReduceLROnPlateau(patience=3, factor=0.5)`` on the
    validation loss. Data: batch 64; training images augmented with RandomHorizontalFlip +
    RandomCrop(28, padding=2) (section 9); every split normalised with mean 0.286, std 0.353;
    ``val_size`` of the 60,000 training images held out (seeded) for validation.
    """

    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adam"          # adam | adamw | sgd
    momentum: float = 0.9            # sgd only
    scheduler: str = "plateau"       # plateau | step | cosine | none
    patience: int = 3                # plateau
    factor: float = 0.5              # plateau: lr *= factor; step: gamma
    step_size: int = 5               # step: epochs between decays
    dropout: float = 0.4
    augment: bool = True
    mean: float = 0.286
    std: float = 0.353
    val_size: int = 5000
    subset: int | None = None        # train on the first N (shuffled, seeded) training images
    seed: int = 0
    conv_method: str = "im2col"      # naive | loop | im2col
    data_dir: str | None = None
    sample: bool = False             # force the sample bundled in the package
    download: bool = True
    out: str | None = None           # run directory; default runs/<timestamp>
    threads: int | None = DEFAULT_THREADS  # None: leave BLAS and Numba as they are
    figures: bool = True
    progress: bool | None = None     # None: a progress bar when stderr is a terminal
    explode_factor: float = 1e3      # stop when a batch loss exceeds this x the first loss

    def __post_init__(self):
        # pathlib.Path is welcome for the two directories; keep str so config.json can hold it
        for name in ("data_dir", "out"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, os.fspath(value))

    def validate(self) -> "TrainConfig":
        """Raise ``ValueError`` naming the setting, the value and what is allowed."""
        def need(ok, message):
            if not ok:
                raise ValueError(message)
        need(self.optimizer in OPTIMIZERS,
             f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        need(self.scheduler in SCHEDULERS,
             f"scheduler must be one of {', '.join(SCHEDULERS)}; got {self.scheduler!r}")
        need(self.conv_method in ("naive", "loop", "im2col"),
             f"conv_method must be one of naive, loop, im2col; got {self.conv_method!r}")
        need(isinstance(self.epochs, int) and self.epochs >= 1,
             f"epochs must be an integer >= 1; got {self.epochs!r}")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1,
             f"batch_size must be an integer >= 1; got {self.batch_size!r}")
        need(self.lr > 0 and math.isfinite(self.lr), f"lr must be > 0; got {self.lr!r}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0; got {self.weight_decay!r}")
        need(0 <= self.dropout < 1, f"dropout must be in [0, 1); got {self.dropout!r}")
        need(self.std > 0, f"std must be > 0; got {self.std!r}")
        need(isinstance(self.val_size, int) and self.val_size >= 1,
             f"val_size must be an integer >= 1; got {self.val_size!r}")
        need(self.subset is None or (isinstance(self.subset, int) and self.subset >= 1),
             f"subset must be an integer >= 1; got {self.subset!r}")
        need(self.threads is None or (isinstance(self.threads, int) and self.threads >= 1),
             f"threads must be an integer >= 1; got {self.threads!r}")
        need(self.patience >= 0 and 0 < self.factor < 1 and self.step_size >= 1,
             f"scheduler settings out of range: patience={self.patience} (>= 0), "
             f"factor={self.factor} (in (0, 1)), step_size={self.step_size} (>= 1)")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**values)


class TrainingDiverged(RuntimeError):
    """The loss became NaN/infinite or exploded; ``checkpoint`` is the last good one."""

    def __init__(self, message: str, checkpoint: Path | None = None):
        super().__init__(message)
        self.checkpoint = checkpoint


class DivergenceGuard:
    """Stops training when a batch loss is not finite or exceeds ``factor`` x the first one.

    ``first_loss`` is the loss of the very first batch of the run; it is saved in the
    checkpoint so a resumed run applies the same rule.
    """

    def __init__(self, factor: float = 1e3, first_loss: float | None = None):
        self.factor = factor
        self.first_loss = first_loss

    def check(self, loss: float, *, epoch=None, batch=None) -> None:
        where = f"epoch {epoch}, batch {batch}" if epoch is not None else f"batch {batch}"
        if not math.isfinite(loss):
            raise TrainingDiverged(f"training diverged at {where}: the loss is {loss} "
                                   f"(first loss {self.first_loss:.4g}); try a smaller learning "
                                   f"rate" if self.first_loss is not None else
                                   f"training diverged at {where}: the loss is {loss}; try a "
                                   f"smaller learning rate")
        if self.first_loss is None:
            self.first_loss = loss
        elif loss > self.factor * max(self.first_loss, 1e-12):
            raise TrainingDiverged(f"training diverged at {where}: the loss {loss:.4g} is more "
                                   f"than {self.factor:g} times the first loss "
                                   f"{self.first_loss:.4g}; try a smaller learning rate")


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressBar:
    """A plain-text progress bar on one line of ``stream`` (stderr), redrawn with ``\\r``.

    Shows batches done, the running loss and accuracy, images per second and the time left.
    Redraws at most every ``interval`` seconds; ``close()`` erases the line. Does nothing when
    ``enabled`` is False (e.g. when stderr is not a terminal).
    """

    def __init__(self, total: int, *, desc: str = "", stream=None, enabled: bool = True,
                 width: int = 24, interval: float = 0.1):
        self.total, self.desc, self.width, self.interval = total, desc, width, interval
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = 0

    def update(self, done: int, *, loss: float, acc: float, images: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        elapsed = max(now - self.start, 1e-9)
        filled = int(self.width * done / max(self.total, 1))
        eta = elapsed / max(done, 1) * (self.total - done)
        line = (f"{self.desc} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done}/{self.total} loss {loss:.4f} acc {100 * acc:5.1f}% "
                f"{images / elapsed:6.0f} img/s {_format_seconds(eta)} left")
        self.stream.write("\r" + line.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# The reusable pieces
# ---------------------------------------------------------------------------------------------

def _batch_loss(criterion, logits, labels) -> float:
    """The training loop's loss as a Python float (one place, so tests can intercept it)."""
    return float(criterion(logits, labels))


def train_one_epoch(model, loader, criterion, optimizer, *, guard: DivergenceGuard | None = None,
                    progress: ProgressBar | bool | None = None, epoch: int | None = None):
    """One pass over ``loader`` in training mode: forward, loss, backward, optimiser step.

    Parameters
    ----------
    model : a Module (``model(x)``, ``model.backward(dout)``)
    loader : yields ``(images, labels)``: (N, C, H, W) float32 and (N,) int64
    criterion : e.g. ``nn.CrossEntropyLoss()``; ``criterion(logits, labels)`` returns the mean
        loss and ``criterion.backward()`` the gradient with respect to the logits
    optimizer : ``step()`` / ``zero_grad()``
    guard : a DivergenceGuard; default a fresh one (first loss = this epoch's first batch)
    progress : a ProgressBar, True (a bar on stderr), or None/False (no bar)
    epoch : only used in messages

    Returns
    -------
    (loss, accuracy) : the mean training loss and accuracy (0..1) over the epoch's images,
        measured in training mode (dropout on, augmented images) as the batches went by
    """
    guard = DivergenceGuard() if guard is None else guard
    if progress is True:
        progress = ProgressBar(len(loader), desc=f"epoch {epoch}" if epoch else "train")
    model.train()
    total_loss = 0.0
    correct = seen = 0
    try:
        for batch, (images, labels) in enumerate(loader, start=1):
            optimizer.zero_grad()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                logits = model(images)
                if not np.isfinite(logits).all():
                    loss = float("nan")
                else:
                    loss = _batch_loss(criterion, logits, labels)
                guard.check(loss, epoch=epoch, batch=batch)
                model.backward(criterion.backward())
                optimizer.step()
            n = len(labels)
            total_loss += loss * n
            correct += int((logits.argmax(axis=1) == labels).sum())
            seen += n
            if progress:
                progress.update(batch, loss=total_loss / seen, acc=correct / seen, images=seen)
    finally:
        if progress:
            progress.close()
    if seen == 0:
        raise ValueError("train_one_epoch: the loader yielded no batches (is the data set "
                         "smaller than the batch size with drop_last=True?)")
    return total_loss / seen, correct / seen


def evaluate(model, loader, criterion):
    """Loss and accuracy in eval mode (BatchNorm running statistics, no dropout).

    The model's previous mode is restored afterwards.

    Returns
    -------
    (loss, accuracy, predictions) : mean loss over all images, accuracy in 0..1, and the
        predicted class of every image, (N,) int64 in the loader's order
    """
    was_training = getattr(model, "training", False)
    model.eval()
    total_loss = 0.0
    correct = seen = 0
    predictions = []
    try:
        for images, labels in loader:
            logits = model(images)
            total_loss += float(criterion(logits, labels)) * len(labels)
            predicted = logits.argmax(axis=1)
            correct += int((predicted == labels).sum())
            seen += len(labels)
            predictions.append(predicted)
    finally:
        if was_training:
            model.train()
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return total_loss / seen, correct / seen, np.concatenate(predictions).astype(np.int64)


def predict(model, images, *, batch_size: int = 500) -> np.ndarray:
    """Class predictions for (N, C, H, W) float images, in eval mode."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        return np.concatenate([model(images[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(images), batch_size)]).astype(np.int64)
    finally:
        if was_training:
            model.train()


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """``cm[true, predicted]`` counts, (num_classes, num_classes) int64."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """The diagonal of the confusion matrix over each row's total (NaN for an empty class)."""
    totals = cm.sum(axis=1)
    return np.divide(np.diag(cm), totals, out=np.full(len(cm), np.nan), where=totals > 0)


def set_threads(n: int | None) -> None:
    """Use ``n`` threads for BLAS (NumPy's matrix products) and Numba's parallel loops, for
    the rest of the process (the CLI's ``--threads``; ``limit_threads`` is the scoped form).

    Uses threadpoolctl when it is installed (it works after NumPy is imported); the
    OMP/OPENBLAS/MKL_NUM_THREADS variables are set too, for child processes and for a NumPy
    not imported yet.
    """
    if n is None:
        return
    n = int(n)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    _limit_blas(n)
    _set_numba_threads(n)


def _limit_blas(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n)


def _set_numba_threads(n: int) -> int | None:
    """Set Numba's thread count (capped at its pool size); returns the previous count."""
    try:
        import numba
    except ImportError:
        return None
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    return previous


@contextlib.contextmanager
def limit_threads(n: int | None):
    """``with limit_threads(1): ...``: BLAS and Numba thread counts inside the block only."""
    if n is None:
        yield
        return
    blas = _limit_blas(n)
    previous = _set_numba_threads(n)
    try:
        yield
    finally:
        if previous is not None:
            _set_numba_threads(previous)
        if blas is not None:
            blas.restore_original_limits()


# ---------------------------------------------------------------------------------------------
# Building the recipe from a TrainConfig
# ---------------------------------------------------------------------------------------------

def build_model(config: TrainConfig, num_classes: int = 10, in_channels: int = 1):
    """The lecture's CNN, its weights (and Dropout generator) drawn from ``config.seed``."""
    from minicnn.models import CNN
    return CNN(num_classes=num_classes, dropout=config.dropout, in_channels=in_channels,
               conv_method=config.conv_method, rng=np.random.default_rng((config.seed, 1)))


def build_optimizer(model, config: TrainConfig):
    """Adam (L2 weight decay, the lecture's choice), AdamW (decoupled) or SGD with momentum."""
    from minicnn import optim
    params = list(model.parameters())
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return optim.SGD(params, lr=config.lr, momentum=config.momentum,
                     weight_decay=config.weight_decay)


def build_scheduler(optimizer, config: TrainConfig):
    """ReduceLROnPlateau on the validation loss (the lecture's), StepLR, CosineAnnealingLR, or
    None."""
    from minicnn.optim import lr_scheduler
    if config.scheduler == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=config.factor,
                                              patience=config.patience)
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.factor)
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

@dataclass
class Splits:
    """The three data sets of a run and where they came from."""
    train: object
    val: object
    test: object
    classes: list
    source: str
    is_sample: bool


def _open_split(config: TrainConfig, split: str, log):
    """``FashionMNIST(split)`` from where ``config`` says (sample / data_dir / search)."""
    from minicnn import data as mdata
    if config.sample:
        root, allow_sample = "sample", True
    elif config.data_dir is not None:
        root, allow_sample = Path(config.data_dir).expanduser(), False
        if not root.is_dir():
            raise FileNotFoundError(f"data directory {config.data_dir} does not exist")
    else:
        root, allow_sample = None, True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mdata.SampleDataWarning)
        dataset = mdata.FashionMNIST(split, root=root, download=config.download,
                                     allow_sample=allow_sample)
    for warning in caught:
        if not issubclass(warning.category, mdata.SampleDataWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    if dataset.is_sample and not config.sample:
        log(f"note: the full Fashion-MNIST {split} files were not found (searched "
            f"$MINICNN_DATA, ~/.cache/minicnn, /usr/share/datasets/fashion-mnist; no download); "
            f"using the sample bundled in the package ({len(dataset)} images)")
    elif isinstance(root, Path) and Path(dataset.source) != root:
        log(f"note: {root} does not hold the Fashion-MNIST {split} files; using "
            f"{dataset.source}")
    return dataset


def load_datasets(config: TrainConfig, *, log=None) -> Splits:
    """Fashion-MNIST split into train / validation (``val_size`` images, seeded) / test.

    With ``config.sample`` the sample bundled in the package; with ``config.data_dir`` that
    directory (it must exist; no silent fall-back to the sample); otherwise the usual places,
    then a download, then the bundled sample (``log`` says so). On a data set too small for
    ``val_size`` (the sample) a tenth of the training images is held out instead.
    ``config.subset`` keeps N of the remaining training images (seeded).
    """
    from minicnn import data as mdata

    log = log or (lambda message: None)
    full_train = _open_split(config, "train", log)
    test = _open_split(config, "test", log)
    val_size = config.val_size
    if val_size > len(full_train) // 10:
        val_size = max(1, len(full_train) // 10)
        log(f"note: {val_size} validation images (a tenth of the {len(full_train)} training "
            f"images), not {config.val_size}")
    train, val = mdata.train_val_split(full_train, val_size, seed=config.seed)
    if config.subset is not None and config.subset < len(train):
        keep = np.sort(np.random.default_rng((config.seed, 2)).permutation(len(train))
                       [:config.subset])
        train = mdata.ArrayDataset(train.images[keep], train.labels[keep], train.classes,
                                   "train", train.source, train.is_sample, train.indices[keep])
    return Splits(train, val, test, list(full_train.classes), str(full_train.source),
                  bool(full_train.is_sample))


def make_transforms(config: TrainConfig):
    """``(train_transform, eval_transform)``: section 9's augmentation (if ``augment``) then
    ToTensor + Normalize(mean, std); evaluation only normalises."""
    from minicnn.data import transforms as T
    normalise = [T.ToTensor(), T.Normalize(mean=[config.mean], std=[config.std])]
    augment = [T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2)] if config.augment else []
    return T.Compose(augment + normalise), T.Compose(normalise)


def make_loaders(splits: Splits, config: TrainConfig):
    """``(train_loader, val_loader, test_loader)``. The training loader's order and
    augmentation in epoch ``e`` depend only on ``(config.seed, e)`` (``loader.set_epoch(e)``);
    the evaluation loaders go in order, in batches of at least 256 (no gradients to keep)."""
    from minicnn.data import DataLoader
    train_tf, eval_tf = make_transforms(config)
    eval_batch = max(config.batch_size, 256)
    return (DataLoader(splits.train, batch_size=config.batch_size, shuffle=True,
                       seed=config.seed, transform=train_tf, train=True),
            DataLoader(splits.val, batch_size=eval_batch, transform=eval_tf),
            DataLoader(splits.test, batch_size=eval_batch, transform=eval_tf))


# ---------------------------------------------------------------------------------------------
# The run directory
# ---------------------------------------------------------------------------------------------

FIGURES = ("curves.png", "confusion_matrix.png", "filters.png", "feature_maps.png",
           "misclassified.png")


def _new_run_dir(out) -> Path:
    if out is not None:
        path = Path(out)
        if (path / "last.npz").exists():
            raise FileExistsError(f"{path} already holds a run (last.npz); continue it with "
                                  f"--resume {path}, or choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in [""] + [f"-{i}" for i in range(1, 1000)]:
        path = Path("runs") / (stamp + suffix)
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError("could not create a fresh run directory under runs/")


def _write_metrics(path: Path, history: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (repr(float(v)) if isinstance(v, float) else v)
                             for k, v in row.items()})
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """What ``train`` returns: where the run is and how it went."""
    run_dir: Path
    history: list = field(default_factory=list)
    best_epoch: int | None = None
    classes: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    model: object = None

    @property
    def test_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    def report(self) -> str:
        """The lines ``minicnn train`` ends with."""
        last = self.history[-1]
        epochs = f"{last['epoch']} epoch" + ("s" if last["epoch"] != 1 else "")
        lines = [f"test accuracy {100 * last['test_acc']:.2f}% after {epochs} "
                 f"(test loss {last['test_loss']:.4f})"]
        if self.best_epoch is not None and self.best_epoch != last["epoch"]:
            best = self.history[self.best_epoch - 1]
            lines.append(f"lowest validation loss at epoch {self.best_epoch} (best.npz): test "
                         f"accuracy {100 * best['test_acc']:.2f}%")
        lines.append(f"run directory: {self.run_dir}  (metrics.csv, config.json, last.npz, "
                     f"best.npz)")
        if self.figures:
            lines.append(f"figures: {', '.join(self.figures)} in {self.run_dir}")
        return "\n".join(lines)


def _epoch_line(row: dict, epochs: int) -> str:
    width = len(str(epochs))
    return (f"epoch {row['epoch']:>{width}}/{epochs}  "
            f"train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:5.2f}%  "
            f"val loss {row['val_loss']:.4f} acc {100 * row['val_acc']:5.2f}%  "
            f"test acc {100 * row['test_acc']:5.2f}%  "
            f"lr {row['lr']:.1e}  {row['seconds']:.1f}s ({row['images_per_second']:.0f} img/s)")


def _model_description(config: TrainConfig, num_classes: int, in_channels: int) -> dict:
    return {"model": "CNN", "num_classes": num_classes, "in_channels": in_channels,
            "dropout": config.dropout, "conv_method": config.conv_method}


def train(config: TrainConfig | None = None, *, log=print, _resume_from: Path | None = None,
          **overrides) -> TrainResult:
    """Run the lecture's recipe end to end and write a run directory (see the module docs).

    Parameters
    ----------
    config : a TrainConfig (default: the lecture's recipe); keyword ``overrides`` replace
        single fields, e.g. ``train(epochs=2, sample=True)``
    log : where the per-epoch lines and notes go (``print`` by default; ``None`` silences)

    Returns
    -------
    TrainResult with ``run_dir``, ``history`` (one dict per epoch, the columns of
    ``metrics.csv``), ``best_epoch``, ``model`` (the trained model) and ``report()``.

    Raises
    ------
    TrainingDiverged : the loss became NaN/infinite or exploded; ``last.npz`` in the run
        directory is the last good checkpoint (the message says where)
    """
    config = dataclasses.replace(config or TrainConfig(), **overrides).validate()
    keep_freed_memory()   # ~30% faster steps: no page faults on reused activation buffers
    with limit_threads(config.threads):
        return _train(config, log or (lambda *args, **kwargs: None), _resume_from)


def _train(config: TrainConfig, log, _resume_from) -> TrainResult:
    import minicnn
    from minicnn import nn

    splits = load_datasets(config, log=log)
    in_channels = 1
    model = build_model(config, num_classes=len(splits.classes), in_channels=in_channels)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config)
    criterion = nn.CrossEntropyLoss()
    train_loader, val_loader, test_loader = make_loaders(splits, config)

    guard = DivergenceGuard(config.explode_factor)
    history: list[dict] = []
    best_epoch, best_val_loss = None, math.inf
    if _resume_from is None:
        run_dir = _new_run_dir(config.out)
        start_epoch = 1
    else:
        run_dir = Path(_resume_from).parent
        meta = minicnn.load(_resume_from, model=model, optimizer=optimizer, scheduler=scheduler)
        history = [dict(row) for row in meta["history"]]
        start_epoch = int(meta["epoch"]) + 1
        guard.first_loss = meta.get("first_loss")
        best_epoch = meta.get("best_epoch")
        best_val_loss = float(meta.get("best_val_loss", math.inf))
        if start_epoch > config.epochs:
            raise ValueError(f"{run_dir} already finished {start_epoch - 1} of {config.epochs} "
                             f"epochs; pass a larger epochs (--epochs N) to train longer")
        log(f"resuming {run_dir} after epoch {start_epoch - 1}")

    def checkpoint_metadata(epoch):
        return dict(epoch=epoch, config=config.to_dict(), history=history,
                    first_loss=guard.first_loss, best_epoch=best_epoch,
                    best_val_loss=best_val_loss, classes=splits.classes,
                    train_loader={"seed": train_loader.seed, "next_epoch": epoch + 1},
                    network=_model_description(config, len(splits.classes), in_channels))

    config_doc = {"config": config.to_dict(),
                  "model": _model_description(config, len(splits.classes), in_channels),
                  "data": {"source": splits.source, "is_sample": splits.is_sample,
                           "train": len(splits.train), "val": len(splits.val),
                           "test": len(splits.test), "classes": splits.classes},
                  "minicnn_version": minicnn.__version__}
    (run_dir / "config.json").write_text(json.dumps(config_doc, indent=2) + "\n")
    last_path, best_path = run_dir / "last.npz", run_dir / "best.npz"
    if _resume_from is None:  # so that a good checkpoint exists from the start
        minicnn.save(last_path, model, optimizer, scheduler, **checkpoint_metadata(0))

    show_bar = _stderr_is_terminal() if config.progress is None else config.progress
    epoch = start_epoch - 1
    try:
        for epoch in range(start_epoch, config.epochs + 1):
            start = time.perf_counter()
            train_loader.set_epoch(epoch)
            bar = ProgressBar(len(train_loader), desc=f"epoch {epoch}/{config.epochs}",
                              enabled=show_bar)
            lr = float(optimizer.param_groups[0]["lr"])
            try:
                train_loss, train_acc = train_one_epoch(model, train_loader, criterion,
                                                        optimizer, guard=guard, progress=bar,
                                                        epoch=epoch)
            except TrainingDiverged as exc:
                good = f"epoch {epoch - 1}" if epoch > 1 else "the initial weights"
                raise TrainingDiverged(f"{exc}. Stopped; the last good checkpoint is "
                                       f"{last_path} ({good})", last_path) from None
            train_seconds = time.perf_counter() - start
            val_loss, val_acc, _ = evaluate(model, val_loader, criterion)
            test_loss, test_acc, test_predictions = evaluate(model, test_loader, criterion)
            if config.scheduler == "plateau":
                scheduler.step(val_loss)
            elif scheduler is not None:
                scheduler.step()
            row = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                       val_loss=val_loss, val_acc=val_acc, test_loss=test_loss,
                       test_acc=test_acc, lr=lr, seconds=time.perf_counter() - start,
                       images_per_second=len(splits.train) / train_seconds)
            history.append(row)
            if val_loss < best_val_loss:
                best_epoch, best_val_loss = epoch, val_loss
                minicnn.save(best_path, model, optimizer, scheduler,
                                 **checkpoint_metadata(epoch))
            minicnn.save(last_path, model, optimizer, scheduler, **checkpoint_metadata(epoch))
            _write_metrics(run_dir / "metrics.csv", history)
            log(_epoch_line(row, config.epochs))
    except KeyboardInterrupt:
        log(f"interrupted in epoch {epoch}; {last_path} holds epoch {len(history)}; continue "
            f"with: minicnn train --resume {run_dir}")
        raise

    result = TrainResult(run_dir, history, best_epoch, splits.classes, [], model)
    if config.figures and history:
        result.figures = write_figures(run_dir, model, history, splits, test_loader,
                                       test_predictions)
    return result


def write_figures(run_dir: Path, model, history, splits: Splits, test_loader, predictions):
    """The run's PNG figures, from the model as it is now (the last epoch) and its
    ``predictions`` for the test set. Returns the file names."""
    import matplotlib.pyplot as plt

    from minicnn import viz

    labels = np.asarray(splits.test.labels)
    cm = confusion_matrix(labels, predictions, len(splits.classes))
    first_conv = next(p for _, p in model.named_parameters() if np.ndim(p.data) == 4)
    image = next(iter(test_loader))[0][:1]  # an evaluation loader: always in order
    figures = {
        "curves.png": lambda: viz.plot_curves(history, title=f"Training curves ({run_dir.name})"),
        "confusion_matrix.png": lambda: viz.plot_confusion_matrix(
            cm, splits.classes, title=f"Confusion matrix (test set, epoch "
                                      f"{history[-1]['epoch']}, accuracy "
                                      f"{100 * np.trace(cm) / cm.sum():.1f}%)"),
        "filters.png": lambda: viz.plot_filters(first_conv.data),
        "feature_maps.png": lambda: viz.plot_feature_maps(
            model, image, title=f"Feature maps of test image 0 "
                                f"({splits.classes[int(labels[0])]})"),
        "misclassified.png": lambda: viz.plot_misclassified(
            np.asarray(splits.test.images), labels, predictions, splits.classes,
            title="Misclassified test images"),
    }
    for name, make in figures.items():
        fig = make()
        viz.save_figure(fig, run_dir / name)
        plt.close(fig)
    return list(figures)


def resume(run_dir, *, log=print, **overrides) -> TrainResult:
    """Continue the run in ``run_dir`` from its ``last.npz``, exactly as if it had not stopped.

    Only settings that do not change the recipe may be overridden: ``epochs`` (a new total),
    ``threads``, ``progress``, ``figures``, ``data_dir``, ``download``. (Resuming with another
    thread count can change the last bits of BLAS sums; bit-for-bit needs the same count.)
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"cannot resume {run_dir}: no such directory")
    for name in ("config.json", "last.npz"):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"cannot resume {run_dir}: {name} is missing (is it a run "
                                    f"directory written by minicnn train?)")
    fixed = sorted(set(overrides) - set(RESUMABLE_OVERRIDES))
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot change when resuming; only "
                         f"{', '.join(RESUMABLE_OVERRIDES)} can")
    saved = json.loads((run_dir / "config.json").read_text())
    config = dataclasses.replace(TrainConfig.from_dict(saved["config"]), out=str(run_dir),
                                 **overrides)
    return train(config, log=log, _resume_from=run_dir / "last.npz")


def evaluate_checkpoint(path, *, data_dir=None, sample: bool = False, batch_size: int = 500,
                        log=None) -> dict:
    """Rebuild the CNN a ``train`` checkpoint describes, load it, and test it.

    Returns
    -------
    dict with ``loss``, ``acc`` (0..1), ``per_class`` (accuracy per class), ``classes``,
    ``confusion`` (K x K counts), ``images`` (how many), ``source`` (where the test set came
    from), ``epoch`` (of the checkpoint)
    """
    import minicnn
    from minicnn import nn

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        meta = minicnn.load(path)
    except Exception as exc:  # not an npz, truncated, written by something else
        raise ValueError(f"{path} is not a minicnn checkpoint ({' '.join(str(exc).split())})"
                         ) from None
    if meta.get("model_class") != "CNN":
        raise ValueError(f"{path} holds a {meta.get('model_class')}, not the lecture's CNN "
                         f"(minicnn evaluate reads checkpoints written by minicnn train)")
    # A checkpoint written by `minicnn train` describes its run; one saved by hand gets the
    # default recipe (only the normalisation and the conv method matter here).
    config = TrainConfig.from_dict(meta["config"]) if isinstance(meta.get("config"), dict) \
        else TrainConfig()
    config = dataclasses.replace(config, data_dir=data_dir, sample=bool(sample))
    network = meta.get("network") or {}
    model = build_model(config, num_classes=int(network.get("num_classes", 10)),
                        in_channels=int(network.get("in_channels", 1)))
    try:
        minicnn.load(path, model=model)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path} does not fit the lecture's CNN: "
                         f"{' '.join(str(exc).split())}") from None
    test = _open_split(config, "test", log or (lambda message: None))
    from minicnn.data import DataLoader
    loader = DataLoader(test, batch_size=batch_size, transform=make_transforms(config)[1])
    loss, acc, predictions = evaluate(model, loader, nn.CrossEntropyLoss())
    cm = confusion_matrix(test.labels, predictions, len(test.classes))
    return dict(loss=loss, acc=acc, per_class=per_class_accuracy(cm),
                classes=list(test.classes), confusion=cm, images=len(test),
                source=str(test.source), epoch=meta.get("epoch"))
