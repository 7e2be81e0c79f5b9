"""PyTorch twins of minicnn's reference networks: LeNet-5 and the CIFAR ResNet.

Written from the papers' descriptions with torchvision's names, independently of
``minicnn.models``, so that equal ``state_dict`` layouts and equal outputs mean something.
Used by tests/models (the reference) and by the benchmarks (``benchmarks/recipe.py``,
``train_step.py``, ``memory.py``), which put tests/ on ``sys.path``.

PyTorch is passed in (``torch``), never imported here: the tests record its answers for
machines without it.
"""

from __future__ import annotations

def torch_lenet5(torch, num_classes=10, in_channels=1, image_size=28):
    """LeNet-5 as d2l adapts it to 28x28 images (LeCun et al., 1998)."""
    tnn = torch.nn
    side = (image_size // 2 - 4) // 2

    class TorchLeNet5(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(in_channels, 6, 5, padding=2), tnn.Tanh(), tnn.AvgPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2))
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Linear(16 * side * side, 120), tnn.Tanh(),
                tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, num_classes))

        def forward(self, x):
            return self.classifier(self.features(x))

    return TorchLeNet5()


def torch_resnet(torch, depth=20, num_classes=10, in_channels=3):
    """The CIFAR ResNet of He et al. (2016) with projection shortcuts, torchvision's names."""
    tnn = torch.nn

    class TorchBasicBlock(tnn.Module):
        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or in_planes != planes:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(in_planes, planes, 1, stride, bias=False),
                    tnn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    class TorchResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            blocks = (depth - 2) // 6
            self.conv1 = tnn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.relu = tnn.ReLU()
            in_planes, layers = 16, []
            for planes, stride in ((16, 1), (32, 2), (64, 2)):
                layers.append(tnn.Sequential(*[
                    TorchBasicBlock(in_planes if i == 0 else planes, planes,
                                    stride if i == 0 else 1) for i in range(blocks)]))
                in_planes = planes
            self.layer1, self.layer2, self.layer3 = layers
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(64, num_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return TorchResNet()


def torch_module(torch, name, **kwargs):
    """The PyTorch twin of ``minicnn.models.build(name, ...)`` for "lenet5" and "resnetN"."""
    if name == "lenet5":
        return torch_lenet5(torch, **kwargs)
    return torch_resnet(torch, depth=int(name[len("resnet"):]), **kwargs)
