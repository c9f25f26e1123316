#!/usr/bin/python3
"""A small Vision Transformer for Fashion-MNIST whose every Linear runs on crossbar tiles.

    python3 python/examples/vit.py --out OUT/vit      # OUT/vit/vit.pt, vit_hat.pt (TorchScript)
    build/xbar evaluate --model OUT/vit/vit.pt --hat-model OUT/vit/vit_hat.pt ... --out OUT/vit/ev

28 x 28 images in 16 patches of 7 x 7 (the patch embedding is a Linear of 49 inputs), a class
token and learned positions, 4 pre-norm encoder blocks (multi-head self-attention with 4 heads of
16 dimensions: a qkv Linear, softmax(q k^T / 4) v in torch, an output Linear; an MLP of two
Linear layers with GELU), LayerNorm and a Linear head: 18 crossbar layers. The attention is
written with nn.Linear projections rather than nn.MultiheadAttention, whose projections are
functional calls on raw weight tensors that no layer mapping can see.
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import main  # noqa: E402


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj(torch.matmul(a, v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, patch=7, dim=64, depth=4, heads=4, hidden=128, classes=10):
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(patch * patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, (28 // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        b = x.shape[0]
        p = self.patch
        # N x 1 x 28 x 28 -> N x 16 x 49 patches, row-major over the 4 x 4 grid
        patches = x.reshape(b, 28 // p, p, 28 // p, p).permute(0, 1, 3, 2, 4).reshape(b, -1, p * p)
        h = torch.cat([self.cls.expand(b, -1, -1), self.embed(patches)], dim=1) + self.pos
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.norm(h[:, 0]))


if __name__ == "__main__":
    main("vit", ViT, dict(epochs=5, lr=1e-3, hat_epochs=1, hat_lr=2e-4, reprogram_every=1, hat_train_subset=20000))
