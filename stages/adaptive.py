"""Adaptive inference size for live sources: keep inference within the camera's frame budget.

The inference stage reports how long each frame took; preprocess asks for the short side to resize the
next frame to. The controller steps the size down as soon as the smoothed time per frame exceeds the
budget (frames would start to drop), straight to the largest rung predicted to fit (the time scales with
the pixel count), and up one rung only when that rung's predicted time stays well under the budget for a
while. The gap between the two thresholds
and a cool-down after every change keep the picture from pumping on a steady load.

budget = workers x share / fps: with two inference workers at 30 fps each frame may take up to
2 x 0.85 / 30 = 57 ms of one worker's time. The rest of the pipeline (decoding, resizing, the postprocess,
the virtual camera's conversion) takes CPU too, more with a bigger camera: the controller measures the
process's CPU time per frame beside inference's own and takes what the rest needs off the budget
(cores x share / fps - the rest), so a 1080p camera's resizes do not push the pipeline into drops.

A second limit, `max_cores`, keeps the whole process's CPU within that many cores (live mode: half the
machine, at least one core), whatever the CPU: inference CPU per frame may be max_cores / fps - the rest.
A fast CPU meets it at full size; a slow one gets a smaller size instead of the meeting app's core.

A pipeline does not start at full size and find out by dropping frames: the inference stage times one
frame at open (`seed`) and the controller starts at the largest rung predicted to fit.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

SEED_MARGIN = 0.5  # the start: the largest rung predicted to take at most half the budget
CPU_UP_MARGIN = 0.95  # a step up must leave this share of the CPU cap; CPU per frame is steadier than wall time
SEED_CPU_MARGIN = 0.7  # at the start the rest's CPU is not known yet: assume it takes up to 30 % of the cap
PROBATION = 300  # frames a rung reached by a step up must hold before its failed tries are forgotten
MAX_BACKOFF = 6  # a failed rung waits at most 64 x up_after frames of calm (at 30 fps: 96 s) for its next try
LADDER = (720, 600, 540, 480, 432, 384, 336, 288, 240, 192, 160, 128)  # short sides, all multiples of 8 or 16


class SizeController:
    def __init__(self, fps: float, workers: int, largest: int, share: float = 0.85, up_margin: float = 0.7,
                 alpha: float = 0.25, settle: int = 4, down_after: int = 4, up_after: int = 45, cooldown: int = 30,
                 cores: int | None = None, cpu_clock: Callable[[], float] = time.process_time, cpu_window: int = 15,
                 max_cores: float | None = None) -> None:
        self.rungs = [s for s in LADDER if s <= largest] or [LADDER[-1]]
        if largest not in self.rungs and largest > self.rungs[0]:
            self.rungs.insert(0, largest)
        self.cores = cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        self.fps, self.share, self.workers = fps, share, workers
        self.max_cores = max_cores  # the whole process's CPU, in cores, that the size must keep within (None: all)
        self.cpu_clock, self.cpu_window = cpu_clock, cpu_window
        self.other_cpu_s = 0.0  # the rest of the pipeline's CPU seconds per frame (EWMA)
        self.reserved_s = 0.0  # CPU per frame other stages said at open they will take (reserve())
        self._seeded_from: tuple[float, int] | None = None
        self._window_frames, self._window_inference = 0, 0.0
        self._window_start: float | None = None  # set at the first frame: opening the stages is not the stream's cost
        self.up_margin, self.alpha = up_margin, alpha
        self.settle, self.down_after, self.up_after, self.cooldown = settle, down_after, up_after, cooldown
        self._over = 0  # consecutive frames over the budget
        self.index = 0  # start at full size: the first second says whether it fits
        self._lock = threading.Lock()
        self._ewma: float | None = None  # inference wall time per frame at this rung
        self._ewma_cpu: float | None = None  # and its CPU time
        self._seen = 0  # frames measured at the current rung
        self._calm = 0  # consecutive frames with room for the next rung up
        self._since_change = 0
        # rung index -> failed tries: a step up undone within PROBATION frames doubles the calm the next try
        # of that rung needs (up to 2 ** MAX_BACKOFF), so a cost the pixel count does not predict cannot pump
        self._failed_tries: dict[int, int] = {}
        self._probation = False  # the current rung was reached by a step up and has not held yet
        self.changes: list[tuple[float, int]] = [(time.perf_counter(), self.short_side)]

    def set_workers(self, workers: int, fps: float, share: float = 0.85) -> None:
        self.workers, self.fps, self.share = workers, fps, share

    @property
    def budget_s(self) -> float:
        """One frame's inference wall time that keeps up: the workers' share of the frame interval, less what
        the rest of the pipeline's CPU needs of the cores when all are busy (never under a fifth of the plain budget)."""
        plain = self.workers * self.share / self.fps
        cpu_left = min(self.workers, self.cores) * self.share / self.fps - self.other_cpu_s
        return max(plain / 5, min(plain, cpu_left))

    @property
    def cpu_budget_s(self) -> float | None:
        """Inference CPU seconds per frame that keep the process within max_cores; None when it is not a limit."""
        if not self.max_cores or self.max_cores >= self.cores:
            return None
        return max(0.001, self.max_cores / self.fps - self.other_cpu_s)

    def _fits(self, side: int, wall_margin: float = 1.0, cpu_margin: float = 1.0) -> bool:
        """Whether `side` is predicted (time ~ pixel count, from this rung's averages) to fit both limits."""
        scale = (side / self.short_side) ** 2
        cpu = self.cpu_budget_s
        return (self._ewma * scale <= wall_margin * self.budget_s
                and (cpu is None or (self._ewma_cpu or self._ewma) * scale <= cpu_margin * cpu))

    def _count_cpu(self, inference_cpu_s: float) -> None:
        """Every cpu_window frames: process CPU per frame minus inference's own = the rest's per frame."""
        if self._window_start is None:
            self._window_start = self.cpu_clock()
            return
        self._window_frames += 1
        self._window_inference += inference_cpu_s
        if self._window_frames < self.cpu_window:
            return
        now = self.cpu_clock()
        rest = max(0.0, (now - self._window_start - self._window_inference) / self._window_frames)
        self.other_cpu_s = rest if self.other_cpu_s == 0.0 else 0.7 * self.other_cpu_s + 0.3 * rest
        self._window_start, self._window_frames, self._window_inference = now, 0, 0.0

    def seed(self, seconds: float, short_side: int) -> None:
        """Start at the largest rung predicted to fit, from one frame timed at `short_side` before the stream."""
        with self._lock:
            self._seeded_from = (seconds, short_side)
            # half the budget: the rest of the pipeline's CPU is not known yet, and stepping up later costs
            # no frames, while every step down costs the frames already in flight
            cap = (SEED_CPU_MARGIN * self.max_cores / self.fps - self.reserved_s
                   if self.cpu_budget_s is not None else float("inf"))
            wall = SEED_MARGIN * self.budget_s - self.reserved_s / max(1, min(self.workers, self.cores))
            fits = [i for i, side in enumerate(self.rungs)
                    if seconds * (side / short_side) ** 2 <= min(wall, cap)]
            index = fits[0] if fits else len(self.rungs) - 1
            if index != self.index:
                self.index = index
                self._ewma = self._ewma_cpu = None
                self._seen, self._calm, self._over, self._since_change = 0, 0, 0, 0
                self.changes = [(time.perf_counter(), self.short_side)]

    def reserve(self, cpu_seconds: float) -> None:
        """A stage that opens after inference (the person mask) and knows its CPU per frame: taken off the
        start's budget now, before the process's CPU can show it, so the stream does not start too large."""
        with self._lock:
            self.reserved_s += cpu_seconds
            seeded = self._seeded_from
        if seeded is not None:
            self.seed(*seeded)

    @property
    def short_side(self) -> int:
        return self.rungs[self.index]

    def observe(self, seconds: float, short_side: int, cpu_seconds: float | None = None) -> None:
        """One frame's inference time (wall, and the worker thread's CPU), measured at `short_side` (frames
        already in flight when the size changed are ignored)."""
        with self._lock:
            self._count_cpu(seconds if cpu_seconds is None else cpu_seconds)
            if short_side != self.short_side:
                return
            self._since_change += 1
            self._seen += 1
            if self._seen <= self.settle:  # the first frames at a new size pay for allocations
                return
            cpu = seconds if cpu_seconds is None else cpu_seconds
            self._ewma = seconds if self._ewma is None else (1 - self.alpha) * self._ewma + self.alpha * seconds
            self._ewma_cpu = cpu if self._ewma_cpu is None else (1 - self.alpha) * self._ewma_cpu + self.alpha * cpu
            self._over = 0 if self._fits(self.short_side) else self._over + 1
            if self._over >= self.down_after and self.index < len(self.rungs) - 1:
                self._step(self._rungs_down())
                return
            if self._probation and self._since_change >= PROBATION:
                self._probation = False
                self._failed_tries.pop(self.index, None)  # it held: a later try needs no extra calm
            if self.index > 0 and self._since_change > self.cooldown:
                roomy = self._fits(self.rungs[self.index - 1], self.up_margin, CPU_UP_MARGIN)
                self._calm = self._calm + 1 if roomy else 0
                if self._calm >= self.up_after * 2 ** self._failed_tries.get(self.index - 1, 0):
                    self._step(-1)

    def _rungs_down(self) -> int:
        """How many rungs down to the largest size predicted to fit (time ~ pixel count), at least one: a
        1080p camera on a slow machine gets there in one step instead of dropping frames on every rung."""
        for steps, side in enumerate(self.rungs[self.index + 1:], start=1):
            if self._fits(side):
                return steps
        return len(self.rungs) - 1 - self.index

    def _step(self, direction: int) -> None:
        if direction > 0 and self._probation:  # the step up did not hold
            self._failed_tries[self.index] = min(MAX_BACKOFF, self._failed_tries.get(self.index, 0) + 1)
        self._probation = direction < 0
        self.index += direction
        self._ewma = self._ewma_cpu = None
        self._seen, self._calm, self._over, self._since_change = 0, 0, 0, 0
        self.changes.append((time.perf_counter(), self.short_side))
