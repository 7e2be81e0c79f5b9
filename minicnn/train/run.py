"""The whole run: ``train(TrainConfig(...))`` and ``resume(run_dir)``.

``train`` builds the recipe (``build``), the data (``datasets``), runs ``train_one_epoch`` and
``evaluate`` (``loop``) once per epoch, and after each epoch saves ``last.npz`` (and
``best.npz`` at the lowest validation loss) and ``metrics.csv`` (``run_dir``); the figures
come at the end (``figures``).

``resume(run_dir)`` continues a run exactly where it stopped: the data order and the
augmentation of epoch ``e`` depend only on ``(seed, e)``, and the checkpoint holds the model,
the optimiser's moments, the scheduler and the Dropout generator, so 2 epochs + resume for 1
gives bit-for-bit the weights and metrics of 3 uninterrupted epochs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from minicnn.cores import resolve_threads
from minicnn.malloc import keep_freed_memory
from minicnn.train.build import build_criterion, build_model, build_optimizer, build_scheduler
from minicnn.train.config import RESUMABLE_OVERRIDES, TrainConfig
from minicnn.train.datasets import load_datasets, make_loaders, normalisation
from minicnn.train.figures import write_figures
from minicnn.train.loop import DivergenceGuard, TrainingDiverged, evaluate, train_one_epoch
from minicnn.train.progress import CompileNotice, ProgressBar, stderr_is_terminal
from minicnn.train.run_dir import new_run_dir, write_config, write_metrics
from minicnn.train.threads import limit_threads

__all__ = ["TrainResult", "train", "resume"]


@dataclass
class TrainResult:
    """What ``train`` returns: where the run is and how it went."""
    run_dir: Path
    history: list = field(default_factory=list)
    best_epoch: int | None = None
    classes: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    model: object = None
    test_images: int | None = None      # with test_subset: the test images scored

    @property
    def test_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    def report(self) -> str:
        """The lines ``minicnn train`` ends with."""
        last = self.history[-1]
        epochs = f"{last['epoch']} epoch" + ("s" if last["epoch"] != 1 else "")
        scored = f" on {self.test_images} test images" if self.test_images else ""
        lines = [f"test accuracy {100 * last['test_acc']:.2f}%{scored} after {epochs} "
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


def _model_description(config: TrainConfig, model, num_classes: int, image_shape) -> dict:
    """What evaluate, explain and explore need to rebuild the model: its name and class, the
    classes, and the images' channels and size."""
    height, width = image_shape[:2]
    channels = image_shape[2] if len(image_shape) == 3 else 1
    return {"model": type(model).__name__, "name": config.model, "num_classes": num_classes,
            "in_channels": channels, "image_size": [height, width],
            "dropout": config.dropout, "conv_method": config.conv_method}


def train(config: TrainConfig | None = None, *, log=print, _resume_from: Path | None = None,
          **overrides) -> TrainResult:
    """Run the lecture's recipe end to end and write a run directory (``run_dir``).

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
    log = log or (lambda *args, **kwargs: None)
    # "auto" becomes the count it stands for now, so config.json says what the run used
    requested = config.threads
    config = dataclasses.replace(config, threads=resolve_threads(config.threads))
    if requested == "auto":
        log(f"threads: {config.threads} (auto: the cores idle now; --threads N fixes it)")
    # no page faults on reused activation buffers (benchmarks/HISTORY.md, "Freed memory kept")
    keep_freed_memory()
    with limit_threads(config.threads):
        return _train(config, log, _resume_from)


def _train(config: TrainConfig, log, _resume_from) -> TrainResult:
    import minicnn

    splits = load_datasets(config, log=log)
    # the normalisation the run uses, measured on its training images unless given, goes
    # into config.json, so evaluate, explain and resume apply the same one
    mean, std = normalisation(config, splits.train)
    config = dataclasses.replace(config, mean=mean, std=std)
    image_shape = splits.train.images.shape[1:]          # (H, W) grey or (H, W, C)
    if image_shape[0] != image_shape[1]:
        raise ValueError(f"the models take square images; {splits.source} holds "
                         f"{image_shape[0]}x{image_shape[1]} images (--image-size N resizes a "
                         f"folder of images)")
    in_channels = image_shape[2] if len(image_shape) == 3 else 1
    model = build_model(config, num_classes=len(splits.classes), in_channels=in_channels,
                        image_size=image_shape[0])
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config)
    criterion = build_criterion(config)
    train_loader, val_loader, test_loader = make_loaders(splits, config)
    network = _model_description(config, model, len(splits.classes), image_shape)

    guard = DivergenceGuard(config.explode_factor)
    history: list[dict] = []
    best_epoch, best_val_loss = None, math.inf
    if _resume_from is None:
        run_dir = new_run_dir(config.out)
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

    def save(path, epoch):
        minicnn.save(path, model, optimizer, scheduler, epoch=epoch, config=config.to_dict(),
                     history=history, first_loss=guard.first_loss, best_epoch=best_epoch,
                     best_val_loss=best_val_loss, classes=splits.classes,
                     train_loader={"seed": train_loader.seed, "next_epoch": epoch + 1},
                     network=network)

    write_config(run_dir, config, network, splits)
    last_path, best_path = run_dir / "last.npz", run_dir / "best.npz"
    if _resume_from is None:  # so that a good checkpoint exists from the start
        save(last_path, 0)

    show_bar = stderr_is_terminal() if config.progress is None else config.progress
    epoch = start_epoch - 1
    with CompileNotice(log) as compiling:     # a machine's first run compiles kernels
        try:
            for epoch in range(start_epoch, config.epochs + 1):
                start = time.perf_counter()
                train_loader.set_epoch(epoch)
                bar = ProgressBar(len(train_loader), desc=f"epoch {epoch}/{config.epochs}",
                                  enabled=show_bar)
                lr = float(optimizer.param_groups[0]["lr"])
                try:
                    train_loss, train_acc = train_one_epoch(
                        model, train_loader, criterion, optimizer, guard=guard, progress=bar,
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
                    save(best_path, epoch)
                save(last_path, epoch)
                write_metrics(run_dir / "metrics.csv", history)
                log(_epoch_line(row, config.epochs))
                compiling.report()
        except KeyboardInterrupt:
            log(f"interrupted in epoch {epoch}; {last_path} holds epoch {len(history)}; "
                f"continue with: minicnn train --resume {run_dir}")
            raise

    result = TrainResult(run_dir, history, best_epoch, splits.classes, [], model,
                         None if splits.test_positions is None else len(splits.test))
    if config.figures and history:
        result.figures = write_figures(run_dir, model, history, splits, test_loader,
                                       test_predictions)
    return result


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
