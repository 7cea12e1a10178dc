"""pipeline.yaml `type:` names -> stage classes, by role."""
from __future__ import annotations

from stages.inference import Inference
from stages.sinks import ImageSink, NullSink, VideoFileSink
from stages.sources import ImageSource, TestPatternSource, VideoFileSource
from stages.transforms import Postprocess, Preprocess

SOURCES: dict[str, type] = {
    "file": VideoFileSource,
    "images": ImageSource,
    "testsrc": TestPatternSource,
}
STAGES: dict[str, type] = {
    "preprocess": Preprocess,
    "inference": Inference,
    "postprocess": Postprocess,
}
SINKS: dict[str, type] = {
    "file": VideoFileSink,
    "images": ImageSink,
    "null": NullSink,
}
