"""Gradient clipping relative to the run's own recent gradients, so no threshold has to be guessed per
network, loss weighting or style.

A long run on one CPU core hit a burst of bad steps (the eight-painting network, steps ~2180-2250 of
train/runs/paintings8: style loss from ~0.3 to 4-8 and back over ~100 steps); the steps that start such a
burst have gradients many times the usual size. Clipping each step's norm to `factor` x the running mean of
the norms before it keeps ordinary steps untouched and bounds those.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

WARMUP_STEPS = 20  # steps only observed, to learn the usual norm (also after a --resume)


class RelativeGradClipper:
    def __init__(self, factor: float, alpha: float = 0.02) -> None:
        if factor <= 1:
            raise ValueError("the clip factor must be above 1 (the running mean itself)")
        self.factor, self.alpha = factor, alpha
        self.mean: float | None = None  # running mean of the (clipped) norms
        self.seen = 0
        self.clipped = 0  # steps clipped so far

    def __call__(self, parameters: Iterable[torch.nn.Parameter]) -> float:
        """Clip the gradients in place; returns the norm before clipping."""
        params = [p for p in parameters if p.grad is not None]
        limit = float("inf") if self.mean is None or self.seen < WARMUP_STEPS else self.factor * self.mean
        norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
        if not torch.isfinite(torch.tensor(norm)):
            return norm  # a non-finite step: the optimiser's scaler skips it; it must not poison the mean
        if norm > limit:
            self.clipped += 1
        kept = min(norm, limit)
        self.mean = kept if self.mean is None else (1 - self.alpha) * self.mean + self.alpha * kept
        self.seen += 1
        return norm
