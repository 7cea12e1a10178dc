"""Preprocess (resize to the inference size, to a tensor on the device) and postprocess (back to
uint8 RGB at the output size, blended with the original by `strength`)."""
from __future__ import annotations

import os
import re

import cv2
import numpy as np
import torch

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB, STYLED, TENSOR

# Without word from the network (ctx.extras "network_geometry", set by the application from the style's
# recorded architecture): sides that every shipped architecture takes back at the same size.
SIZE_MULTIPLE = 8
MIN_SIDE = 16


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'640x480' -> (640, 480); None/'' -> None."""
    if text in (None, "", "auto"):
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise StageError(f"size must look like WIDTHxHEIGHT, e.g. 640x480, not {text!r}")
    return int(m.group(1)), int(m.group(2))


def inference_size(width: int, height: int, size: tuple[int, int] | None, short_side: int | None,
                   multiple: int = SIZE_MULTIPLE, min_side: int = MIN_SIDE) -> tuple[int, int]:
    """Keep the aspect ratio: fit inside `size`, or scale the short side to `short_side`; then round
    each side to a multiple of `multiple` (at least `min_side`)."""
    scale = 1.0
    if size is not None:
        scale = min(size[0] / width, size[1] / height)
    elif short_side:
        scale = short_side / min(width, height)

    def snap(v: float) -> int:
        return max(min_side, int(round(v / multiple)) * multiple)

    return snap(width * scale), snap(height * scale)


def half_the_cores() -> float:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1.0, cores / 2)


def resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    shrinking = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class Preprocess:
    """RGB uint8 HxWx3 -> uint8 3xhxw tensor on the device (pinned + async copy on CUDA). The
    division by 255 happens in the inference stage, on the device, in its dtype: copying uint8 moves
    a quarter of the bytes of float32."""

    name = "preprocess"
    takes, gives = (RGB,), TENSOR

    def __init__(self, size: str | None = None, image_size: int | None = None, device: str = "auto",
                 adaptive: bool = False, max_cores: float | None = None) -> None:
        self.size = parse_size(size)
        self.short_side = image_size
        self.device_name = device
        # adaptive: behind a live source with no size given, the inference size follows the machine's
        # speed (stages/adaptive.py); the inference stage reports its time per frame to the controller
        self.adaptive = adaptive
        # the adaptive size also keeps the whole process within this many cores; default half the machine's
        # (at least one), so a meeting app encoding the same stream keeps the other half
        if max_cores is not None and max_cores <= 0:
            raise StageError(f"max_cores must be more than 0, not {max_cores}")
        self.max_cores = max_cores
        self.controller = None

    def open(self, ctx: Context) -> None:
        self.device = torch.device(ctx.device if self.device_name == "auto" else self.device_name)
        self.pin = self.device.type == "cuda"
        self._dims: dict[tuple[int, int, int | None], tuple[int, int]] = {}
        self.geometry = ctx.extras.get("network_geometry", (SIZE_MULTIPLE, MIN_SIDE))  # (multiple, min side)
        if self.adaptive and ctx.live and not self.size and not self.short_side and ctx.width and ctx.height:
            from stylecam.stages.adaptive import SizeController

            self.controller = SizeController(float(ctx.fps or 30), workers=1, largest=min(ctx.width, ctx.height),
                                             max_cores=self.max_cores or half_the_cores())
            ctx.extras["size_controller"] = self.controller
        if ctx.width and ctx.height:  # lets inference warm up at the size to come
            ctx.extras["inference_size"] = inference_size(ctx.width, ctx.height, self.size, self.short_side, *self.geometry)

    def process(self, frame: Frame) -> Frame:
        h, w = frame.data.shape[:2]
        short = self.controller.short_side if self.controller is not None else self.short_side
        if (w, h, short) not in self._dims:
            self._dims[(w, h, short)] = inference_size(w, h, self.size, short, *self.geometry)
        tw, th = self._dims[(w, h, short)]
        frame.meta["inference_size"] = (tw, th, short)
        rgb = resize(frame.data, tw, th)
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        if self.pin:
            tensor = tensor.pin_memory()
        frame.data = tensor.to(self.device, non_blocking=self.pin)
        return frame

    def close(self) -> None:
        pass


def to_rgb_uint8(tensor: torch.Tensor) -> np.ndarray:
    """3xHxW float in [0, 1] (the network's output) -> HxWx3 uint8 RGB."""
    if tensor.device.type == "cpu" and tensor.dtype == torch.float32:
        # OpenCV's SIMD saturating cast (it rounds; its abs is harmless, inference clamps to [0, 1]) per plane,
        # then its interleave: 0.1 ms at 480p here,
        # against 5 ms for torch's mul/round/to(uint8) followed by the CHW -> HWC copy.
        return cv2.merge([cv2.convertScaleAbs(plane, alpha=255.0) for plane in tensor.contiguous().numpy()])
    # On a GPU: quantise there, so the copy to the host moves a quarter of the bytes.
    return tensor.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()


def keep_colors(styled: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The stylised picture's luminance with the original's chroma (Gatys et al. 2016, "Preserving colour
    in neural artistic style transfer"), in YCrCb: three colour conversions and a channel copy, ~2 ms at 480p on one core."""
    out = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)
    out[..., 1:] = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)[..., 1:]
    return cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB)


class Postprocess:
    """Stylised tensor (3xhxw, [0,1], any device) -> RGB uint8 at the original size; strength in [0, 1]
    blends with the original (0 = the input unchanged, 1 = fully stylised); keep_colors keeps the
    original's colours and takes only the brightness from the stylised picture."""

    name = "postprocess"
    takes, gives = (STYLED, RGB), RGB

    def __init__(self, strength: float = 1.0, output_size: str | None = None, keep_colors: bool = False) -> None:
        if not 0.0 <= float(strength) <= 1.0:
            raise StageError(f"strength must be between 0 and 1, not {strength}")
        self.strength = float(strength)
        self.keep_colors = bool(keep_colors)
        self.output_size = parse_size(output_size)  # None: the source's size

    def open(self, ctx: Context) -> None:
        self.controls = ctx.extras.get("controls")  # live hotkeys: strength and bypass
        if self.controls is not None:
            self.controls.strength = self.strength
            self.controls.keep_colors = self.keep_colors

    def process(self, frame: Frame) -> Frame:
        data = frame.data
        if isinstance(data, torch.Tensor):
            data = to_rgb_uint8(data)
        original = frame.original if frame.original is not None else data
        oh, ow = original.shape[:2]
        out_w, out_h = self.output_size or (ow, oh)
        strength = self.strength if self.controls is None else (0.0 if self.controls.bypass else self.controls.strength)
        colours = self.keep_colors if self.controls is None else self.controls.keep_colors
        if strength <= 0.0:
            out = resize(original, out_w, out_h)
        else:
            out = resize(data, out_w, out_h)
            if colours:
                out = keep_colors(out, resize(original, out_w, out_h))
            if strength < 1.0:
                out = cv2.addWeighted(out, strength, resize(original, out_w, out_h), 1.0 - strength, 0.0)
        frame.data = out
        return frame

    def close(self) -> None:
        pass
