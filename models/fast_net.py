"""A network for real time on a CPU: ~80x fewer FLOPs than Johnson's at the same resolution.

Where Johnson's network spends its work (per output pixel, 640x480): the 9x9 convs at full resolution and
the full 3x3 convs of the residual blocks and the decoder. This one
  * goes down to 1/8 resolution with three stride-2 3x3 convs (the first already at stride 2),
  * uses depthwise-separable residual blocks (3x3 depthwise + 1x1 pointwise) at 64 channels,
  * decodes with nearest upsampling + depthwise-separable convs, and one plain 3x3 conv at the end.
About 1.9 k multiply-adds per pixel against Johnson's 153 k (1.2 vs 94 GFLOP per 640x480 frame).
With `skips`, each decoder stage also adds the encoder's features of its resolution, scaled per channel
(U-Net-like, no extra convs): the 1/8 bottleneck alone cannot redraw the edges the content loss (relu2_2, at
1/2 resolution) asks for. The scales start at 0, so a network without skips loads into one with them and
computes the same function until fine-tuned.
Same interface as TransformerNet: RGB in [0, 1] in and out, sides that are multiples of 8 keep their size.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from stylecam.models.transformer_net import ConvLayer, StyleNetwork, norm_relu


class SeparableConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_in, 3, groups=c_in), nn.Conv2d(c_in, c_out, 1))


class SeparableResidual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            SeparableConv(channels, channels), nn.InstanceNorm2d(channels, affine=True), nn.ReLU(inplace=True),
            SeparableConv(channels, channels), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FastNet(StyleNetwork):
    arch_name = "fast_net"
    size_multiple = 8

    def __init__(self, width: int = 16, blocks: int = 3, skips: bool = False) -> None:
        super().__init__(width, blocks)
        w = width
        self.skips = skips
        self.encoder = nn.Sequential(
            ConvLayer(3, w, 3, stride=2), *norm_relu(w),
            ConvLayer(w, 2 * w, 3, stride=2), *norm_relu(2 * w),
            ConvLayer(2 * w, 4 * w, 3, stride=2), *norm_relu(4 * w),
        )
        self.residuals = nn.Sequential(*[SeparableResidual(4 * w) for _ in range(blocks)])
        self.up1 = nn.Sequential(SeparableConv(4 * w, 2 * w), *norm_relu(2 * w))
        self.up2 = nn.Sequential(SeparableConv(2 * w, w), *norm_relu(w))
        self.out = ConvLayer(w, 3, 3)
        if skips:
            self.skip1 = nn.Parameter(torch.zeros(1, 2 * w, 1, 1))  # the 1/4-resolution features into up1's output
            self.skip2 = nn.Parameter(torch.zeros(1, w, 1, 1))  # the 1/2-resolution ones into up2's

    def arch(self) -> dict:
        return dict(super().arch(), skips=True) if self.skips else super().arch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.encoder[:3](x)  # the encoder's output at 1/2, 1/4 and 1/8 resolution
        quarter = self.encoder[3:6](half)
        h = self.up1(F.interpolate(self.residuals(self.encoder[6:](quarter)), scale_factor=2.0, mode="nearest"))
        if self.skips:
            h = h + self.skip1 * quarter
        h = self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        if self.skips:
            h = h + self.skip2 * half
        return self.out(F.interpolate(h, scale_factor=2.0, mode="nearest"))
