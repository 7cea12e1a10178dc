"""Perceptual losses (Johnson et al. 2016), normalised so one set of weights suits any VGG16.

Gram matrices are divided by C*H*W. Each layer's loss is divided by the mean square of its target
(the style Gram, or the content features): a relative error around 1 at the start of training,
whatever the scale of the loss network's activations. The raw MSEs of the torchvision and
Caffe/HED VGG16s differ by orders of magnitude (the PyTorch example's 1e5/1e10 weights are tuned
for torchvision only); relative losses make the default weights carry over between them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, C) Gram matrix / (C*H*W), always in float32: under CUDA autocast the matmul would run in
    fp16, whose sums of H*W products of the HED VGG's activations (inputs 0-255) overflow at 256 px,
    making the style loss inf and GradScaler skip every step."""
    b, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        f = features.reshape(b, c, h * w).float()
        return f @ f.transpose(1, 2) / (c * h * w)


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x, target = x.float(), target.float()
    return F.mse_loss(x, target) / target.pow(2).mean().clamp_min(1e-12)


def content_loss(out_feats: torch.Tensor, content_feats: torch.Tensor) -> torch.Tensor:
    return relative_mse(out_feats, content_feats)


def style_loss(out_feats: dict[str, torch.Tensor], style_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the relative Gram error; style_grams are (1, C, C) and broadcast over the batch."""
    losses = []
    for name, target in style_grams.items():
        g = gram(out_feats[name])
        losses.append(relative_mse(g, target.expand_as(g)))
    return torch.stack(losses).mean()


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
