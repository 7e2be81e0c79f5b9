"""The training loop a student reads: one epoch of training, and evaluation (lecture, 7 and 9).

A notebook strings these together itself::

    for epoch in range(1, epochs + 1):
        train_loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer)
        val_loss, val_acc, _ = evaluate(model, val_loader, criterion)
        scheduler.step(val_loss)

Each training step: ``optimizer.zero_grad()``; the forward pass, ``logits = model(images)``
and ``loss = criterion(logits, labels)``; the backward pass, ``model.backward(
criterion.backward())``, which adds each gradient into its ``Parameter.grad``; and
``optimizer.step()``. Nothing needs the gradient of the images, so while it trains the layer
that receives them skips it (``images_need_no_gradient``). ``minicnn.train.run`` builds the
whole run (checkpoints, metrics, figures) around these functions.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from minicnn.train.progress import ProgressBar

__all__ = ["train_one_epoch", "evaluate", "predict", "images_need_no_gradient",
           "DivergenceGuard", "TrainingDiverged"]


@contextmanager
def images_need_no_gradient(model):
    """Within the block, the layer that receives the images (``model.input_layer()``), if it
    is one that can (``Conv2d.input_gradient``), computes dL/dW and dL/db but not dL/dX,
    which only the images would receive; its ``backward`` returns None. PyTorch skips it the
    same way for inputs that do not require grad. Restored on leaving, so explanations (which
    need dL/dX) work on the trained model."""
    finder = getattr(model, "input_layer", None)
    layer = finder() if finder is not None else None
    if layer is None or getattr(layer, "input_gradient", None) is not True:
        yield
        return
    layer.input_gradient = False
    try:
        yield
    finally:
        layer.input_gradient = True


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
    with images_need_no_gradient(model):
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
                    progress.update(batch, loss=total_loss / seen, acc=correct / seen,
                                    images=seen)
        finally:
            if progress:
                progress.close()
    if seen == 0:
        raise ValueError("train_one_epoch: the loader yielded no batches (is the data set "
                         "smaller than the batch size with drop_last=True?)")
    return total_loss / seen, correct / seen


def evaluate(model, loader, criterion, *, flip: bool = False):
    """Loss and accuracy in eval mode (BatchNorm running statistics, no dropout).

    ``flip=True`` is test-time augmentation with the training set's horizontal flip: each
    image is classified by the mean of the class probabilities of the image and its mirror,

        p = (softmax(f(x)) + softmax(f(x[..., ::-1]))) / 2,

    and the loss is ``criterion`` applied to log p (whose softmax is p), so it is the cross
    entropy of the averaged prediction. It costs a second forward pass per batch.

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
            logits = model(images)                                   # (B, K)
            if flip:
                mirrored = model(np.ascontiguousarray(images[..., ::-1]))
                logits = _log_mean_softmax(logits, mirrored)         # (B, K), log p
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


def _log_mean_softmax(logits_a, logits_b):
    """log((softmax(a) + softmax(b)) / 2), row by row, without overflow: with
    log softmax(z) = z - logsumexp(z), it is logaddexp of the two log-softmaxes minus log 2."""
    def log_softmax(z):
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.logaddexp(log_softmax(logits_a), log_softmax(logits_b)) - np.log(2.0)


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


# ---------------------------------------------------------------------------------------------
# Stopping a run whose loss diverged
# ---------------------------------------------------------------------------------------------

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
