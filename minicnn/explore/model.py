"""One checkpoint opened for exploring: the model rebuilt from its file, its forward pass with
every layer's output kept, and the explanations of ``minicnn.explain``.

``ExploredModel(path)`` reads any checkpoint ``minicnn train`` writes (and one saved by hand
with ``minicnn.save`` for any model of ``minicnn.models``). ``run(pixels)`` normalises an image
as the run did and runs the model's own ``forward``, recording each leaf layer's input and
output as the model computed them (``record_layers``): what the page shows are those arrays,
never a re-computation. A model may be any tree of modules; nothing here knows the lecture's
CNN.
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minicnn.train.datasets import normalisation

__all__ = ["CheckpointError", "ExploredModel", "LayerRecord", "MODEL_INPUT", "record_layers",
           "softmax"]

#: ``LayerRecord.source`` of a layer that reads the model's input
MODEL_INPUT = -1


class CheckpointError(ValueError):
    """A checkpoint the explorer cannot open; the message says which file and why."""


@dataclass
class LayerRecord:
    """One leaf layer as it ran: its dotted name (``conv_block1.0``), the module, and its input
    and output for the batch (copies, so later layers cannot change them)."""

    name: str
    module: object
    input: np.ndarray
    output: np.ndarray
    #: index of the record whose output is this layer's input; ``MODEL_INPUT`` for the model's
    #: input; None for an array no layer produced (a residual sum, say)
    source: int | None = None


def _is_leaf(module) -> bool:
    return next(iter(module.children()), None) is None


@contextmanager
def record_layers(model):
    """Inside the block, every leaf layer of ``model`` appends a ``LayerRecord`` to the yielded
    list each time it runs.

    Each leaf's ``forward`` is wrapped for the duration (an instance attribute shadowing the
    class's method, removed on exit), so this works for any model, whatever its own
    ``forward`` does with its children.
    """
    records: list[LayerRecord] = []
    # (array as passed or returned, record index): the model's input, then each layer's output
    produced: list[tuple[object, int]] = []
    leaves = [(name, module) for name, module in model.named_modules() if _is_leaf(module)]

    def wrap(name, module, forward):
        def recorded(x, *args, **kwargs):
            if not records and not produced:          # the first leaf of a leaf-only model
                produced.append((x, MODEL_INPUT))
            out = forward(x, *args, **kwargs)
            source = next((index for array, index in reversed(produced) if array is x), None)
            produced.append((out, len(records)))
            records.append(LayerRecord(name, module, np.array(x, copy=True),
                                       np.array(out, copy=True), source))
            return out
        return recorded

    def wrap_model(forward):
        def recorded(x, *args, **kwargs):
            produced.append((x, MODEL_INPUT))
            return forward(x, *args, **kwargs)
        return recorded

    for name, module in leaves:
        object.__setattr__(module, "forward", wrap(name, module, module.forward))
    if not _is_leaf(model):
        object.__setattr__(model, "forward", wrap_model(model.forward))
    try:
        yield records
    finally:
        for module in [module for _, module in leaves] + [model]:
            module.__dict__.pop("forward", None)
        produced.clear()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64: p_k = exp(z_k - max z) / sum_j exp(z_j - max z)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)




class ExploredModel:
    """A checkpoint, loaded for the explorer.

    Parameters
    ----------
    path : a ``.npz`` checkpoint (``runs/RUN/last.npz``)
    data_dir, sample : where the test images are (as ``minicnn evaluate``); by default the
        run's own setting, else the usual places, else the sample bundled in the package

    Attributes
    ----------
    model : the network, in evaluation mode
    classes : list of class names
    mean, std : the normalisation of the run (lists, one per channel)
    in_channels, input_size : what the model takes: (C, (H, W))
    epoch : the checkpoint's epoch (None for one saved by hand)
    lock : hold it while using ``model`` (the layers keep caches between forward and backward)

    Raises
    ------
    CheckpointError : missing file, not a checkpoint, a damaged one, or a model class this
        minicnn does not have
    """

    def __init__(self, path, *, data_dir=None, sample: bool = False):
        from minicnn.train.evaluation import load_checkpoint_model

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"checkpoint {self.path} does not exist (pass a .npz file "
                                  f"written by minicnn train, e.g. runs/RUN/last.npz)")
        try:
            self.model, config, meta = load_checkpoint_model(self.path, data_dir=data_dir,
                                                             sample=sample)
        except (ValueError, TypeError, KeyError, OSError) as exc:
            raise CheckpointError(" ".join(str(exc).split())) from None
        model_class = meta["model_class"]
        # the test images: never downloaded by the explorer (offline), the run's data else
        # the usual places else the bundled sample
        ran_on_sample = bool((meta.get("config") or {}).get("sample"))
        self.config = dataclasses.replace(config, sample=bool(sample or ran_on_sample),
                                          download=False)
        network = meta.get("network") or {}
        self.in_channels = int(network.get("in_channels", 1))
        num_classes = int(network.get("num_classes", 10))
        self.model.eval()
        self.model_class = model_class
        self.epoch = meta.get("epoch")
        saved_classes = meta.get("classes")
        self.classes = [str(c) for c in saved_classes] if saved_classes is not None else None
        self.num_classes = num_classes
        self.mean, self.std = normalisation(self.config)
        self.input_size = tuple(int(v) for v in network.get("image_size", (28, 28)))
        # one image as the data set stores it: (H, W) grey, (H, W, C) colour
        self.image_shape = self.input_size + ((self.in_channels,) if self.in_channels > 1
                                              else ())
        self.lock = threading.RLock()
        self._randomised = None
        self._predictions = None
        # the first call of a minicnn model traces it (design checks, compiles kernels):
        # done now, so the first page load is as fast as the next
        self.run(np.zeros(self.image_shape, dtype=np.uint8))

    def warm_up(self) -> None:
        """Run the explanations once (the first backward passes compile and allocate), so the
        page's first request is as fast as the next."""
        self.explain(np.zeros(self.image_shape, dtype=np.uint8), smoothgrad=1)

    # -- input -------------------------------------------------------------------------------

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 images (H, W), (H, W, C), (N, H, W) or (N, H, W, C) -> the model's float input
        (N, C, H, W): x = (pixels / 255 - mean) / std, as the run's evaluation transform."""
        from minicnn.train import make_transforms
        pixels = np.asarray(pixels)
        if pixels.ndim == 2 or (pixels.ndim == 3 and self.in_channels > 1
                                and pixels.shape[-1] == self.in_channels
                                and pixels.shape[:2] == self.input_size):
            pixels = pixels[None]
        evaluation = make_transforms(self.config, self.image_shape)[1]
        return evaluation(np.ascontiguousarray(pixels, dtype=np.uint8))

    # -- the forward pass, recorded ----------------------------------------------------------

    def run(self, pixels: np.ndarray):
        """``(x, logits, records)`` for one image: the normalised input (1, C, H, W), the
        logits (1, K) and a ``LayerRecord`` per leaf layer, in the order they ran."""
        x = self.normalise(pixels)
        with self.lock, record_layers(self.model) as records:
            logits = self.model(x)
        return x, np.array(logits, copy=True), list(records)

    def predict(self, pixels: np.ndarray) -> dict:
        """The prediction and every layer's output for one image.

        Returns
        -------
        dict with ``probabilities`` (K,), ``logits`` (K,), ``predicted`` (int), ``input``
        (C, H, W, the normalised image) and ``layers``: one dict per leaf layer that ran,
        ``name``, ``type``, ``description``, ``output`` (the layer's output for the image:
        (C, h, w) maps or (F,) activations)
        """
        x, logits, records = self.run(pixels)
        probabilities = softmax(logits[0])
        layers = [dict(name=r.name, type=type(r.module).__name__, description=_describe(r),
                       output=r.output[0]) for r in records]
        return dict(probabilities=probabilities, logits=logits[0].astype(np.float64),
                    predicted=int(np.argmax(logits[0])), input=x[0], layers=layers)

    def conv_arithmetic(self, pixels, layer: str, channel: int, row: int, col: int) -> dict:
        """How one value of a Conv2d's map was computed (``minicnn.explore.arithmetic``)."""
        from minicnn.explore.arithmetic import conv_arithmetic
        _, _, records = self.run(pixels)
        return conv_arithmetic(records, layer, channel, row, col)

    # -- explanations ------------------------------------------------------------------------

    def explain(self, pixels, target=None, *, smoothgrad: int = 8, sanity: bool = False,
                seed: int = 0) -> dict:
        """Saliency, SmoothGrad, Grad-CAM and occlusion of one image for class ``target``
        (default: the predicted class), from ``minicnn.explain``.

        With ``sanity=True`` the same maps from a copy of the model whose Conv2d and Linear
        weights are re-drawn at random (``explain.randomise_weights``, seed ``seed``), and the
        rank correlation of each pair (Adebayo et al., 2018: a map that does not change
        explains the image, not the model).

        Returns
        -------
        dict with ``target``, ``predicted``, ``maps`` {method: (H, W) array or None}, ``notes``
        {method: why a map is missing}, and with ``sanity``: ``randomised`` (maps) and
        ``correlation`` {method: Spearman's rho}
        """
        from minicnn import explain
        x = self.normalise(pixels)
        with self.lock:
            logits = self.model(x)
            predicted = int(np.argmax(logits[0]))
            target = predicted if target is None else int(target)
            if not 0 <= target < self.num_classes:
                raise ValueError(f"target {target} is out of range: the model has "
                                 f"{self.num_classes} classes (0 to {self.num_classes - 1})")
            maps, notes = _explanations(explain, self.model, x, target, smoothgrad, seed)
            result = dict(target=target, predicted=predicted, maps=maps, notes=notes)
            if sanity:
                if self._randomised is None:
                    self._randomised = explain.randomise_weights(self.model, rng=seed)
                randomised, _ = _explanations(explain, self._randomised, x, target,
                                              smoothgrad, seed)
                result["randomised"] = randomised
                result["correlation"] = {
                    method: (None if maps[method] is None or randomised[method] is None
                             else _finite(explain.rank_correlation(maps[method],
                                                                   randomised[method])))
                    for method in maps}
        return result

    # -- the test set ------------------------------------------------------------------------

    def test_predictions(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Predicted classes of uint8 test images (N, H, W), computed once and kept."""
        if self._predictions is None or len(self._predictions) != len(images):
            with self.lock:
                self._predictions = np.concatenate([
                    np.argmax(self.model(self.normalise(images[i:i + batch_size])), axis=1)
                    for i in range(0, len(images), batch_size)])
        return self._predictions

    def describe(self) -> dict:
        """What the page needs to know of the model before any input: its name, classes,
        normalisation and layers (name, type, description)."""
        from minicnn import explain
        try:
            cam_layer = explain.default_cam_layer(self.model)
        except (TypeError, ValueError):
            cam_layer = None
        _, _, records = self.run(np.zeros(self.image_shape, dtype=np.uint8))
        return dict(
            name=f"{self.path.parent.name}/{self.path.name}" if self.path.parent.name
            else self.path.name,
            model_class=self.model_class, epoch=self.epoch, classes=self.classes,
            num_classes=self.num_classes,
            mean=self.mean, std=self.std, in_channels=self.in_channels,
            input_size=list(self.input_size), grad_cam_layer=cam_layer,
            parameters=int(sum(p.data.size for p in self.model.parameters())),
            layers=[dict(name=r.name, type=type(r.module).__name__, description=_describe(r),
                         shape=list(r.output.shape[1:])) for r in records])


def _finite(value: float):
    return None if value is None or not np.isfinite(value) else float(value)


def _explanations(explain, model, x, target, smoothgrad, seed):
    maps, notes = {}, {}
    maps["saliency"] = explain.saliency(model, x, target)[0]
    maps["smoothgrad"] = explain.saliency(model, x, target, samples=smoothgrad,
                                          rng=seed)[0] if smoothgrad else None
    try:
        maps["grad_cam"] = explain.grad_cam(model, x, target)[0]
    except (TypeError, ValueError) as exc:      # no conv layer, or not a chain of layers
        maps["grad_cam"], notes["grad_cam"] = None, " ".join(str(exc).split())
    maps["occlusion"] = explain.occlusion(model, x, target)[0]
    return {k: (None if v is None else np.asarray(v, dtype=np.float64))
            for k, v in maps.items()}, notes


def _describe(record: LayerRecord) -> str:
    """The layer as ``repr`` shows it, on one line (``Conv2d(1, 32, kernel_size=(3, 3), ...)``)."""
    text = " ".join(repr(record.module).split())
    return text if len(text) <= 90 else text[:87] + "..."



