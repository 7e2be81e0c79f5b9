"""Building the recipe's parts from a ``TrainConfig``: model, optimiser, scheduler and loss."""

from __future__ import annotations

import numpy as np

from minicnn.train.config import TrainConfig

__all__ = ["build_model", "build_optimizer", "build_scheduler", "build_criterion"]


def build_model(config: TrainConfig, num_classes: int = 10, in_channels: int = 1,
                image_size: int = 28):
    """``config.model`` (the lecture's CNN by default) for ``in_channels`` x ``image_size``^2
    images, its weights (and Dropout generator) drawn from ``config.seed``."""
    from minicnn.models import build
    return build(config.model, num_classes=num_classes, in_channels=in_channels,
                 image_size=image_size, dropout=config.dropout, conv_method=config.conv_method,
                 rng=np.random.default_rng((config.seed, 1)))


def build_optimizer(model, config: TrainConfig):
    """Adam (L2 weight decay, the lecture's choice), AdamW (decoupled) or SGD with momentum."""
    from minicnn import optim
    params = list(model.parameters())
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return optim.SGD(params, lr=config.lr, momentum=config.momentum,
                     weight_decay=config.weight_decay)


def build_scheduler(optimizer, config: TrainConfig):
    """ReduceLROnPlateau on the validation loss (the lecture's), StepLR, CosineAnnealingLR, or
    None."""
    from minicnn.optim import lr_scheduler
    if config.scheduler == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=config.factor,
                                              patience=config.patience)
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.factor)
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


def build_criterion(config: TrainConfig):
    """``CrossEntropyLoss(label_smoothing=config.label_smoothing)``: the training loss, also
    used for the validation and test losses."""
    from minicnn import nn
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
