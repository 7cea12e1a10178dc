"""Adaptive inference size for live sources: keep inference within the camera's frame budget.

The inference stage reports how long each frame took; preprocess asks for the short side to resize the
next frame to. The controller steps the size down as soon as the smoothed time per frame exceeds the
budget (frames would start to drop), straight to the largest rung predicted to fit (the time scales with
the pixel count), and up one rung only when that rung's predicted time stays well under the budget for a
while. The gap between the two thresholds
and a cool-down after every change keep the picture from pumping on a steady load.

budget = workers x share / fps: with two inference workers at 30 fps each frame may take up to
2 x 0.85 / 30 = 57 ms of one worker's time.
"""
from __future__ import annotations

import threading
import time

LADDER = (720, 600, 540, 480, 432, 384, 336, 288, 240, 192, 160, 128)  # short sides, all multiples of 8 or 16


class SizeController:
    def __init__(self, fps: float, workers: int, largest: int, share: float = 0.85, up_margin: float = 0.7,
                 alpha: float = 0.25, settle: int = 4, down_after: int = 4, up_after: int = 45, cooldown: int = 30) -> None:
        self.rungs = [s for s in LADDER if s <= largest] or [LADDER[-1]]
        if largest not in self.rungs and largest > self.rungs[0]:
            self.rungs.insert(0, largest)
        self.budget_s = workers * share / fps
        self.up_margin, self.alpha = up_margin, alpha
        self.settle, self.down_after, self.up_after, self.cooldown = settle, down_after, up_after, cooldown
        self._over = 0  # consecutive frames over the budget
        self.index = 0  # start at full size: the first second says whether it fits
        self._lock = threading.Lock()
        self._ewma: float | None = None
        self._seen = 0  # frames measured at the current rung
        self._calm = 0  # consecutive frames with room for the next rung up
        self._since_change = 0
        self.changes: list[tuple[float, int]] = [(time.perf_counter(), self.short_side)]

    def set_workers(self, workers: int, fps: float, share: float = 0.85) -> None:
        self.budget_s = workers * share / fps

    @property
    def short_side(self) -> int:
        return self.rungs[self.index]

    def observe(self, seconds: float, short_side: int) -> None:
        """One frame's inference time, measured at `short_side` (frames already in flight when the size
        changed are ignored)."""
        with self._lock:
            if short_side != self.short_side:
                return
            self._since_change += 1
            self._seen += 1
            if self._seen <= self.settle:  # the first frames at a new size pay for allocations
                return
            self._ewma = seconds if self._ewma is None else (1 - self.alpha) * self._ewma + self.alpha * seconds
            self._over = self._over + 1 if self._ewma > self.budget_s else 0
            if self._over >= self.down_after and self.index < len(self.rungs) - 1:
                self._step(self._rungs_down())
                return
            if self.index > 0 and self._since_change > self.cooldown:
                bigger = self.rungs[self.index - 1]
                predicted = self._ewma * (bigger / self.short_side) ** 2
                self._calm = self._calm + 1 if predicted < self.up_margin * self.budget_s else 0
                if self._calm >= self.up_after:
                    self._step(-1)

    def _rungs_down(self) -> int:
        """How many rungs down to the largest size predicted to fit (time ~ pixel count), at least one: a
        1080p camera on a slow machine gets there in one step instead of dropping frames on every rung."""
        for steps, side in enumerate(self.rungs[self.index + 1:], start=1):
            if self._ewma * (side / self.short_side) ** 2 <= self.budget_s:
                return steps
        return len(self.rungs) - 1 - self.index

    def _step(self, direction: int) -> None:
        self.index += direction
        self._ewma, self._seen, self._calm, self._over, self._since_change = None, 0, 0, 0, 0
        self.changes.append((time.perf_counter(), self.short_side))
