"""Preview window (OpenCV highgui) with hotkeys and an overlay of fps, per-stage ms and latency.

All highgui calls happen in this sink's thread (the engine gives each sink one), which GTK and Qt
accept on Linux and Windows; macOS only allows windows on the main thread (see the README).
"""
from __future__ import annotations

import os
import sys
import time

import cv2
import numpy as np

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB
from stylecam.stages.controls import LiveControls, help_text


def overlay_lines(frame: Frame, fps: float, now: float) -> list[str]:
    stages = "  ".join(f"{name} {1000 * (leave - enter):.0f}" for name, (enter, leave) in frame.timings.items())
    size = frame.meta.get("inference_size")
    inference = f"   inference {size[0]}x{size[1]}" if size else ""
    return [f"{fps:4.1f} fps   latency {1000 * (now - frame.t_capture):.0f} ms{inference}", f"ms: {stages}"]


def draw_text(bgr: np.ndarray, lines: list[str]) -> None:
    scale = max(0.4, bgr.shape[1] / 1280)
    for i, line in enumerate(lines):
        y = int((i + 1) * 22 * scale / 0.5)
        cv2.putText(bgr, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


class PreviewSink:
    name = "preview"
    takes = (RGB,)

    def __init__(self, title: str = "stylecam") -> None:
        self.title = title
        self.window_open = False

    def open(self, ctx: Context) -> None:
        self.controls: LiveControls = ctx.extras.setdefault("controls", LiveControls())
        self.request_stop = ctx.extras.get("request_stop", lambda: None)
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # Without this check Qt aborts the whole process when the window is created.
            raise StageError("cannot open a preview window: no display (DISPLAY is not set); drop --preview or use --vcam")
        # opencv-python's Qt ships no fonts and complains at every window; point it at the system's.
        for fonts in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts"):
            if os.path.isdir(fonts):
                os.environ.setdefault("QT_QPA_FONTDIR", fonts)
                break
        self._fps, self._last = 0.0, None
        self._message, self._message_until = "", 0.0
        self.bus = ctx.bus
        self.bus.notice(self.name, help_text())

    def process(self, frame: Frame) -> None:
        now = time.perf_counter()
        if self._last is not None:  # exponential moving average of the display rate
            self._fps = 0.9 * self._fps + 0.1 / max(now - self._last, 1e-6)
        self._last = now
        bgr = cv2.cvtColor(frame.data, cv2.COLOR_RGB2BGR)
        if self.controls.mirror_preview:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
        lines = overlay_lines(frame, self._fps, now) if self.controls.overlay else []
        if self.controls.style and self.controls.overlay:
            lines.append(f"style {self.controls.style}  strength {self.controls.strength:.1f}" + ("  BYPASS" if self.controls.bypass else ""))
        if now < self._message_until:
            lines.append(self._message)
        if self.controls.show_help:
            lines += help_text().split("  ")
        if lines:
            draw_text(bgr, lines)
        if not self.window_open:  # created here, in the thread that draws it: Qt insists on one thread
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            self.window_open = True
        cv2.imshow(self.title, bgr)
        key = cv2.waitKey(1)
        if key != -1:
            self.on_key(chr(key & 0xFF))

    def on_key(self, key: str) -> None:
        change = self.controls.handle_key(key)
        if change is None:
            return
        self._message, self._message_until = change, time.perf_counter() + 1.5
        self.bus.notice(self.name, change)
        if self.controls.quit:
            self.request_stop()

    def end_of_stream(self) -> None:
        # In this sink's thread (the engine calls it there): Qt windows die in the thread that made them.
        if self.window_open:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
            self.window_open = False

    def close(self) -> None:
        pass  # after an error the window goes with the process; destroying it from here upsets Qt
