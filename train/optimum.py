"""The per-image optimum of the training loss: what a feed-forward network is measured against.

A network trained with content + w * style (train/losses.py) can at best match, on each picture, what an
optimisation of that same loss on the picture's own pixels reaches (Gatys et al. 2016). Protocol: Adam, lr
0.02, 120 steps, started from the photo, clamped to [0, 1], for w = 0.5 and w = 5. The two optima span the
box a network should reach:

    style loss <= the optimum's at w = 0.5   and   content loss <= the optimum's at w = 5

(a fast CPU network may be 1.25x off on each). `benchmarks/quality.py` applies it to the shipped styles on
held-out photos, `stylecam eval --optimum` to any style on frames of a clip.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS
from stylecam.train.losses import content_loss, gram, style_loss

PROTOCOL = "v1: relative losses, HED VGG16, photo long side 256 (x8), painting 512, Adam lr 0.02, 120 steps"
GATYS_WEIGHTS = (0.5, 5.0)
GATYS_STEPS, GATYS_LR = 120, 0.02
FAST_SLACK = 1.25  # how far off the box a fast_net (the CPU default) may be, on each axis


class PerceptualLoss:
    """(content loss, style loss) of an image against a painting's Grams and a photo's content features."""

    def __init__(self, vgg: torch.nn.Module, painting: torch.Tensor) -> None:
        self.vgg = vgg
        with torch.no_grad():
            self.grams = {k: gram(v) for k, v in vgg(painting).items() if k in STYLE_LAYERS}

    def content_target(self, photo: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.vgg(photo, upto=CONTENT_LAYER)[CONTENT_LAYER]

    def __call__(self, image: torch.Tensor, content_feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.vgg(image)
        return content_loss(feats[CONTENT_LAYER], content_feats), style_loss(feats, self.grams)


def gatys(loss: PerceptualLoss, photo: torch.Tensor, weight: float, steps: int = GATYS_STEPS,
          lr: float = GATYS_LR) -> tuple[float, float]:
    """(content, style) loss of the optimised picture; `photo` is (1, 3, H, W) in [0, 1]."""
    target = loss.content_target(photo)
    x = photo.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        lc, ls = loss(x, target)
        optimizer.zero_grad(set_to_none=True)
        (lc + weight * ls).backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    with torch.no_grad():
        lc, ls = loss(x, target)
    return float(lc), float(ls)


def output_losses(loss: PerceptualLoss, output: torch.Tensor, photo: torch.Tensor) -> tuple[float, float]:
    """(content, style) loss of a network's `output` for `photo`, both (1, 3, H, W) in [0, 1]."""
    with torch.no_grad():
        lc, ls = loss(output.clamp(0, 1), loss.content_target(photo))
    return float(lc), float(ls)


@dataclass(frozen=True)
class Box:
    style: float  # the optimum's style loss at w = 0.5
    content: float  # the optimum's content loss at w = 5

    @classmethod
    def from_optima(cls, optima: dict[float, tuple[float, float]]) -> "Box":
        """`optima`: style weight -> mean (content, style) of the optimum at that weight."""
        return cls(style=optima[GATYS_WEIGHTS[0]][1], content=optima[GATYS_WEIGHTS[1]][0])

    def ratios(self, content: float, style: float) -> tuple[float, float]:
        """(content, style) as multiples of the box's limits: at most 1 (or the slack) is inside."""
        return content / self.content, style / self.style

    def inside(self, content: float, style: float, slack: float = 1.0) -> bool:
        c, s = self.ratios(content, style)
        return bool(c <= slack and s <= slack)  # a plain bool, also for numpy figures (JSON)
