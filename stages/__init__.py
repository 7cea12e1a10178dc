"""Stages: sources, transforms, inference and sinks. Each is a plain object the engine drives."""
# OpenCV before PyAV, see pipeline/__init__.py.
import cv2  # noqa: F401
