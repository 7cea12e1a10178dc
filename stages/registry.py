"""pipeline.yaml `type:` names -> stage classes, by role."""
from __future__ import annotations

from stages.inference import Inference
from stages.sinks import ImageSink, NullSink, VideoFileSink
from stages.sources import ImageSource, TestPatternSource, VideoFileSource
from stages.preview import PreviewSink
from stages.transforms import Postprocess, Preprocess
from stages.vcam import VirtualCameraSink
from stages.webcam import WebcamSource

SOURCES: dict[str, type] = {
    "file": VideoFileSource,
    "images": ImageSource,
    "testsrc": TestPatternSource,
    "webcam": WebcamSource,
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
    "vcam": VirtualCameraSink,
    "preview": PreviewSink,
}
