"""Layers with PyTorch's names: ``Module``, ``Conv2d``, ``BatchNorm2d``, ``Sequential``, ...

Each layer's ``forward`` calls a pure function of ``minicnn.functional`` and keeps its cache;
``backward(dout)`` returns dL/dx and adds the parameter gradients into ``Parameter.grad``.
"""

from minicnn.nn.trace import DesignRuleWarning
from minicnn.nn.container import Sequential
from minicnn.nn.conventions import ConventionWarning
from minicnn.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d,
                               Dropout, Flatten, Identity, Linear, MaxPool2d, ReLU, Sigmoid,
                               Tanh)
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.nn.module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "Conv2d", "Linear", "Flatten", "ReLU", "Tanh",
           "Sigmoid",
           "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "Dropout", "Identity", "CrossEntropyLoss", "DesignRuleWarning", "ConventionWarning"]
