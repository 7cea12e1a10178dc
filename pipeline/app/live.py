"""`stylecam live` as a pipeline description: the camera (or a stand-in), the stages, and the sinks a user
asked for. Built as data, so `stylecam run` could run the same thing from yaml."""
from __future__ import annotations

from pathlib import Path
from typing import Any


class LiveError(ValueError):
    """A --source or option combination live mode cannot run; the message is fit for users."""


def live_source_entry(source: str, size: tuple[int, int] | None, fps: float | None) -> dict:
    """--source webcam | INDEX | /dev/videoN | testsrc | PATH (a file played at its native rate)."""
    from stylecam.stages.sources import VIDEO_SUFFIXES

    w, h = size or (None, None)
    if source in ("webcam",) or source.isdigit() or source.startswith("/dev/video"):
        device = "0" if source == "webcam" else source
        return {"type": "webcam", "device": device, "width": w, "height": h, "fps": fps}
    if source == "testsrc":
        return {"type": "testsrc", "width": w or 640, "height": h or 480, "fps": fps or 30.0, "duration": 24 * 3600.0, "live": True}
    if Path(source).suffix.lower() in VIDEO_SUFFIXES or Path(source).is_file():
        return {"type": "file", "path": source, "realtime": True}
    raise LiveError(f"--source {source!r}: use webcam, a camera index, /dev/videoN, testsrc or a video file")


def live_spec(styles: tuple[str, ...], mix: float | None, source: dict, *, vcam: str | None, preview: bool,
              size: str | None, out_size: tuple[int, int] | None, image_size: int | None, fps: float | None,
              strength: float, keep_colors: bool, mirror: bool, network: str, backend: str, workers: int,
              threads: int, queue_size: int, record: str | None, mask: str | None = None,
              max_cores: float | None = None, precision: str = "auto", calibration: str | None = None) -> dict:
    """The pipeline of `stylecam live`: leaky queues, the adaptive inference size, vcam/preview/record sinks."""
    from stylecam.pipeline.app.build import sink_entry

    if len(styles) > 2:
        raise LiveError("--style: give one style, or two to mix")
    if mix is not None and len(styles) < 2:
        raise LiveError("--mix needs two styles: --style A --style B")
    sinks: list[dict[str, Any]] = []
    if vcam is not None or not preview:
        sinks.append({"type": "vcam", "device": None if vcam in (None, "auto") else vcam, "fps": fps, "mirror": mirror,
                      "width": out_size[0] if out_size else None, "height": out_size[1] if out_size else None})
    if preview:
        sinks.append({"type": "preview"})
    if record:
        sinks.append(sink_entry(record))
    return {
        "source": source,
        "stages": [
            {"type": "preprocess", "image_size": image_size, "adaptive": True, "max_cores": max_cores},
            {"type": "inference", "style": styles[0], "batch_size": 1, "network": network, "backend": backend,
             "precision": precision, "calibration": calibration, "workers": workers, "threads": threads, "mix_with": styles[1] if len(styles) == 2 else None, "mix": mix or 0.0},
            {"type": "postprocess", "strength": strength, "output_size": size, "keep_colors": keep_colors},
            *([{"type": "mask", "target": mask}] if mask else []),
        ],
        "sinks": sinks,
        "queues": {"size": queue_size, "policy": "auto"},
    }


def hotkey_styles(first: str) -> list[str]:
    """What n/p in the preview cycle through: the first style, then every other installed one (no
    reference twins, not the random network); each resolves to its fast, half or full network like the first."""
    from stylecam.models.styles import RANDOM_STYLE, list_styles

    return [first, *(s.name for s in list_styles() if s.name not in (first, RANDOM_STYLE))]
