"""Stylise only the person, or only the room: a person mask composites the stylised frame over the original.

The mask is MediaPipe's selfie segmentation (landscape, 144x256, Apache 2.0; models/segmentation/README.md),
run on one thread (OpenVINO, else ONNX Runtime) on a 256x144 copy of the original frame, feathered there (a blur of the
small mask costs nothing at the output size) and scaled to the output. Pixels whose weight rounds to 0 or 1
are the original's or the stylised frame's exactly. After postprocess, before the sinks:

    stages: [..., {type: postprocess}, {type: mask, target: person}]

In live mode the preview's `s` key cycles person / background / everything (LiveControls.mask).
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB

MODEL = Path(__file__).resolve().parent.parent / "models" / "segmentation" / "selfie_segmentation.onnx"
MODEL_SIZE = (256, 144)  # width, height the model takes
TARGETS = ("person", "background")


class PersonSegmenter:
    """RGB uint8 picture -> person probability at MODEL_SIZE (float32 HxW in [0, 1])."""

    def __init__(self, model: str | Path = MODEL, threads: int = 1) -> None:
        from stylecam.models.runtimes import RuntimeOptions, onnx_model_runner

        if not Path(model).is_file():
            raise StageError(f"person-segmentation model not found: {model}")
        self.run = onnx_model_runner(str(model), RuntimeOptions(threads=threads))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        small = cv2.resize(rgb, MODEL_SIZE, interpolation=cv2.INTER_AREA)
        x = (small.astype(np.float32) * (1 / 255)).transpose(2, 0, 1)[None]
        return self.run(np.ascontiguousarray(x))[0, 0]


def weights(probability: np.ndarray, target: str, size: tuple[int, int], feather: float) -> np.ndarray:
    """Per-pixel weight of the stylised frame at `size` (width, height): the target's probability, feathered
    at the model's size, scaled up, with near-0 and near-1 snapped so the regions away from the edge are exact.
    The background's is 1 minus the person's after the snapping, so the two are exact complements (blurring
    1 - p instead rounds differently, and a pixel at the threshold could fall in neither region or both)."""
    p = probability
    if feather > 0:
        p = cv2.GaussianBlur(p, (0, 0), feather)
    p = cv2.resize(p, size, interpolation=cv2.INTER_LINEAR)
    p[p < 0.5 / 255] = 0.0
    p[p > 1 - 0.5 / 255] = 1.0
    return p if target == "person" else 1.0 - p


def composite(styled: np.ndarray, original: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """weight x styled + (1 - weight) x original, rounded to uint8 (OpenCV's per-pixel weighted blend)."""
    return cv2.blendLinear(styled, original, weight, 1.0 - weight)


class Mask:
    name = "mask"
    takes, gives = (RGB,), RGB

    def __init__(self, target: str = "person", feather: float = 2.0, model: str | None = None) -> None:
        if target not in TARGETS:
            raise StageError(f"target must be person or background, not {target!r}")
        if feather < 0:
            raise StageError("feather must be 0 or more (pixels at the model's 256x144)")
        self.target, self.feather, self.model = target, float(feather), model or str(MODEL)

    def open(self, ctx: Context) -> None:
        self.segmenter = PersonSegmenter(self.model)
        self.controls = ctx.extras.get("controls")
        if self.controls is not None:
            self.controls.mask = self.target
        controller = ctx.extras.get("size_controller")
        if controller is not None and ctx.width and ctx.height:
            controller.reserve(self._time_one_frame(ctx.width, ctx.height))

    def _time_one_frame(self, width: int, height: int) -> float:
        """CPU seconds of one masked frame at the output size (the second of two: the first allocates)."""
        frame = np.zeros((height, width, 3), np.uint8)
        for _ in range(2):
            t0 = time.process_time()  # the runtime may work in threads of its own; nothing else runs yet
            composite(frame, frame, weights(self.segmenter(frame), "person", (width, height), self.feather))
        return time.process_time() - t0

    def process(self, frame: Frame) -> Frame:
        target = self.controls.mask if self.controls is not None else self.target
        if target is None or frame.original is None:
            return frame  # everything stylised
        styled, original = frame.data, frame.original
        h, w = styled.shape[:2]
        if original.shape[:2] != (h, w):
            original = cv2.resize(original, (w, h), interpolation=cv2.INTER_AREA)
        frame.data = composite(styled, original, weights(self.segmenter(frame.original), target, (w, h), self.feather))
        return frame

    def close(self) -> None:
        self.segmenter = None
