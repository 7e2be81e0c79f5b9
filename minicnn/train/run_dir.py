"""The run directory: where it goes, ``metrics.csv`` and ``config.json``.

    runs/<timestamp>/
        config.json      the TrainConfig, the model and where the data came from
        metrics.csv      one row per epoch (METRIC_COLUMNS)
        last.npz         model + optimizer + scheduler + epoch + RNG states (resume from it)
        best.npz         the same, at the epoch with the lowest validation loss
        *.png            the figures (``minicnn.train.figures``)
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

__all__ = ["METRIC_COLUMNS", "new_run_dir", "write_metrics", "write_config"]

#: The columns of ``metrics.csv``, in order.
METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                  "test_acc", "lr", "seconds", "images_per_second")


def new_run_dir(out) -> Path:
    """``out`` (created; refused if it already holds a run), else a fresh
    ``runs/<timestamp>``."""
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


def write_metrics(path: Path, history: list[dict]) -> None:
    """``metrics.csv``: one row per epoch in ``METRIC_COLUMNS``, floats at full precision,
    replaced atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (repr(float(v)) if isinstance(v, float) else v)
                             for k, v in row.items()})
    os.replace(tmp, path)


def write_config(run_dir: Path, config, model_description: dict, splits) -> None:
    """``config.json``: the run's TrainConfig, the model it builds and the data it read."""
    import minicnn
    doc = {"config": config.to_dict(),
           "model": model_description,
           "data": {"source": splits.source, "is_sample": splits.is_sample,
                    "train": len(splits.train), "val": len(splits.val),
                    "test": len(splits.test), "classes": splits.classes},
           "minicnn_version": minicnn.__version__}
    (run_dir / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
