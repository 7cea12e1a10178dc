"""Checks of what the user typed, made before torch and the networks load (that takes seconds): a
missing input, an output that would overwrite the input, a video into a single image, an unwritable
path. The stages check the same things again when they open, for pipelines built from yaml."""
from __future__ import annotations

from pathlib import Path

from stylecam.pipeline.files import same_path, writable_file_problem
from stylecam.pipeline.images import IMAGE_SUFFIXES

# Kept in step with stages/sources.py VIDEO_SUFFIXES and stages/sinks.py CONTAINER_FORMATS
# (tests/test_cli_errors.py), which import av.
OUTPUT_VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}


class PreflightError(Exception):
    """A user mistake found before the run; the message is one line."""


def output_kind(path: str) -> str:
    """'null', 'video', 'image' (one file) or 'folder', as the sink for OUTPUT will be chosen."""
    if path == "null":
        return "null"
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir() or suffix == "":
        return "folder"
    if suffix in OUTPUT_VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise PreflightError(f"output {path!r}: unknown type {suffix!r} (a video file such as .mp4, an image, a folder, or null)")


def check_file_output(path: str | None, what: str) -> None:
    problem = writable_file_problem(path) if path else None
    if problem:
        raise PreflightError(f"{what} {path}: {problem}")


def check_transcode(input_path: str | None, output_path: str | None) -> None:
    """INPUT and OUTPUT of transcode/run (either may be None when the yaml gives it)."""
    if input_path and input_path != "testsrc" and not Path(input_path).exists():
        raise PreflightError(f"input not found: {input_path}")
    if not output_path:
        return
    kind = output_kind(output_path)
    if kind == "null":
        return
    if input_path and input_path != "testsrc":
        if same_path(output_path, input_path):
            raise PreflightError(f"output {output_path} is the input {input_path}: give another output name")
        if kind == "folder" and Path(input_path).is_file() and same_path(output_path, Path(input_path).parent or "."):
            raise PreflightError(f"output folder {output_path} holds the input {input_path}, which would be written over: "
                                 f"give another folder")
    if kind == "image":
        single_image_in = bool(input_path) and Path(input_path).is_file() and Path(input_path).suffix.lower() in IMAGE_SUFFIXES
        if not single_image_in:
            what = "a folder of images" if input_path and Path(input_path).is_dir() else "a video"
            raise PreflightError(f"the input is {what}, but {output_path} is a single image: give a folder "
                                 f"(e.g. {Path(output_path).with_suffix('')}/) or a video file")
    if kind in ("video", "image"):
        check_file_output(output_path, "output")
