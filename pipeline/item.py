"""What travels through the pipeline: one video frame and what the engine knows about it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass
class Frame:
    """One frame. `data` changes type along the way (RGB uint8 array -> tensor -> RGB uint8 array);
    `original` keeps the source picture for strength blending and the output size."""

    data: Any
    seq: int
    pts: int | None = None
    time_base: Fraction | None = None
    original: np.ndarray | None = None
    t_capture: float = field(default_factory=time.perf_counter)
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)  # stage -> (enter, leave)
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"filename": ...} for image sources


class EndOfStream:
    """The sentinel that follows the last frame through every queue."""

    def __repr__(self) -> str:
        return "EOS"


EOS = EndOfStream()
