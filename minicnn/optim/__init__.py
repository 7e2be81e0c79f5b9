"""Optimisers with PyTorch's update rules: SGD (momentum, Nesterov), Adam (L2), AdamW
(decoupled weight decay); learning-rate schedulers in ``minicnn.optim.lr_scheduler``."""

from minicnn.optim import lr_scheduler
from minicnn.optim.adam import Adam, AdamW
from minicnn.optim.optimizer import Optimizer
from minicnn.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
