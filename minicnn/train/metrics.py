"""Metrics from predictions: the confusion matrix and the accuracy of each class."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "per_class_accuracy"]


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
