"""Frames through stages in the calling thread, without the engine: the one pre -> net -> post path that
`stylecam eval`, bench's naive loop, the gallery script and tests use, so they all measure the product's
own stages (the same resizing, rounding and runtime) rather than a copy of them."""
from __future__ import annotations

from typing import Any

import numpy as np

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context


def process_one(stages: list, item: Any) -> Any:
    """One frame through `stages` in turn (each already open); batching stages get a list of one."""
    for stage in stages:
        item = stage.process([item] if getattr(stage, "batch_size", 1) > 1 else item)
        item = item[0] if isinstance(item, list) else item
    return item


class Stylise:
    """Preprocess -> Inference -> Postprocess, opened once, called per RGB picture:

        with Stylise("starry_night", image_size=256) as stylise:
            out = stylise(rgb)
    """

    def __init__(self, style: str, image_size: int | None = None, backend: str = "auto", network: str = "auto",
                 device: str = "cpu", workers: int = 1, precision: str = "auto", calibration: str | None = None,
                 **postprocess: Any) -> None:
        from stylecam.stages.inference import Inference
        from stylecam.stages.transforms import Postprocess, Preprocess

        self.ctx = Context(device=device)
        self.inference = Inference(style=style, backend=backend, network=network, workers=workers,
                                   precision=precision, calibration=calibration)
        self.stages = [Preprocess(image_size=image_size), self.inference, Postprocess(**postprocess)]
        self.seq = 0

    def __enter__(self) -> "Stylise":
        opened = []
        try:
            for stage in self.stages:
                opened.append(stage)
                stage.open(self.ctx)
        except BaseException:
            for stage in opened:
                stage.close()
            raise
        return self

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        frame = process_one(self.stages, Frame(data=rgb, seq=self.seq, original=rgb))
        self.seq += 1
        return frame.data

    def __exit__(self, *exc: Any) -> None:
        for stage in self.stages:
            stage.close()
