"""``evaluate_checkpoint``: rebuild the model a ``minicnn train`` checkpoint describes and test
it (``minicnn evaluate``); ``load_checkpoint_model``, the rebuilding alone (``minicnn explain``,
``minicnn explore``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from minicnn.malloc import keep_freed_memory
from minicnn.train.build import build_criterion, build_model
from minicnn.train.config import TrainConfig
from minicnn.train.datasets import load_datasets, make_transforms, open_split
from minicnn.train.loop import evaluate
from minicnn.train.metrics import confusion_matrix, per_class_accuracy

__all__ = ["evaluate_checkpoint", "load_checkpoint_model"]


def load_checkpoint_model(path, *, data_dir=None, sample: bool = False):
    """Rebuild the model a ``train`` checkpoint describes (any of ``minicnn.models.MODELS``)
    and load its weights.

    Returns
    -------
    (model, config, meta) : the loaded model; the run's ``TrainConfig`` (the default recipe for
    a checkpoint saved by hand) with ``data_dir`` and ``sample`` set as given, so
    ``open_split(config, "test", log)`` and ``make_transforms(config)`` read the test images
    as the run did; and the checkpoint's metadata (``epoch``, ``config``, ...)
    """
    import minicnn

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        meta = minicnn.load(path)
    except Exception as exc:  # not an npz, truncated, written by something else
        raise ValueError(f"{path} is not a minicnn checkpoint ({' '.join(str(exc).split())})"
                         ) from None
    # A checkpoint written by `minicnn train` describes its run; one saved by hand gets the
    # default recipe, and its model is read off the class and the weights it holds.
    if isinstance(meta.get("config"), dict):
        config = TrainConfig.from_dict(meta["config"])
        network = meta.get("network") or {}
    else:
        config, network = _hand_saved(meta, path)
        meta["network"] = network              # what the weights say, for the callers too
    if data_dir is None and config.dataset == "folder":
        data_dir = config.data_dir             # the student's own images: where the run read them
    config = dataclasses.replace(config, data_dir=data_dir, sample=bool(sample))
    image_size = network.get("image_size", [28, 28])
    model = build_model(config, num_classes=int(network.get("num_classes", 10)),
                        in_channels=int(network.get("in_channels", 1)),
                        image_size=int(image_size[0]))
    if meta.get("model_class") != type(model).__name__:
        raise ValueError(f"{path} holds a {meta.get('model_class')}, but its run describes "
                         f"the model {config.model!r} ({type(model).__name__}); minicnn "
                         f"evaluate, explain and explore read checkpoints written by minicnn "
                         f"train")
    try:
        minicnn.load(path, model=model)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path} does not fit {type(model).__name__}: "
                         f"{' '.join(str(exc).split())}") from None
    return model, config, meta


_MODEL_NAMES = {"CNN": "cnn", "GAPCNN": "gapcnn", "LeNet5": "lenet5"}


def _hand_saved(meta, path):
    """``(config, network)`` of a checkpoint saved with ``minicnn.save`` alone: the default
    recipe with the model its class names, the channels of its first convolution, the
    classes of its last bias (and ResNet's depth from its blocks, LeNet-5's image size from
    its first Linear)."""
    state = meta["state_dict"]
    model_class = meta.get("model_class")
    convs = [value for key, value in state.items() if key.endswith("weight")
             and np.ndim(value) == 4]
    biases = [value for key, value in state.items() if key.endswith("bias")
              and np.ndim(value) == 1]
    network = {"in_channels": int(np.shape(convs[0])[1]) if convs else 1,
               "num_classes": int(np.shape(biases[-1])[0]) if biases else 10}
    if model_class == "ResNet":
        blocks = {key.split(".")[1] for key in state if key.startswith("layer1.")}
        name = f"resnet{6 * len(blocks) + 2}"
        network["image_size"] = [28, 28] if network["in_channels"] == 1 else [32, 32]
    elif model_class in _MODEL_NAMES:
        name = _MODEL_NAMES[model_class]
        if name == "lenet5":
            side = int(round(np.sqrt(np.shape(state["classifier.1.weight"])[1] / 16)))
            network["image_size"] = [4 * side + 8] * 2       # (size // 2 - 4) // 2 = side
    else:
        raise ValueError(f"{path} holds a {model_class}, which minicnn.models does not "
                         f"define ({', '.join(sorted(set(_MODEL_NAMES) | {'ResNet'}))})")
    return TrainConfig(model=name), network


def evaluate_checkpoint(path, *, data_dir=None, sample: bool = False, batch_size: int = 500,
                        flip: bool = False, split: str = "test", log=None) -> dict:
    """Rebuild the CNN a ``train`` checkpoint describes, load it, and test it (with
    ``flip=True``: flip test-time augmentation, see ``minicnn.train.loop.evaluate``).

    ``split="val"`` scores the run's own validation images instead: the same seeded hold-out
    of the training set that the run set aside (its ``val_size`` and ``seed``), so a choice
    such as ``flip`` can be made without looking at the test set.

    Returns
    -------
    dict with ``loss`` (the run's criterion, so with its label smoothing), ``acc`` (0..1),
    ``per_class`` (accuracy per class), ``classes``, ``confusion`` (K x K counts), ``images``
    (how many), ``source`` (where the images came from), ``epoch`` (of the checkpoint),
    ``flip`` (whether flip TTA was used), ``split`` ("test" or "val")
    """
    from minicnn.data import DataLoader

    if split not in ("test", "val"):
        raise ValueError(f"evaluate_checkpoint: split must be 'test' or 'val', got {split!r}")
    model, config, meta = load_checkpoint_model(path, data_dir=data_dir, sample=sample)
    log = log or (lambda message: None)
    test = open_split(config, "test", log) if split == "test" else \
        load_datasets(config, log=log).val
    loader = DataLoader(test, batch_size=batch_size,
                        transform=make_transforms(config, test.images.shape[1:])[1])
    # as in train(): a batch's activations (50 MB for conv1 at 500 images) reused, not
    # page-faulted in again batch after batch (benchmarks/HISTORY.md, "Freed memory kept")
    keep_freed_memory()
    loss, acc, predictions = evaluate(model, loader, build_criterion(config), flip=flip)
    cm = confusion_matrix(test.labels, predictions, len(test.classes))
    return dict(loss=loss, acc=acc, per_class=per_class_accuracy(cm),
                classes=list(test.classes), confusion=cm, images=len(test),
                source=str(test.source), epoch=meta.get("epoch"), flip=bool(flip), split=split)
