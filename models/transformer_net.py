"""Johnson et al. 2016 image transformation network.

9x9 conv in, two stride-2 convs, residual blocks, two upsample+conv stages, 9x9 conv out;
instance norm and reflection padding throughout. `width` is the channel count of the first
layer (32 in the paper; 16 = "half width" for CPUs) and `blocks` the number of residual blocks.

Inputs and outputs are RGB in [0, 1], NCHW. The output is not clamped during training (the
loss sees the raw values, as in the reference implementation); `stylize()` clamps.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ConvLayer(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True), nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour upsampling then conv: avoids the checkerboard of transposed convs."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels, affine=True), nn.ReLU(inplace=True)]


class StyleNetwork(nn.Module):
    """What every style architecture shares: its name, width and block count, for checkpoints."""

    arch_name = ""
    # Inputs it takes back at the same size: sides a multiple of size_multiple (2 ** its stride-2 convs),
    # at least min_size (the 9x9 convs' reflection padding needs a few pixels). Preprocess reads these.
    size_multiple = 4
    min_size = 16

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        self.width, self.blocks = width, blocks

    def arch(self) -> dict:
        return {"name": self.arch_name, "width": self.width, "blocks": self.blocks}


class TransformerNet(StyleNetwork):
    arch_name = "transformer_net"

    def __init__(self, width: int = 32, blocks: int = 5) -> None:
        super().__init__(width, blocks)
        w = width
        self.encoder = nn.Sequential(
            ConvLayer(3, w, 9), *norm_relu(w),
            ConvLayer(w, 2 * w, 3, stride=2), *norm_relu(2 * w),
            ConvLayer(2 * w, 4 * w, 3, stride=2), *norm_relu(4 * w),
        )
        self.residuals = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(blocks)])
        self.decoder = nn.Sequential(
            UpsampleConv(4 * w, 2 * w, 3), *norm_relu(2 * w),
            UpsampleConv(2 * w, w, 3), *norm_relu(w),
            ConvLayer(w, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.residuals(self.encoder(x)))
