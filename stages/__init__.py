"""stylecam's own stages, registered by name into the engine's registry (pipeline/registry.py).

Registered as "module:Class" paths, imported when a pipeline first uses them: importing this package
loads neither torch nor PyAV.
"""
# OpenCV must be loaded before PyAV: the other order makes cv2.namedWindow hang (the two wheels bundle
# different FFmpeg builds). PyAV is imported only by modules of this package, after this line.
import cv2  # noqa: F401

from stylecam.pipeline import registry

BUILT_IN = {
    "source": {
        "file": "stylecam.stages.sources:VideoFileSource",
        "images": "stylecam.stages.sources:ImageSource",
        "testsrc": "stylecam.stages.sources:TestPatternSource",
        "webcam": "stylecam.stages.webcam:WebcamSource",
    },
    "stage": {
        "preprocess": "stylecam.stages.transforms:Preprocess",
        "inference": "stylecam.stages.inference:Inference",
        "postprocess": "stylecam.stages.transforms:Postprocess",
        "mask": "stylecam.stages.mask:Mask",
    },
    "sink": {
        "file": "stylecam.stages.sinks:VideoFileSink",
        "images": "stylecam.stages.sinks:ImageSink",
        "null": "stylecam.stages.sinks:NullSink",
        "vcam": "stylecam.stages.vcam:VirtualCameraSink",
        "preview": "stylecam.stages.preview:PreviewSink",
    },
}

for _role, _factories in BUILT_IN.items():
    for _name, _target in _factories.items():
        registry.register(_role, _name, _target)
