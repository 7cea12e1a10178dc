"""Live camera source (OpenCV): a device index or path, timestamped at capture."""
from __future__ import annotations

import sys
import time
from fractions import Fraction
from typing import Iterator

import cv2

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB

FIRST_FRAME_TIMEOUT_S = 5.0
MAX_FAILED_READS = 30  # ~1 s of a 30 fps camera: then it is gone (unplugged, taken by another program)


class WebcamSource:
    """Frames from a camera. CAP_PROP_BUFFERSIZE=1 keeps the driver from queueing stale frames, so
    each read returns the newest picture; the engine's leaky queues do the rest."""

    name = "webcam"
    gives = RGB
    live = True

    def __init__(self, device: str = "0", width: int | None = None, height: int | None = None, fps: float | None = None) -> None:
        self.device = int(device) if str(device).isdigit() else str(device)
        self.width, self.height, self.fps = width, height, fps
        self.cap: cv2.VideoCapture | None = None

    def open(self, ctx: Context) -> None:
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        # OpenCV prints its own multi-line warnings for a missing camera; ours says it in one line.
        log = getattr(cv2.utils, "logging", None)  # OpenCV < 4.9 has only the older cv2.setLogLevel
        if log is not None:
            log.setLogLevel(log.LOG_LEVEL_ERROR)
        elif hasattr(cv2, "setLogLevel"):
            cv2.setLogLevel(2)  # error
        self.cap = cv2.VideoCapture(self.device, backend)
        if not self.cap.isOpened():
            raise StageError(f"no webcam at {self.device!r}: is a camera connected, and may this user open it?")
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.width and self.height:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            self.cap.set(cv2.CAP_PROP_FPS, self.fps)
        deadline = time.monotonic() + FIRST_FRAME_TIMEOUT_S
        ok, first = self.cap.read()
        while not ok and time.monotonic() < deadline:
            time.sleep(0.05)
            ok, first = self.cap.read()
        if not ok:
            raise StageError(f"webcam {self.device!r} opened but sends no frames: is another program using it?")
        self._first = first
        fps = self.cap.get(cv2.CAP_PROP_FPS) or self.fps or 30.0
        ctx.live, ctx.input_path = True, None
        ctx.fps, ctx.time_base = Fraction(fps).limit_denominator(1001), Fraction(1, 1000)
        ctx.height, ctx.width = first.shape[:2]
        ctx.expected_frames = None

    def frames(self) -> Iterator[Frame]:
        t_start = time.perf_counter()
        seq, failures, bgr = 0, 0, self._first
        while True:
            if bgr is None:
                ok, bgr = self.cap.read()
                if not ok:
                    failures += 1
                    if failures > MAX_FAILED_READS:
                        raise StageError(f"webcam {self.device!r} stopped sending frames")
                    bgr = None
                    time.sleep(0.03)
                    continue
            t_capture = time.perf_counter()  # as close to the exposure as OpenCV lets us get
            failures = 0
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            frame = Frame(rgb, seq, round((t_capture - t_start) * 1000), Fraction(1, 1000), original=rgb, t_capture=t_capture)
            frame.timings[self.name] = (t_capture, time.perf_counter())
            yield frame
            seq, bgr = seq + 1, None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
