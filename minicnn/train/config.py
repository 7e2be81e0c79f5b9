"""``TrainConfig``: every setting of a training run, with the lecture's recipe as defaults.

``minicnn train``'s options map one to one onto its fields (``--batch-size`` is
``batch_size``); ``config.json`` in a run directory holds ``TrainConfig.to_dict()``, and
``resume`` rebuilds the run from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from minicnn.functional.conv import CONV_METHODS, DEFAULT_METHOD

__all__ = ["TrainConfig", "DEFAULT_EPOCHS", "DEFAULT_THREADS", "OPTIMIZERS", "SCHEDULERS",
           "DATASETS", "MODEL_NAMES", "RESUMABLE_OVERRIDES"]

#: Default number of epochs of ``minicnn train``: chosen so the whole run (training, and
#: validation + test evaluation after each epoch) takes a few minutes on a laptop's CPU and
#: reaches about 90 % test accuracy (benchmarks/HISTORY.md, "The default run").
DEFAULT_EPOCHS = 5

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("plateau", "step", "cosine", "none")
#: The data sets ``--dataset`` takes ("folder": the student's own images, ``--data-dir``).
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder")
#: The models ``--model`` takes (minicnn.models.MODELS; listed here without importing NumPy).
MODEL_NAMES = ("cnn", "gapcnn", "lenet5", "resnet20", "resnet32", "resnet56")

#: Default thread count for BLAS and Numba during training: "auto", as many threads as there
#: are idle cores when the run starts (minicnn/cores.py; $MINICNN_THREADS fixes it). Threads
#: help only on idle cores (benchmarks/RESULTS.md, "Threads"). The count used is written to
#: config.json; runs repeat bit for bit at the same count (with more threads the direct and Winograd dL/dW add one
#: partial sum per thread, so its last bits depend on the count). ``--threads 1`` pins one.
DEFAULT_THREADS = "auto"

#: Settings that may differ when a run is resumed (they do not change the numbers).
RESUMABLE_OVERRIDES = ("epochs", "threads", "progress", "figures", "data_dir", "download")


@dataclass
class TrainConfig:
    """Everything that defines a training run; the defaults are the lecture's recipe.

    Model: the lecture's ``CNN`` (section 7), ``dropout=0.4`` (``model`` picks another of
    ``MODEL_NAMES``). Optimiser: ``Adam(lr=1e-3, weight_decay=1e-4)``. Scheduler:
    ``ReduceLROnPlateau(patience=3, factor=0.5)`` on the validation loss. Loss:
    ``CrossEntropyLoss(label_smoothing=0.0)`` (the same criterion measures the validation and
    test losses). Data: Fashion-MNIST (``dataset`` picks another of ``DATASETS``), batch 64;
    training images augmented with RandomHorizontalFlip + RandomCrop(size, padding=size // 14)
    (section 9; ColorJitter too for RGB images); every split normalised with mean 0.286, std
    0.353 for Fashion-MNIST, else (``mean``/``std`` None) with the training images' own
    per-channel statistics, which the run writes into its config.json; ``val_size`` of the
    training images held out (seeded) for validation, at most a tenth of them.
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
    label_smoothing: float = 0.0     # CrossEntropyLoss(label_smoothing=...), as in PyTorch
    augment: bool = True
    mean: float | list | None = None     # None: 0.286 for Fashion-MNIST, else measured
    std: float | list | None = None      # (per channel, from the training images)
    val_size: int = 5000
    subset: int | None = None        # train on the first N (shuffled, seeded) training images
    test_subset: int | None = None   # score N test images (stratified, seeded): quick runs
    seed: int = 0
    conv_method: str = DEFAULT_METHOD    # one of minicnn.functional.conv.CONV_METHODS
    model: str = "cnn"               # one of MODEL_NAMES
    dataset: str = "fashion-mnist"   # one of DATASETS
    image_size: int | None = None    # folder: resize every image to this square size
    grayscale: bool = False          # folder: read the images as grey (1 channel)
    data_dir: str | None = None
    sample: bool = False             # force the sample bundled in the package
    download: bool = True
    out: str | None = None           # run directory; default runs/<timestamp>
    threads: int | str | None = DEFAULT_THREADS  # N, "auto" (idle cores), None (as they are)
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
        need(self.conv_method in CONV_METHODS,
             f"conv_method must be one of {', '.join(CONV_METHODS)}; got {self.conv_method!r}")
        need(isinstance(self.epochs, int) and self.epochs >= 1,
             f"epochs must be an integer >= 1; got {self.epochs!r}")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1,
             f"batch_size must be an integer >= 1; got {self.batch_size!r}")
        need(self.lr > 0 and math.isfinite(self.lr), f"lr must be > 0; got {self.lr!r}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0; got {self.weight_decay!r}")
        need(0 <= self.dropout < 1, f"dropout must be in [0, 1); got {self.dropout!r}")
        need(0 <= self.label_smoothing <= 1,
             f"label_smoothing must be in [0, 1]; got {self.label_smoothing!r}")
        need(self.model in MODEL_NAMES,
             f"model must be one of {', '.join(MODEL_NAMES)}; got {self.model!r}")
        need(self.dataset in DATASETS,
             f"dataset must be one of {', '.join(DATASETS)}; got {self.dataset!r}")
        need(self.dataset != "folder" or self.data_dir is not None,
             "dataset 'folder' reads your own images: give the folder with data_dir "
             "(--data-dir DIR, holding one sub-folder of images per class)")
        need(not self.sample or self.dataset == "fashion-mnist",
             f"the bundled sample is Fashion-MNIST's; it cannot stand in for {self.dataset}")
        need(self.image_size is None or (isinstance(self.image_size, int)
                                         and self.image_size >= 8),
             f"image_size must be an integer >= 8 or None; got {self.image_size!r}")
        need((self.mean is None) == (self.std is None),
             "give both mean and std, or neither (then they are measured on the training "
             "images)")
        stds = [] if self.std is None else np.atleast_1d(np.asarray(self.std, float))
        need(all(s > 0 for s in stds), f"std must be > 0; got {self.std!r}")
        need(isinstance(self.val_size, int) and self.val_size >= 1,
             f"val_size must be an integer >= 1; got {self.val_size!r}")
        need(self.subset is None or (isinstance(self.subset, int) and self.subset >= 1),
             f"subset must be an integer >= 1; got {self.subset!r}")
        need(self.test_subset is None
             or (isinstance(self.test_subset, int) and self.test_subset >= 1),
             f"test_subset must be an integer >= 1; got {self.test_subset!r}")
        need(self.threads is None or self.threads == "auto"
             or (isinstance(self.threads, int) and not isinstance(self.threads, bool)
                 and self.threads >= 1),
             f"threads must be an integer >= 1, 'auto' or None; got {self.threads!r}")
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
