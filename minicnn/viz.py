"""Figures that show what a CNN learned and how training went.

Each function returns a matplotlib ``Figure`` (so a notebook shows it and a script can keep
editing it) and, given ``save="path.png"``, also writes it to disk:

    plot_curves(metrics)                           loss and accuracy per epoch
    plot_confusion_matrix(cm, class_names)         which classes get confused with which
    plot_filters(weight)                           the first layer's kernels (section 8)
    plot_feature_maps(model, image)                one image through both conv blocks
    plot_misclassified(images, true, pred, names)  the test images the model got wrong
    plot_explanations(model, images, labels, names)  saliency, Grad-CAM, occlusion per image

On a machine without a display (a server, CI) the non-interactive Agg backend is selected on
import, unless a backend was chosen already (``MPLBACKEND``, a notebook's inline backend).
"""

from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np


def _headless() -> bool:
    if sys.platform.startswith(("win", "darwin")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if ("MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules
        and "ipykernel" not in sys.modules and _headless()):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

__all__ = ["plot_curves", "plot_confusion_matrix", "plot_filters", "plot_feature_maps",
           "plot_misclassified", "plot_explanations", "read_metrics", "save_figure"]

_SPLIT_STYLE = {"train": dict(color="tab:blue", marker="o"),
                "val": dict(color="tab:orange", marker="s"),
                "test": dict(color="tab:green", marker="^", linestyle="--")}


def save_figure(fig, path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (PNG unless the suffix says otherwise); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _finish(fig, save):
    if save is not None:
        save_figure(fig, save)
    return fig


def read_metrics(path) -> dict[str, np.ndarray]:
    """Read a run's ``metrics.csv`` into ``{column: float array}`` (empty cells become NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no epochs yet")
    return {key: np.array([float(row[key]) if row[key] not in ("", None) else np.nan
                           for row in rows]) for key in rows[0]}


def _as_columns(metrics) -> dict[str, np.ndarray]:
    """Accept a csv path, a list of per-epoch dicts, or a dict of per-epoch lists."""
    if isinstance(metrics, (str, os.PathLike)):
        return read_metrics(metrics)
    if isinstance(metrics, dict):
        return {k: np.asarray(v, dtype=float) for k, v in metrics.items()}
    rows = list(metrics)
    if not rows:
        raise ValueError("plot_curves: no epochs to plot (the metrics are empty)")
    return {k: np.array([float(r.get(k, np.nan)) for r in rows]) for k in rows[0]}


def plot_curves(metrics, *, title: str | None = None, save=None):
    """Loss and accuracy per epoch for the train, validation and test splits.

    Parameters
    ----------
    metrics : path to a run's ``metrics.csv``, a list of per-epoch dicts (``train_loss``,
        ``val_acc``, ...), or a dict of per-epoch lists. Missing splits are skipped.
    title : optional figure title
    save : optional path to write the figure to

    Returns
    -------
    matplotlib Figure with two axes: "Loss" (cross-entropy) and "Accuracy" (%)
    """
    cols = _as_columns(metrics)
    n = len(next(iter(cols.values())))
    epochs = cols.get("epoch", np.arange(1, n + 1))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for split, style in _SPLIT_STYLE.items():
        label = {"val": "validation"}.get(split, split)
        if f"{split}_loss" in cols and np.isfinite(cols[f"{split}_loss"]).any():
            ax_loss.plot(epochs, cols[f"{split}_loss"], label=label, **style)
        if f"{split}_acc" in cols and np.isfinite(cols[f"{split}_acc"]).any():
            acc = cols[f"{split}_acc"]
            ax_acc.plot(epochs, 100 * acc if np.nanmax(acc) <= 1 else acc, label=label,
                        **style)
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="cross-entropy loss")
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if "lr" in cols and n > 1 and np.ptp(cols["lr"]) > 0:
        # Mark the epochs where the scheduler changed the learning rate.
        for e in epochs[1:][np.diff(cols["lr"]) != 0]:
            for ax in (ax_loss, ax_acc):
                ax.axvline(e, color="grey", linestyle=":", linewidth=1)
        ax_loss.plot([], [], color="grey", linestyle=":", label="lr changed")
        ax_loss.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


def plot_confusion_matrix(cm, class_names=None, *, normalize: bool = True,
                          title: str = "Confusion matrix", save=None):
    """Heat map of ``cm[true, predicted]`` counts, annotated, rows labelled with class names.

    Parameters
    ----------
    cm : (K, K) array of counts; row = true class, column = predicted class
    class_names : K names (default "0".."K-1")
    normalize : colour and annotate each row as a fraction of that class's images (the
        diagonal is then the per-class accuracy); counts are shown when False
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: cm must be a square (K, K) array, "
                         f"got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a "
                         f"{k}x{k} confusion matrix")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        shown = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)
    else:
        shown = cm
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.6 + 0.7 * k), constrained_layout=True)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label="fraction of the true class" if normalize else "images")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class", title=title)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    threshold = 0.5 if normalize else np.nanmax(shown) / 2  # white text on dark cells
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > threshold else "black")
    return _finish(fig, save)


def _grid(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _as_array(value) -> np.ndarray:
    """A Parameter, a layer with ``.weight``, or an array -> the NumPy array."""
    if hasattr(value, "weight") and not isinstance(value, np.ndarray):
        value = value.weight
    if hasattr(value, "data") and not isinstance(value, np.ndarray):
        value = value.data
    return np.asarray(value)


def plot_filters(weight, *, title: str = "First-layer filters", save=None):
    """Each output channel's kernel as a small grey image (section 8: edge, gradient and
    texture detectors).

    Parameters
    ----------
    weight : (C_out, C_in, kH, kW) array, or a Conv2d / its weight Parameter. With C_in > 1
        the kernels are averaged over input channels (shown as one image per output channel).
    """
    w = _as_array(weight)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (C_out, C_in, kH, kW), "
                         f"got shape {w.shape}")
    kernels = w.mean(axis=1) if w.shape[1] > 1 else w[:, 0]
    cols = min(8, len(kernels))
    rows = math.ceil(len(kernels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.5),
                             squeeze=False, constrained_layout=True)
    limit = float(np.abs(kernels).max()) or 1.0
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index < len(kernels):
            # One symmetric colour scale for every kernel: white = positive, black = negative.
            ax.imshow(kernels[index], cmap="gray", vmin=-limit, vmax=limit)
            ax.set_title(str(index), fontsize=7, pad=2)
        else:
            ax.axis("off")
    note = "" if w.shape[1] == 1 else f", mean over {w.shape[1]} input channels"
    fig.suptitle(f"{title} ({w.shape[0]} x {w.shape[2]}x{w.shape[3]}{note})")
    return _finish(fig, save)


def _image_for_display(image: np.ndarray) -> np.ndarray:
    """(H, W) grey, or (H, W, 3) colour in [0, 1], from a tensor (C, H, W), a
    data set's channels-last image (H, W, C), or either with leading axes of size 1."""
    raw = np.asarray(image)
    img = raw.astype(float) / 255.0 if raw.dtype == np.uint8 else raw.astype(float)
    while img.ndim > 2 and img.shape[0] == 1:
        img = img[0]
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:   # (C, H, W) -> (H, W, C)
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3:
        if img.min() < 0 or img.max() > 1:     # normalised: stretched back to [0, 1] to show
            img = (img - img.min()) / max(img.max() - img.min(), 1e-12)
    return img


def _conv_blocks(model, image):
    """The stages whose outputs plot_feature_maps shows, as ``(name, callable)`` run in order:
    the lecture CNN's ``conv_block1`` and ``conv_block2``; for another chain of layers
    (``minicnn.explain.layer_sequence``), the conv stage cut after each pooling layer, or,
    with residual blocks, after the last block of each size (ResNet's layer1.2, ...)."""
    blocks = [(name, getattr(model, name)) for name in ("conv_block1", "conv_block2")
              if hasattr(model, name)]
    if blocks:
        return blocks
    from minicnn import nn
    from minicnn.explain import is_block, layer_sequence
    try:
        layers = layer_sequence(model)
    except TypeError:
        layers = []
    shapes, out = [], image
    for name, layer in layers:                       # each layer's output shape, in order
        out = layer(out)
        shapes.append(out.shape)
        if out.ndim != 4:
            break
    cuts = [i for i, (_, layer) in enumerate(layers[:len(shapes)]) if len(shapes[i]) == 4 and (
        isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d))
        or (is_block(layer) and (i + 1 >= len(shapes) or shapes[i + 1] != shapes[i])))]
    if not cuts:
        raise ValueError(f"plot_feature_maps: no conv stage found in {type(model).__name__}; "
                         f"pass blocks=[(name, callable), ...] (callables run in order)")
    stages, start = [], 0
    for cut in cuts:
        segment = [layer for _, layer in layers[start:cut + 1]]
        stages.append((layers[cut][0], lambda x, segment=segment: _run_chain(segment, x)))
        start = cut + 1
    return stages


def _run_chain(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def plot_feature_maps(model, image, *, blocks=None, max_channels: int = 16,
                      title: str | None = None, save=None):
    """One image through the conv blocks: the input and each block's output channels.

    The model runs in eval mode (BatchNorm uses its running statistics, nothing is updated)
    and is put back in its previous mode afterwards.

    Parameters
    ----------
    model : the lecture's CNN (``conv_block1``, ``conv_block2``), another model of
        ``minicnn.models`` (its conv stage, cut after each pooling or stage of blocks), or any
        module if ``blocks`` is given
    image : (H, W), (C, H, W) or (1, C, H, W) float array, already normalised as in training
    blocks : optional list of ``(name, callable)`` run in order; default the CNN's conv blocks
    max_channels : how many channels of each block to show (the first ones)
    """
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"plot_feature_maps: image must be (H, W), (C, H, W) or (1, C, H, W), "
                         f"got shape {np.shape(image)}")
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        blocks = _conv_blocks(model, x) if blocks is None else list(blocks)
        maps = []
        out = x
        for name, block in blocks:
            out = block(out)
            maps.append((name, np.asarray(out[0])))
    finally:
        if was_training:
            model.train()

    shown = [min(max_channels, m.shape[0]) for _, m in maps]
    cols = 8
    rows_per_block = [math.ceil(s / cols) for s in shown]
    height_ratios = [2.0] + [r for r in rows_per_block]
    fig = plt.figure(figsize=(1.3 * cols, 1.3 * (sum(rows_per_block) + 2) + 0.6),
                     constrained_layout=True)
    sub = fig.subfigures(len(maps) + 1, 1, height_ratios=height_ratios)
    ax = sub[0].subplots()
    ax.imshow(_image_for_display(x[0]), cmap="gray")
    ax.set_title(f"input {tuple(x.shape[1:])}")
    ax.set_xticks([])
    ax.set_yticks([])
    for (name, fmap), count, rows, panel in zip(maps, shown, rows_per_block, sub[1:]):
        axes = panel.subplots(rows, cols, squeeze=False)
        for index, a in enumerate(axes.flat):
            a.set_xticks([])
            a.set_yticks([])
            if index < count:
                a.imshow(fmap[index], cmap="viridis")
                a.set_title(f"ch {index}", fontsize=7, pad=2)
            else:
                a.axis("off")
        panel.suptitle(f"{name}: output {tuple(fmap.shape)} (first {count} channels)")
    fig.suptitle(title or "Feature maps of one image")
    return _finish(fig, save)


def plot_misclassified(images, true, pred, class_names=None, *, max_images: int = 25,
                       title: str = "Misclassified images", save=None):
    """A grid of images, each titled "true -> predicted" (the true class first).

    Parameters
    ----------
    images : (N, H, W) or (N, C, H, W) array; usually only the misclassified ones, but any
        images with ``true != pred`` are picked out, so the whole test set works too
    true, pred : (N,) integer class indices
    class_names : names indexed by class (default the indices)
    max_images : show at most this many (the first ones)
    """
    images = np.asarray(images)
    true = np.asarray(true).reshape(-1)
    pred = np.asarray(pred).reshape(-1)
    if not (len(images) == len(true) == len(pred)):
        raise ValueError(f"plot_misclassified: {len(images)} images, {len(true)} true labels "
                         f"and {len(pred)} predictions; all three must have the same length")
    wrong = np.flatnonzero(true != pred)[:max_images]

    def name(c):
        return str(class_names[c]) if class_names is not None else str(c)

    rows, cols = _grid(max(len(wrong), 1))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows + 0.4), squeeze=False,
                             constrained_layout=True)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index < len(wrong):
            i = wrong[index]
            ax.imshow(_image_for_display(images[i]), cmap="gray")
            ax.set_title(f"{name(true[i])}\n-> {name(pred[i])}", fontsize=8, color="tab:red")
        else:
            ax.axis("off")
    if not len(wrong):
        axes.flat[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    fig.suptitle(f"{title} ({int((true != pred).sum())} of {len(true)}; true -> predicted)")
    return _finish(fig, save)


def _unit_range(values: np.ndarray) -> np.ndarray:
    """Scale a map to [0, 1] by its maximum (an all-zero map stays zero)."""
    top = float(np.max(values))
    return values / top if top > 0 else np.zeros_like(values)


def plot_explanations(model, images, labels=None, class_names=None, *, explanations=None,
                      samples: int = 0, rng=None, title: str = "Why did it say that?",
                      save=None):
    """One row per image: the image, its saliency, Grad-CAM over the image, and occlusion.

    Columns, all for the class the model predicted (``minicnn.explain``, score = the logit):

    - image, titled with the true class (if ``labels``) and the prediction with its softmax
      probability (red when wrong);
    - saliency |dz/dx| (max over channels; SmoothGrad when ``samples > 0``), white = large;
    - Grad-CAM on the last conv block, scaled to its maximum, drawn over the image;
    - occlusion: how far the logit falls when a 6x6 patch covers each place; red = the
      region supported the class, blue = it spoke against it (one symmetric scale per row).

    Parameters
    ----------
    model : the trained model (run in eval mode, left as it was)
    images : (N, C, H, W) float array, normalised as in training
    labels : optional (N,) true classes
    class_names : names indexed by class (default the indices)
    explanations : a ``minicnn.explain.Explanations`` for these images, to skip computing it
    samples, rng : SmoothGrad's noisy copies and their generator (``explain.saliency``)
    title, save : figure title; optional path to write the figure to

    Returns
    -------
    matplotlib Figure with N rows of 4 axes
    """
    from minicnn import explain

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"plot_explanations: images must be a batch (N, C, H, W), got shape "
                         f"{images.shape}")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"plot_explanations: {len(labels)} labels for {len(images)} "
                             f"images; give one true class per image")
    if explanations is None:
        explanations = explain.explain_batch(model, images, samples=samples, rng=rng)

    def name(c):
        return str(class_names[c]) if class_names is not None else str(c)

    layer = explain.default_cam_layer(model)
    gradient = f"SmoothGrad ({samples} copies)" if samples else "saliency |dz/dx|"
    columns = ("image", gradient, f"Grad-CAM ({layer})", "occlusion (drop in z)")
    fig, axes = plt.subplots(len(images), 4, figsize=(8.4, 2.2 * len(images) + 0.5),
                             squeeze=False, constrained_layout=True)
    for n, row in enumerate(axes):
        picture = _image_for_display(images[n])
        predicted = int(explanations.predicted[n])
        text = f"pred {name(predicted)} ({100 * explanations.probability[n]:.0f}%)"
        wrong = labels is not None and int(labels[n]) != predicted
        if labels is not None:
            text = f"true {name(int(labels[n]))}\n{text}"
        row[0].imshow(picture, cmap="gray")
        row[0].set_title(text, fontsize=8, color="tab:red" if wrong else "black")
        row[1].imshow(explanations.saliency[n], cmap="gray")
        row[2].imshow(picture, cmap="gray")
        if np.max(explanations.grad_cam[n]) > 0:
            row[2].imshow(_unit_range(explanations.grad_cam[n]), cmap="jet", alpha=0.5,
                          vmin=0, vmax=1)
        else:       # every weighted map summed to <= 0: ReLU leaves nothing to show
            row[2].text(0.5, 0.05, "0 everywhere", transform=row[2].transAxes, ha="center",
                        fontsize=7, color="white", backgroundcolor="black")
        limit = float(np.abs(explanations.occlusion[n]).max()) or 1.0
        shown = row[3].imshow(explanations.occlusion[n], cmap="RdBu_r", vmin=-limit,
                              vmax=limit)
        fig.colorbar(shown, ax=row[3], fraction=0.046, pad=0.04)
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if n == 0 and column > 0:
                ax.set_title(columns[column], fontsize=8)
    fig.suptitle(title)
    return _finish(fig, save)
