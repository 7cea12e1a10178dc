"""The streaming engine: threads, bounded queues, end of stream, errors, Ctrl-C and timing."""
# OpenCV must be loaded before PyAV: the other order makes cv2.namedWindow hang (the two wheels
# bundle different FFmpeg builds). Every entry point imports this package or `stages` first.
import cv2  # noqa: F401
