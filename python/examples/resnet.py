#!/usr/bin/python3
"""A small ResNet for Fashion-MNIST: every convolution and the head on crossbar tiles, batch
normalisation and the residual additions in torch.

    python3 python/examples/resnet.py --out OUT/resnet  # OUT/resnet/resnet.pt, resnet_hat.pt
    build/xbar evaluate --model OUT/resnet/resnet.pt --hat-model OUT/resnet/resnet_hat.pt ... --out ev

A 3 x 3 stride-2 stem convolution (16 channels, 28 -> 14 pixels), three stages of one basic
block each (two 3 x 3 convolutions with batch norm; 16, 32 and 64 channels at 14, 7 and 4
pixels, the stride-2 blocks with a 1 x 1 projection shortcut), global average pooling and a
Linear head: 10 crossbar layers, the widest (64 outputs: 128 differential columns) filling a
128 x 128 tile. Each output pixel of a convolution is one crossbar read of its C x 3 x 3
receptive field: about 780 reads per image (the stride-2 stem makes that 4x fewer than a first
stage at 28 x 28, which is what keeps the evaluation of the 10,000 test images in minutes).
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import main  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, widths[0], 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        stages, cin = [], widths[0]
        for k, w in enumerate(widths):
            stages.append(BasicBlock(cin, w, 1 if k == 0 else 2))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        h = self.stages(h)
        return self.head(h.mean(dim=(2, 3)))


if __name__ == "__main__":
    main("resnet", ResNet, dict(epochs=4, lr=2e-3, hat_epochs=1, hat_lr=2e-4, reprogram_every=1, hat_train_subset=20000))
