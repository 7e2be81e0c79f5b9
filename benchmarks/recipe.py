"""Accuracy, not speed: a recipe trained by minicnn and by PyTorch, seed by seed.

    python benchmarks/recipe.py run --framework minicnn --seed 1 --epochs 15
    python benchmarks/recipe.py run --model resnet20 --framework pytorch --seed 0   # 30 epochs
    python benchmarks/recipe.py run --framework pytorch --seed 1 --epochs 15
    python benchmarks/recipe.py report          # tables + figure from every finished run
    python benchmarks/recipe.py report --out benchmarks/results/recipe_fast \
        --pytorch-from benchmarks/results/recipe     # another minicnn set, the same PyTorch runs
    python benchmarks/recipe.py run --framework pytorch --seed 0 --quick   # seconds; a smoke test

Each ``run`` trains one seed of the recipe in this process and writes
``<out>/<framework>_seed<S>/metrics.csv`` (the columns of ``minicnn train``'s: epoch,
train/val/test loss and accuracy, lr, seconds, images_per_second). Both frameworks see
exactly the same data: minicnn's own ``load_datasets`` + ``make_loaders`` (55,000 training
images in a seeded order with flip + crop(28, padding 2), 5,000 held out for validation,
the 10,000 test images), and both follow the lecture: Adam(lr=1e-3, weight_decay=1e-4),
ReduceLROnPlateau(patience=3, factor=0.5) on the validation loss, batch 64, dropout 0.4.
The seed sets the validation split, the data order and augmentation (shared) and each
framework's own weights and dropout masks (not shared: the two draw random numbers
differently). 15 epochs on one thread take about 11 minutes (minicnn, ~42 s an epoch) or
12 minutes (PyTorch, ~47 s), measured with two runs side by side on the 2 cores.

``report`` reads every ``*_seed*/metrics.csv`` under ``--out`` and writes ``recipe.md``
(test accuracy at epochs 1, 5, 10, 15 per run; mean and standard deviation per framework;
per protocol, the paired difference minicnn − PyTorch at epoch 15 with a bootstrap interval
and the count of runs that reach 92.5 %) and ``recipe.png`` (test accuracy per epoch, every
run).

``--model`` picks the network and its recipe (``RECIPES``): ``cnn``, the lecture's CNN with
the lecture's recipe (the default, above); ``lenet5``, LeNet-5 with the lecture's recipe (no
Dropout: LeNet-5 has none); ``resnet20``, the CIFAR ResNet-20 with He et al.'s kind of recipe
shortened to 30 epochs: SGD(lr 0.1, momentum 0.9, weight_decay 5e-4), cosine annealing stepped
once an epoch, batch 128, the same flip + crop. PyTorch's twins of LeNet-5 and ResNet-20 are
the tests' (``tests/support/torch_models.py``). Runs of another model go to
``benchmarks/results/recipe_<model>/`` unless ``--out`` says otherwise.

A run killed halfway continues where it stopped when the same command is given again:
minicnn's through ``minicnn.train.resume`` (bit for bit), PyTorch's from the ``last.pt`` it
saves after every epoch (model, optimiser, scheduler and its random state).

The question it answers: when minicnn's 15-epoch figure differs from PyTorch's, is that the
engine, or the seed? One run of each cannot tell; several seeds of each can.

``--protocol full`` asks a second question, whether the protocol moves the figure: it trains
on all 60,000 images, and the test set stands in for the validation set, as many course
notebooks do (results in ``<framework>-full_seed<S>``; minicnn's run then uses minicnn.train's
building blocks instead of ``train()``, which insists on a held-out validation set, and keeps
its own ``last.npz`` to resume from). With the lecture's recipe ReduceLROnPlateau then watches
the test loss, so the test accuracy is an explanation, not a result to quote; a cosine
schedule (ResNet-20's recipe) looks at no loss, and its test accuracy stays a clean estimate.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common as common

BOOTSTRAP_SAMPLES = 10_000


@dataclass(frozen=True)
class Recipe:
    """A network and how it is trained: ``settings`` are ``TrainConfig`` fields (the rest keep
    their defaults, the lecture's); ``target`` is the test accuracy an issue asks for."""
    title: str
    epochs: int
    target: float | None
    settings: dict = field(default_factory=dict)

    @property
    def report_epochs(self) -> tuple[int, ...]:
        if self.epochs == 15:
            return (1, 5, 10, 15)
        return (1, self.epochs // 3, 2 * self.epochs // 3, self.epochs)


RECIPES = {
    "cnn": Recipe("The lecture's recipe", 15, 0.925),            # issue 15's 92.5 %
    "lenet5": Recipe("LeNet-5, the lecture's recipe", 15, None,
                     {"model": "lenet5", "dropout": 0.0}),
    "resnet20": Recipe("ResNet-20: SGD, cosine, batch 128", 30, 0.945,  # issue 27's 94.5 %
                       {"model": "resnet20", "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
                        "weight_decay": 5e-4, "scheduler": "cosine", "batch_size": 128,
                        "dropout": 0.0}),
}


def default_out(model: str) -> Path:
    return common.DEFAULT_OUT / ("recipe" if model == "cnn" else f"recipe_{model}")


def _config(model: str, seed: int, epochs: int, threads: int, out: Path | None, quick: bool):
    from minicnn.train import TrainConfig
    return TrainConfig(epochs=epochs, seed=seed, threads=threads, out=out, figures=False,
                       progress=False, subset=640 if quick else None, val_size=5000,
                       sample=quick, **RECIPES[model].settings)


def loaders(config, protocol: str, name: str):
    """``(train_loader, val_loader, test_loader)`` of minicnn.train for ``protocol``:

    holdout : minicnn train's own split, 55,000 to train on and 5,000 to validate on;
    full    : all 60,000 to train on, and the *test* set as the validation set (common in
              course notebooks; where ReduceLROnPlateau watches it, the schedule sees the test
              set, so its test accuracy is not a clean estimate; a cosine schedule does not).
    """
    from minicnn.train import Splits, load_datasets, make_loaders, open_split

    log = lambda line: common.log(f"{name}: {line}")         # noqa: E731
    if protocol == "holdout":
        return make_loaders(load_datasets(config, log=log), config)
    whole, test = open_split(config, "train", log), open_split(config, "test", log)
    splits = Splits(whole, test, test, list(whole.classes), str(whole.source),
                    bool(whole.is_sample))
    return make_loaders(splits, config)


def run_minicnn(config, run_dir: Path, protocol: str) -> None:
    """``minicnn.train`` itself for the holdout protocol (the run directory gets metrics.csv
    and checkpoints); its building blocks, epoch by epoch, for the full one, which saves
    ``last.npz`` (weights, optimiser, scheduler, history) after every epoch and continues from
    it when the run is started again."""
    import minicnn
    from minicnn.malloc import keep_freed_memory
    from minicnn.train import (build_criterion, build_model, build_optimizer, build_scheduler,
                               evaluate, train, train_one_epoch, write_metrics)
    from minicnn.train import resume
    log = lambda line: common.log(f"minicnn: {line}")       # noqa: E731
    if protocol == "holdout":
        if (run_dir / "last.npz").exists():
            log(f"resuming {run_dir}")
            resume(run_dir, log=log, epochs=config.epochs)
        else:
            train(config, out=run_dir, log=log)
        return
    keep_freed_memory()                # as train() does: ~30% faster steps
    train_loader, _, test_loader = loaders(config, protocol, "minicnn")  # full: val = test
    model = build_model(config)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config)
    criterion = build_criterion(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    history = []
    checkpoint = run_dir / "last.npz"
    if checkpoint.exists():
        meta = minicnn.load(checkpoint, model=model, optimizer=optimizer, scheduler=scheduler)
        history = [dict(row) for row in meta["history"]]
        log(f"resuming {run_dir} after epoch {len(history)}")
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        train_loader.set_epoch(epoch)      # the epoch's order and augmentation: seed + epoch
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer)
        train_seconds = time.perf_counter() - start
        test_loss, test_acc, _ = evaluate(model, test_loader, criterion)
        val_loss, val_acc = test_loss, test_acc         # the test set is the validation set
        if config.scheduler == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        history.append(dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                            val_loss=val_loss, val_acc=val_acc, test_loss=test_loss,
                            test_acc=test_acc, lr=lr, seconds=time.perf_counter() - start,
                            images_per_second=len(train_loader.dataset) / train_seconds))
        minicnn.save(checkpoint, model, optimizer, scheduler, epoch=epoch, history=history,
                     config=config.to_dict())
        write_metrics(run_dir / "metrics.csv", history)
        log(f"epoch {epoch}/{config.epochs}  val {val_acc:.2%}  test {test_acc:.2%}  "
            f"lr {lr:g}  {history[-1]['seconds']:.0f} s")


def torch_recipe(torch, config):
    """PyTorch's model, loss, optimiser and scheduler for ``config``, as minicnn.train.build
    makes them: the lecture's CNN verbatim (train_step.py), or the tests' twin of LeNet-5 or
    ResNet-20."""
    if config.model == "cnn":
        from train_step import torch_setup
        model, criterion, _ = torch_setup(torch, seed=config.seed)
    else:
        model = common.torch_twin(torch, config.model, config.seed, num_classes=10,
                                  in_channels=1)
        criterion = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    params = model.parameters()
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                    weight_decay=config.weight_decay)
    elif config.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        raise SystemExit(f"recipe.py: no PyTorch optimiser for {config.optimizer!r}")
    if config.scheduler == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, patience=config.patience, factor=config.factor)
    elif config.scheduler == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    else:
        raise SystemExit(f"recipe.py: no PyTorch scheduler for {config.scheduler!r}")
    return model, criterion, optimizer, scheduler


def run_pytorch(config, run_dir: Path, protocol: str) -> None:
    """The same recipe in PyTorch on minicnn's loaders, epoch by epoch as ``minicnn.train``
    does it; writes metrics.csv in the same columns and, after every epoch, ``last.pt`` to
    continue from if the run is stopped."""
    from minicnn.train import write_metrics

    torch = common.import_torch()
    if torch is None:
        raise SystemExit("recipe.py: PyTorch is not installed (pip install torch==2.13.0)")
    torch.set_num_threads(config.threads)
    train_loader, val_loader, test_loader = loaders(config, protocol, "pytorch")
    model, criterion, optimizer, scheduler = torch_recipe(torch, config)

    def evaluate(loader):
        model.eval()
        total = correct = seen = 0
        with torch.inference_mode():
            for images, labels in loader:
                labels = torch.from_numpy(labels)
                logits = model(torch.from_numpy(images))
                total += float(criterion(logits, labels)) * len(labels)
                correct += int((logits.argmax(1) == labels).sum())
                seen += len(labels)
        return total / seen, correct / seen

    run_dir.mkdir(parents=True, exist_ok=True)
    history = []
    checkpoint = run_dir / "last.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history = state["history"]
        common.log(f"pytorch: resuming {run_dir} after epoch {len(history)}")
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        train_loader.set_epoch(epoch)
        model.train()
        total = correct = seen = 0
        for images, labels in train_loader:
            labels = torch.from_numpy(labels)
            optimizer.zero_grad()
            logits = model(torch.from_numpy(images))
            loss = criterion(logits, labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        train_seconds = time.perf_counter() - start
        lr = optimizer.param_groups[0]["lr"]      # the rate this epoch trained with
        test_loss, test_acc = evaluate(test_loader)
        val_loss, val_acc = (evaluate(val_loader) if protocol == "holdout"
                             else (test_loss, test_acc))    # full: the test set validates
        if config.scheduler == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        history.append(dict(epoch=epoch, train_loss=total / seen, train_acc=correct / seen,
                            val_loss=val_loss, val_acc=val_acc, test_loss=test_loss,
                            test_acc=test_acc, lr=lr, seconds=time.perf_counter() - start,
                            images_per_second=seen / train_seconds))
        partial = run_dir / "last.pt.partial"          # written whole, then renamed
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                    "history": history}, partial)
        partial.replace(checkpoint)
        write_metrics(run_dir / "metrics.csv", history)
        common.log(f"pytorch: epoch {epoch}/{config.epochs}  val {val_acc:.2%}  "
                   f"test {test_acc:.2%}  lr {lr:g}  {history[-1]['seconds']:.0f} s")


def read_runs(out: Path) -> dict:
    """``{framework: {seed: [row, ...]}}`` from ``out/<framework>_seed<S>/metrics.csv``."""
    runs: dict = {}
    for path in sorted(out.glob("*_seed*/metrics.csv")):
        framework, _, seed = path.parent.name.rpartition("_seed")
        if not seed.isdigit():
            continue
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        if rows:
            runs.setdefault(framework, {})[int(seed)] = rows
    return runs


def _acc(rows: list[dict], epoch: int) -> float | None:
    return rows[epoch - 1]["test_acc"] if len(rows) >= epoch else None


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def _mean_sd(values: list[float]) -> str:
    if not values:
        return ""
    mean = 100 * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f} (1 run)"
    return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f} ({len(values)} runs)"


def _comparison(runs: dict, epoch: int, target: float | None) -> list[list]:
    """One row per protocol: the mean paired difference minicnn − PyTorch in test accuracy at
    ``epoch`` over the seeds both ran, a percentile bootstrap interval over those seeds, and
    how many runs of each reached the issue's target."""
    import numpy as np
    rows = []
    for protocol in ("", "-full"):
        ours, theirs = runs.get("minicnn" + protocol, {}), runs.get("pytorch" + protocol, {})
        seeds = sorted(seed for seed in ours.keys() & theirs.keys()
                       if _acc(ours[seed], epoch) is not None
                       and _acc(theirs[seed], epoch) is not None)
        if not seeds:
            continue
        differences = np.array([_acc(ours[s], epoch) - _acc(theirs[s], epoch) for s in seeds])
        resampled = np.random.default_rng(0).choice(differences,
                                                   (BOOTSTRAP_SAMPLES, len(seeds))).mean(axis=1)
        low, high = np.percentile(resampled, [2.5, 97.5])

        def reached(histories):
            if target is None:
                return "–"
            finals = [a for h in histories.values() if (a := _acc(h, epoch)) is not None]
            return f"{sum(a >= target for a in finals)} of {len(finals)}"

        rows.append([protocol.lstrip("-") or "holdout", len(seeds),
                     f"{100 * differences.mean():+.2f}",
                     f"[{100 * low:+.2f}, {100 * high:+.2f}]", reached(ours), reached(theirs)])
    return rows


def report(out: Path, pytorch_from: Path | None = None, model: str = "cnn") -> str:
    """recipe.md and recipe.png from the runs under ``out``; returns the Markdown. With
    ``pytorch_from``, PyTorch's runs are read from that directory instead (minicnn runs of
    another conv method in ``out`` against the same PyTorch runs, seed by seed)."""
    recipe = RECIPES[model]
    epochs, target = recipe.report_epochs, recipe.target
    runs = read_runs(out)
    if pytorch_from is not None:
        runs = {name: seeds for name, seeds in runs.items() if not name.startswith("pytorch")}
        runs.update({name: seeds for name, seeds in read_runs(pytorch_from).items()
                     if name.startswith("pytorch")})
    if not runs:
        raise SystemExit(f"recipe.py report: no <framework>_seed<S>/metrics.csv under {out}")
    headers = (["framework", "seed"] + [f"epoch {e}" for e in epochs]
               + ["best epoch (val loss): test", "s/epoch"])
    rows = []
    for framework, seeds in sorted(runs.items()):
        for seed, history in sorted(seeds.items()):
            best = min(history, key=lambda row: row["val_loss"])
            seconds = statistics.median(row["seconds"] for row in history)
            rows.append([framework, seed] + [_pct(_acc(history, e)) for e in epochs]
                        + [f"{_pct(best['test_acc'])} (epoch {int(best['epoch'])})",
                           f"{seconds:.0f}"])
    summary = []
    for framework, seeds in sorted(runs.items()):
        summary.append([framework] + [_mean_sd([a for h in seeds.values()
                                                if (a := _acc(h, e)) is not None])
                                      for e in epochs])
    comparison = _comparison(runs, epochs[-1], target)
    also = f" --pytorch-from {pytorch_from}" if pytorch_from is not None else ""
    which = "" if model == "cnn" else f" --model {model}"
    full = (" (`--protocol full` for the rows marked -full)"
            if any(name.endswith("-full") for name in runs) else "")
    lines = [f"# {recipe.title}, seed by seed: test accuracy (%)", "",
             f"Command: `python benchmarks/recipe.py run{which} --framework F --seed S "
             f"--epochs {recipe.epochs}` per run{full}, then `python benchmarks/recipe.py "
             f"report{which} --out {out}{also}`.", "",
             common.markdown_table(headers, rows), "",
             "Mean ± sample standard deviation over seeds:", "",
             common.markdown_table(["framework"] + [f"epoch {e}" for e in epochs],
                                   summary), "",
             f"minicnn against PyTorch at epoch {epochs[-1]}, seed by seed (a seed fixes "
             f"the split, the order and the augmentation for both, so the differences are "
             f"paired; the interval resamples seeds, {BOOTSTRAP_SAMPLES:,} times):", "",
             common.markdown_table(["protocol", "seeds run by both", "minicnn − PyTorch (points)",
                                    "95 % bootstrap interval",
                                    f"runs ≥ {target:.1%}: minicnn" if target else
                                    "runs at a target: minicnn", "PyTorch"], comparison),
             ""]
    text = "\n".join(lines)
    (out / "recipe.md").write_text(text)
    _plot(runs, out / "recipe.png", recipe)
    return text


def _plot(runs: dict, path: Path, recipe: Recipe) -> None:
    """One panel per protocol: a thin line per seed and a thick one for each framework's mean
    (over the seeds that reached that epoch)."""
    import numpy as np
    plt = common.pyplot()
    protocols = sorted({framework.partition("-")[2] for framework in runs})   # "", "full"
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.2 * len(protocols), 4.2),
                             sharey=True, squeeze=False)
    colours = {"minicnn": "tab:blue", "pytorch": "tab:orange"}
    for ax, protocol in zip(axes[0], protocols):
        for framework, seeds in sorted(runs.items()):
            base, _, its_protocol = framework.partition("-")     # e.g. "pytorch-full"
            if its_protocol != protocol:
                continue
            curves = [[100 * row["test_acc"] for row in history] for history in seeds.values()]
            for curve in curves:
                ax.plot(range(1, len(curve) + 1), curve, color=colours.get(base), alpha=0.3,
                        linewidth=0.8)
            length = max(len(curve) for curve in curves)
            mean = [np.mean([c[e] for c in curves if len(c) > e]) for e in range(length)]
            ax.plot(range(1, length + 1), mean, color=colours.get(base), linewidth=2.5,
                    marker=".", label=f"{base}, mean of {len(curves)} seeds"
                    if len(curves) > 1 else f"{base}, 1 seed")
        if recipe.target is not None:
            ax.axhline(100 * recipe.target, color="grey", linestyle=":",
                       label=f"target {recipe.target:.1%}")
        watched = "test" if protocol else "validation"       # full: the test set validates
        schedule = ("cosine schedule" if recipe.settings.get("scheduler") == "cosine"
                    else f"scheduler on {watched} loss")
        ax.set_title(f"full protocol: 60,000 images, {schedule}" if protocol
                     else f"holdout: 55,000 images, {schedule}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.suptitle(f"{recipe.title}: one thin line per seed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train one seed of the recipe")
    run.add_argument("--framework", choices=("minicnn", "pytorch"), required=True)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--epochs", type=int, default=None,
                     help="default: the recipe's (15; 30 for resnet20)")
    run.add_argument("--threads", type=int, default=1,
                     help="threads for this run (default 1, so two runs share 2 cores)")
    run.add_argument("--quick", action="store_true",
                     help="the bundled sample, 640 training images, 2 epochs: a smoke test")
    run.add_argument("--protocol", choices=("holdout", "full"), default="holdout",
                     help="holdout (default): 5,000 training images validate, as minicnn "
                          "train does; full: train on all 60,000 and let the scheduler "
                          "watch the test set (results go to <framework>-full_seed<S>)")
    rep = commands.add_parser("report", help="tables and figure from the finished runs")
    for command in (run, rep):
        command.add_argument("--model", choices=sorted(RECIPES), default="cnn",
                             help="the network and its recipe (default: the lecture's CNN)")
        command.add_argument("--out", type=Path, default=None,
                             help="default: benchmarks/results/recipe[_MODEL]/")
    rep.add_argument("--pytorch-from", type=Path, metavar="DIR",
                     help="read PyTorch's runs from DIR instead of --out (e.g. minicnn runs "
                          "of another conv method against the same PyTorch runs)")
    args = parser.parse_args(argv)
    args.out = args.out or default_out(args.model)

    if args.command == "report":
        print(report(args.out, args.pytorch_from, args.model))
        return 0
    common.configure_threads(args.threads)
    epochs = args.epochs or (2 if args.quick else RECIPES[args.model].epochs)
    if epochs < 1:
        parser.error(f"--epochs must be at least 1; got {epochs}")
    name = args.framework + ("-full" if args.protocol == "full" else "")
    run_dir = args.out / f"{name}_seed{args.seed}"
    done = read_runs(args.out).get(name, {}).get(args.seed, [])
    if len(done) >= epochs:
        raise SystemExit(f"recipe.py: {run_dir} already holds {len(done)} epochs; delete it to "
                         f"run again")
    config = _config(args.model, args.seed, epochs, args.threads, None, args.quick)
    start = time.perf_counter()
    if args.framework == "minicnn":
        run_minicnn(config, run_dir, args.protocol)
    else:
        run_pytorch(config, run_dir, args.protocol)
    minutes = (time.perf_counter() - start) / 60
    history = read_runs(args.out).get(name, {}).get(args.seed, [])
    final = history[-1]["test_acc"] if history else math.nan
    print(f"{name} seed {args.seed}: {epochs} epochs in {minutes:.1f} min, "
          f"final test accuracy {final:.2%} ({run_dir / 'metrics.csv'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
