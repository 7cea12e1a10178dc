"""pipeline.yaml `type:` names -> stage classes, by role."""
from __future__ import annotations

from stylecam.stages.inference import Inference
from stylecam.stages.sinks import ImageSink, NullSink, VideoFileSink
from stylecam.stages.sources import ImageSource, TestPatternSource, VideoFileSource
from stylecam.stages.preview import PreviewSink
from stylecam.stages.transforms import Postprocess, Preprocess
from stylecam.stages.vcam import VirtualCameraSink
from stylecam.stages.webcam import WebcamSource

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
