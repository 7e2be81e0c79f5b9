"""The run directory's figures, drawn once training ends: one function writes them all.

To add a figure: its file name in ``FIGURES`` and a maker in ``write_figures``' table (a
function of no arguments returning a matplotlib Figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minicnn.train.datasets import Splits
from minicnn.train.metrics import confusion_matrix

__all__ = ["FIGURES", "write_figures"]

FIGURES = ("curves.png", "confusion_matrix.png", "filters.png", "feature_maps.png",
           "misclassified.png", "explanations.png")


def write_figures(run_dir: Path, model, history, splits: Splits, test_loader, predictions):
    """The run's PNG figures, from the model as it is now (the last epoch) and its
    ``predictions`` for the test set. Returns the file names."""
    import matplotlib.pyplot as plt

    from minicnn import viz

    labels = np.asarray(splits.test.labels)
    cm = confusion_matrix(labels, predictions, len(splits.classes))
    # the test images' numbers in the test split, as minicnn explain --index takes them (a run
    # with test_subset scores a part of it)
    numbers = (np.arange(len(labels)) if splits.test_positions is None
               else np.asarray(splits.test_positions))
    scored = "test set" if splits.test_positions is None else f"{len(labels)} test images"
    first_conv = next(p for _, p in model.named_parameters() if np.ndim(p.data) == 4)
    image = next(iter(test_loader))[0][:1]  # an evaluation loader: always in order
    # the first two test images the model gets right and the first two it gets wrong: cheap
    # (four rows, about a second) and both kinds of answer explained
    explained = np.concatenate([np.flatnonzero(predictions == labels)[:2],
                                np.flatnonzero(predictions != labels)[:2]])
    figures = {
        "curves.png": lambda: viz.plot_curves(history, title=f"Training curves ({run_dir.name})"),
        "confusion_matrix.png": lambda: viz.plot_confusion_matrix(
            cm, splits.classes, title=f"Confusion matrix ({scored}, epoch "
                                      f"{history[-1]['epoch']}, accuracy "
                                      f"{100 * np.trace(cm) / cm.sum():.1f}%)"),
        "filters.png": lambda: viz.plot_filters(first_conv.data),
        "feature_maps.png": lambda: viz.plot_feature_maps(
            model, image, title=f"Feature maps of test image {numbers[0]} "
                                f"({splits.classes[int(labels[0])]})"),
        "misclassified.png": lambda: viz.plot_misclassified(
            np.asarray(splits.test.images), labels, predictions, splits.classes,
            title="Misclassified test images"),
        "explanations.png": lambda: viz.plot_explanations(
            model, test_loader.transform(np.asarray(splits.test.images)[explained]),
            labels[explained], splits.classes,
            title=f"Why did it say that? (test images "
                  f"{', '.join(map(str, numbers[explained]))})"),
    }
    for name, make in figures.items():
        fig = make()
        viz.save_figure(fig, run_dir / name)
        plt.close(fig)
    return list(figures)
