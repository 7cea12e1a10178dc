"""Virtual camera sink (pyvirtualcam): what Zoom, Meet, Teams and OBS see as a webcam."""
from __future__ import annotations

import sys

import cv2
import numpy as np

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB


def no_device_help() -> str:
    if sys.platform.startswith("linux"):
        return ('load the v4l2loopback module: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="stylecam"')
    return "install OBS Studio and start its Virtual Camera once (Tools > Start Virtual Camera), then retry"


class VirtualCameraSink:
    """Sends RGB frames to a virtual camera at a steady rate.

    Mirroring is off by default: meeting apps mirror the self-view themselves, and what the other
    people see must not be mirrored. When inference falls behind, the engine re-sends the last frame
    every 1/fps seconds (`resend_interval_s`), so the camera never looks frozen to the consumer.
    """

    name = "vcam"
    takes = (RGB,)

    def __init__(self, device: str | None = None, width: int | None = None, height: int | None = None,
                 fps: float | None = None, mirror: bool = False, backend: str | None = None) -> None:
        self.device = None if device in (None, "", "auto") else device
        self.width, self.height, self.fps, self.mirror, self.backend = width, height, fps, mirror, backend
        self.cam = None
        self.sent = 0
        self._last_frame: Frame | None = None
        self._last_buffer: np.ndarray | None = None

    def open(self, ctx: Context) -> None:
        import pyvirtualcam

        w = self.width or ctx.width
        h = self.height or ctx.height
        fps = float(self.fps or ctx.fps or 30)
        if not (w and h):
            raise StageError("virtual camera needs a size: give --size WxH")
        try:
            self.cam = pyvirtualcam.Camera(int(w), int(h), fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                           device=self.device, backend=self.backend, print_fps=False)
        except (RuntimeError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = f" {self.device}" if self.device else ""
            raise StageError(f"no usable virtual camera{where} ({first}); to fix: {no_device_help()}") from None
        self.size = (int(w), int(h))
        self.resend_interval_s = 1.0 / fps
        ctx.bus.notice(self.name, f"virtual camera: {self.cam.device} {w}x{h} @ {fps:g} fps")

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        if self.mirror:
            rgb = rgb[:, ::-1]
        return np.ascontiguousarray(rgb)

    def process(self, frame: Frame) -> None:
        # A resend of the last frame (the engine's idle resend) sends the buffer already prepared for it.
        if frame is not self._last_frame:
            self._last_frame, self._last_buffer = frame, self.prepare(frame.data)
        self.cam.send(self._last_buffer)
        self.sent += 1

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None
