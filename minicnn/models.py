"""The lecture's CNN (section 7), layer for layer, a small global-average-pooling variant, and
the networks of the lecture's references: LeNet-5 and the CIFAR ResNets of He et al. (2016).

    conv_block1: Conv2d(1, 32, 3, padding=1) -> BatchNorm2d(32) -> ReLU -> MaxPool2d(2)   28 -> 14
    conv_block2: Conv2d(32, 64, 3, padding=1) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)  14 -> 7
    classifier:  Flatten -> Linear(3136, 256) -> BatchNorm1d(256) -> ReLU -> Dropout(0.4)
                 -> Linear(256, 10)                                                  raw logits

825,162 parameters (``minicnn.summary(CNN(), (1, 28, 28))`` prints the table). The attribute
names and ``state_dict`` keys are those of the lecture's PyTorch class (for LeNet-5 and ResNet,
of the PyTorch modules their docstrings give, torchvision's names for ResNet), so weights
trained in either framework load into the other (``minicnn.interop``).

``MODELS`` maps the names ``minicnn train --model`` takes to their builders, and
``build(name, ...)`` builds one.
"""

from __future__ import annotations

import numpy as np

from minicnn import nn
from minicnn.nn.module import as_generator

__all__ = ["CNN", "GAPCNN", "LeNet5", "BasicBlock", "ResNet", "resnet20", "resnet32",
           "resnet56", "MODELS", "build"]


def _model_rng(rng, seed, owner):
    if seed is not None:
        if rng is not None:
            raise TypeError(f"{owner}: pass rng or seed, not both")
        rng = seed
    return as_generator(rng, owner)


def _child_rng(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator for a Dropout layer, derived deterministically from ``rng``."""
    return np.random.default_rng(rng.integers(2**63))


def conv_block(in_channels, out_channels, *, conv_method=None, rng=None, dtype=np.float32):
    """Conv2d(3x3, padding=1) -> BatchNorm2d -> ReLU -> MaxPool2d(2): the lecture's block."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, method=conv_method,
                  rng=rng, dtype=dtype),
        nn.BatchNorm2d(out_channels, dtype=dtype),    # must match out_channels above
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),
    )


class _Chain(nn.Module):
    """A model made of named blocks run in order (forward) and in reverse (backward)."""

    _blocks: tuple = ()

    def forward(self, x):
        for name in self._blocks:
            x = getattr(self, name)(x)
        return x

    def input_layer(self):
        return getattr(self, self._blocks[0]).input_layer()

    def backward(self, dout):
        for name in reversed(self._blocks):
            dout = getattr(self, name).backward(dout)
        return dout


class CNN(_Chain):
    """The lecture's CNN for 28x28 images.

    Parameters
    ----------
    num_classes : int, number of logits (default 10)
    dropout : float, the Dropout probability in the classifier head (default 0.4)
    in_channels : int, image channels (default 1, grayscale)
    conv_method : convolution algorithm of both Conv2d (``"naive"``, ``"loop"``, ``"im2col"``
        or None for the default)
    rng : numpy.random.Generator or int seed for the initial weights and the Dropout masks
        (None: fresh, unseeded); ``seed=`` is an alias
    dtype : float32 (default) or float64 (gradient checks)

    Attributes ``conv_block1``, ``conv_block2``, ``classifier`` (each a ``Sequential``).
    """

    _blocks = ("conv_block1", "conv_block2", "classifier")

    def __init__(self, num_classes=10, dropout=0.4, in_channels=1, conv_method=None, rng=None,
                 *, seed=None, dtype=np.float32):
        super().__init__()
        rng = _model_rng(rng, seed, "CNN")
        self.num_classes, self.dropout, self.in_channels = num_classes, dropout, in_channels
        self.conv_block1 = conv_block(in_channels, 32, conv_method=conv_method, rng=rng,
                                      dtype=dtype)        # 28x28 -> 14x14
        self.conv_block2 = conv_block(32, 64, conv_method=conv_method, rng=rng,
                                      dtype=dtype)        # 14x14 -> 7x7
        self.classifier = nn.Sequential(
            nn.Flatten(),                                  # 64 * 7 * 7 = 3136
            nn.Linear(64 * 7 * 7, 256, rng=rng, dtype=dtype),
            nn.BatchNorm1d(256, dtype=dtype),
            nn.ReLU(),
            nn.Dropout(dropout, rng=_child_rng(rng)),
            nn.Linear(256, num_classes, rng=rng, dtype=dtype),   # raw logits
        )


class GAPCNN(_Chain):
    """A small variant: the lecture's two conv blocks, a third (64 -> 128), then global average
    pooling instead of Flatten + a 3136-wide Linear.

    conv_block1 (1->32) -> conv_block2 (32->64) -> conv_block3 (64->128) -> AdaptiveAvgPool2d(1)
    -> Flatten -> Dropout -> Linear(128, num_classes). About 94k parameters, any input size
    of at least 8x8. Same arguments as ``CNN``.
    """

    _blocks = ("conv_block1", "conv_block2", "conv_block3", "classifier")

    def __init__(self, num_classes=10, dropout=0.2, in_channels=1, conv_method=None, rng=None,
                 *, seed=None, dtype=np.float32):
        super().__init__()
        rng = _model_rng(rng, seed, "GAPCNN")
        self.num_classes, self.dropout, self.in_channels = num_classes, dropout, in_channels
        self.conv_block1 = conv_block(in_channels, 32, conv_method=conv_method, rng=rng,
                                      dtype=dtype)
        self.conv_block2 = conv_block(32, 64, conv_method=conv_method, rng=rng, dtype=dtype)
        self.conv_block3 = conv_block(64, 128, conv_method=conv_method, rng=rng, dtype=dtype)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout, rng=_child_rng(rng)),
            nn.Linear(128, num_classes, rng=rng, dtype=dtype),
        )


class LeNet5(_Chain):
    """LeNet-5 (LeCun et al., 1998), as d2l adapts it to 28x28 images: tanh activations and
    average pooling, 5x5 convolutions, three fully connected layers.

    features:   Conv2d(in, 6, 5, padding=2) -> Tanh -> AvgPool2d(2)                 28 -> 14
                -> Conv2d(6, 16, 5) -> Tanh -> AvgPool2d(2)                         14 -> 10 -> 5
    classifier: Flatten -> Linear(16*s*s, 120) -> Tanh -> Linear(120, 84) -> Tanh
                -> Linear(84, num_classes),          s = (image_size // 2 - 4) // 2

    61,706 parameters for 28x28 images and 10 classes.

    Parameters
    ----------
    num_classes : int (default 10)
    in_channels : int, image channels (default 1; 3 for RGB)
    image_size : int, height = width of the input images (default 28; at least 12)
    conv_method, rng, seed, dtype : as for ``CNN``
    """

    _blocks = ("features", "classifier")

    def __init__(self, num_classes=10, in_channels=1, image_size=28, conv_method=None,
                 rng=None, *, seed=None, dtype=np.float32):
        super().__init__()
        rng = _model_rng(rng, seed, "LeNet5")
        side = (image_size // 2 - 4) // 2          # after pool, the unpadded 5x5 conv, pool
        if side < 1:
            raise ValueError(f"LeNet5: image_size {image_size} is too small; the second 5x5 "
                             f"convolution needs at least 5x5 after the first pooling "
                             f"(image_size >= 12)")
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2, method=conv_method, rng=rng,
                      dtype=dtype),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5, method=conv_method, rng=rng, dtype=dtype),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                     # 16 * s * s
            nn.Linear(16 * side * side, 120, rng=rng, dtype=dtype),
            nn.Tanh(),
            nn.Linear(120, 84, rng=rng, dtype=dtype),
            nn.Tanh(),
            nn.Linear(84, num_classes, rng=rng, dtype=dtype),   # raw logits
        )


def _he_normal(conv, rng):
    """He et al.'s initialisation, as torchvision's ResNet draws it: N(0, 2 / fan_out),
    fan_out = C_out * kH * kW."""
    weight = conv.weight.data
    std = np.sqrt(2.0 / (weight.shape[0] * weight.shape[2] * weight.shape[3]))
    weight[...] = rng.normal(0.0, std, weight.shape)


class BasicBlock(nn.Module):
    """The residual block of He et al. (2016): two 3x3 convolutions, and a shortcut around them.

        main(x)     = bn2(conv2(relu(bn1(conv1(x)))))          conv1 has the block's stride
        shortcut(x) = x                                      when the shape stays the same,
                      bn(conv_1x1(x)), stride s            (``downsample``) when it changes
        out         = relu(main(x) + shortcut(x))

    The backward pass follows the graph backwards. The sum passes its gradient unchanged to
    both of its inputs; x feeds both paths, so its gradient is the sum of the two paths'
    gradients (the chain rule at a branch):

        d_sum = dL/d(main + shortcut) = relu.backward(dout)
        dL/dx = main.backward(d_sum) + shortcut.backward(d_sum)

    Any block with a branch is written the same way: ``forward`` computes each path and
    combines them, ``backward`` sends the gradient of the combination back down each path and
    adds what arrives at the point where they split. For example a block that averages two
    convolutions of the same input::

        class TwoPaths(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.left = nn.Conv2d(channels, channels, 3, padding=1)
                self.right = nn.Conv2d(channels, channels, 5, padding=2)

            def forward(self, x):
                return 0.5 * (self.left(x) + self.right(x))

            def backward(self, dout):
                d_each = 0.5 * dout                       # d(0.5 (a + b)) / da = 0.5
                return self.left.backward(d_each) + self.right.backward(d_each)

    Parameters
    ----------
    in_planes, planes : input and output channels
    stride : 1, or 2 to halve the height and width (then, or when in_planes != planes, the
        shortcut is the projection ``downsample`` = Sequential(Conv2d(in_planes, planes, 1,
        stride, bias=False), BatchNorm2d(planes)))
    conv_method, rng, dtype : as for ``CNN``

    Attributes ``conv1``, ``bn1``, ``relu``, ``conv2``, ``bn2``, ``downsample`` (or None) have
    torchvision's names, so ``state_dict`` keys match torchvision's BasicBlock; ``relu_out``,
    the ReLU after the sum, is a module of its own because each minicnn layer keeps the cache
    of one call (it has no parameters, so no keys).
    """

    expansion = 1

    def __init__(self, in_planes, planes, stride=1, *, conv_method=None, rng=None,
                 dtype=np.float32):
        super().__init__()
        rng = as_generator(rng, "BasicBlock")
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False,
                               method=conv_method, rng=rng, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(planes, dtype=dtype)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False, method=conv_method,
                               rng=rng, dtype=dtype)
        self.bn2 = nn.BatchNorm2d(planes, dtype=dtype)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False, method=conv_method,
                          rng=rng, dtype=dtype),
                nn.BatchNorm2d(planes, dtype=dtype))
        self.relu_out = nn.ReLU()

    def forward(self, x):
        main = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu_out(main + shortcut)

    def backward(self, dout):
        """dL/dx of the block, adding every parameter's gradient into its ``grad``:

            d_sum = relu_out.backward(dout)                  the sum passes it to both paths
            dL/dx = main.backward(d_sum) + shortcut.backward(d_sum)     (x fed both: add)

        main's backward runs its layers in reverse (bn2, conv2, relu, bn1, conv1); the
        identity shortcut's is d_sum itself, the projection's ``downsample.backward``."""
        # BEGIN SOLUTION
        d_sum = self.relu_out.backward(dout)               # reaches both paths unchanged
        d_main = self.conv1.backward(self.bn1.backward(self.relu.backward(
            self.conv2.backward(self.bn2.backward(d_sum)))))
        d_shortcut = d_sum if self.downsample is None else self.downsample.backward(d_sum)
        return d_main + d_shortcut                         # x fed both paths: add
        # END SOLUTION


class ResNet(_Chain):
    """The CIFAR ResNet of He et al. (2016, section 4.2), with projection shortcuts.

    conv1 (3x3, 16, no bias) -> bn1 -> relu
    -> layer1: n BasicBlocks, 16 planes            (32x32, or 28x28)
    -> layer2: n BasicBlocks, 32 planes, the first of stride 2    (16x16)
    -> layer3: n BasicBlocks, 64 planes, the first of stride 2    (8x8)
    -> avgpool (AdaptiveAvgPool2d(1)) -> flatten -> fc (Linear(64, num_classes))

    with n = (depth - 2) / 6: depth 20, 32, 44, 56, 110 give 6n + 2 weighted layers. The
    names are torchvision's, so ``state_dict`` keys match a torchvision-style ResNet built of
    these blocks. ResNet-20 has 272,474 parameters (3 input channels, 10 classes).

    Convolutions start from He et al.'s N(0, 2 / fan_out), as torchvision draws them;
    BatchNorm from gamma = 1, beta = 0; fc from PyTorch's Linear default.

    Parameters
    ----------
    depth : 6n + 2 (default 20)
    num_classes : int (default 10)
    in_channels : int (default 3, RGB; 1 for Fashion-MNIST)
    conv_method, rng, seed, dtype : as for ``CNN``
    """

    _blocks = ("conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool", "flatten",
               "fc")

    def __init__(self, depth=20, num_classes=10, in_channels=3, conv_method=None, rng=None,
                 *, seed=None, dtype=np.float32):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet: depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got "
                             f"{depth!r}")
        rng = _model_rng(rng, seed, "ResNet")
        self.depth, self.num_classes, self.in_channels = depth, num_classes, in_channels
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False, method=conv_method,
                               rng=rng, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(16, dtype=dtype)
        self.relu = nn.ReLU()
        layers = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layer = nn.Sequential(*[
                BasicBlock(in_planes if i == 0 else planes, planes, stride if i == 0 else 1,
                           conv_method=conv_method, rng=rng, dtype=dtype)
                for i in range(blocks)])
            layers.append(layer)
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes, rng=rng, dtype=dtype)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                _he_normal(module, rng)


def resnet20(num_classes=10, in_channels=3, **kwargs) -> ResNet:
    """ResNet-20 (3 blocks per stage, 272,474 parameters for RGB and 10 classes)."""
    return ResNet(20, num_classes, in_channels, **kwargs)


def resnet32(num_classes=10, in_channels=3, **kwargs) -> ResNet:
    """ResNet-32 (5 blocks per stage)."""
    return ResNet(32, num_classes, in_channels, **kwargs)


def resnet56(num_classes=10, in_channels=3, **kwargs) -> ResNet:
    """ResNet-56 (9 blocks per stage)."""
    return ResNet(56, num_classes, in_channels, **kwargs)


#: The models ``minicnn train --model`` and ``minicnn summary --model`` know, by name.
MODELS = {"cnn": CNN, "gapcnn": GAPCNN, "lenet5": LeNet5, "resnet20": resnet20,
          "resnet32": resnet32, "resnet56": resnet56}


def build(name, *, num_classes=10, in_channels=1, image_size=28, dropout=None,
          conv_method=None, rng=None, dtype=np.float32):
    """The model called ``name`` (a key of ``MODELS``) for images of ``in_channels`` x
    ``image_size`` x ``image_size`` and ``num_classes`` classes. ``dropout`` applies to the
    models that have it (cnn, gapcnn; None: their default)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; the models are {', '.join(MODELS)}")
    kwargs = dict(num_classes=num_classes, in_channels=in_channels, conv_method=conv_method,
                  rng=rng, dtype=dtype)
    if name in ("cnn", "gapcnn") and dropout is not None:
        kwargs["dropout"] = dropout
    if name == "cnn" and image_size != 28:
        raise ValueError(f"the lecture's CNN takes 28x28 images (its Linear expects 64*7*7 "
                         f"inputs), got {image_size}x{image_size}; use gapcnn, lenet5 or a "
                         f"resnet for other sizes")
    if name == "lenet5":
        kwargs["image_size"] = image_size
    return MODELS[name](**kwargs)
