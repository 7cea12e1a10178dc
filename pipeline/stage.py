"""The stage contract and the context stages share.

A stage is a plain object: open(ctx), process(item), close(), and a `name`. It owns no threads or
queues; the engine runs each stage in a thread of its own and moves frames between them. A source has
frames() (an iterator of Frame) instead of process(); a sink's process() returns nothing. Optional:
`takes`/`gives` (below), `batch_size`/`batch_timeout_ms`, `workers`. Stages report through ctx.bus,
never by printing, and are found by name through pipeline/registry.py. A stage with batch_size > 1 receives a list of
frames and returns a list (the engine batches, nvstreammux-style: up to batch_size frames or until
batch_timeout_ms after the first one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from stylecam.pipeline.bus import Bus


# What flows between stages. A stage may declare `takes` (a tuple of these) and `gives` (one), and
# build_pipeline checks that the chain fits before anything opens; a stage without them is not checked.
RGB = "rgb"  # HxWx3 uint8 numpy array (sources, sinks)
TENSOR = "tensor"  # 3xHxW uint8 tensor on the device at the inference size (after preprocess)
STYLED = "styled"  # 3xHxW float tensor in [0, 1] (after inference)
KIND_NAMES = {RGB: "RGB pictures", TENSOR: "uint8 tensors", STYLED: "stylised float tensors"}


class StageError(Exception):
    """A problem with the input or the set-up that users can fix; the message is one clear line."""


@dataclass
class Context:
    """Facts filled in by stages as they open (source first, sinks last) and read by later ones."""

    device: str = "cpu"
    live: bool = False  # a live source: frames come at wall-clock rate and may be dropped
    input_path: str | None = None
    fps: Fraction | None = None
    time_base: Fraction | None = None
    width: int | None = None
    height: int | None = None
    expected_frames: int | None = None
    error: BaseException | None = None  # set by the engine before close() when the run failed
    bus: Bus = field(default_factory=Bus)  # warnings and notices for the application (pipeline/bus.py)
    extras: dict[str, Any] = field(default_factory=dict)
