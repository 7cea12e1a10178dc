"""Sources: a video file (PyAV), an image or a folder of images, and a synthetic test pattern."""
from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB
from stylecam.pipeline.images import IMAGE_SUFFIXES, read_rgb

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".y4m"}


def open_video(path: str) -> av.container.InputContainer:
    """av.open with errors turned into one clear line each."""
    p = Path(path)
    if not p.exists():
        raise StageError(f"input not found: {path}")
    if p.is_dir():
        raise StageError(f"input is a folder, not a video file: {path}")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise StageError(f"not a readable video file (invalid or truncated data): {path}") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise StageError(f"cannot open {path}: {exc}") from None
    if not container.streams.video:
        container.close()
        raise StageError(f"no video stream in {path}")
    return container


def clockwise_turns(vframe: av.VideoFrame) -> int:
    """Quarter turns clockwise that the frame's display matrix asks for (0-3). PyAV reports the matrix's
    rotation counter-clockwise: a phone's portrait video says -90."""
    degrees = -float(getattr(vframe, "rotation", 0) or 0)
    return round(degrees / 90) % 4


class VideoFileSource:
    """Decodes a video file with PyAV's threaded decoder; frames keep their pts and time base.
    `realtime=True` plays the file at its native rate, like a camera (a live source: leaky queues)."""

    name = "source"
    gives = RGB

    def __init__(self, path: str, max_frames: int | None = None, realtime: bool = False) -> None:
        self.path, self.max_frames, self.live = str(path), max_frames, bool(realtime)
        self.container: av.container.InputContainer | None = None

    def open(self, ctx: Context) -> None:
        self.bus = ctx.bus
        self.container = open_video(self.path)
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        else:  # Matroska often knows only the container's duration (in microseconds)
            seconds = self.container.duration / 1e6 if self.container.duration else None
        expected = stream.frames or (round(seconds * rate) if seconds else None)
        self._seconds, self._rate = seconds, float(rate)
        if self.max_frames:
            expected = min(expected or self.max_frames, self.max_frames)
        ctx.input_path, ctx.live = self.path, self.live
        ctx.fps, ctx.time_base = Fraction(rate), stream.time_base
        ctx.width, ctx.height = stream.codec_context.width, stream.codec_context.height
        ctx.expected_frames = expected

    def frames(self) -> Iterator[Frame]:
        stream = self.container.streams.video[0]
        seq, t_start, first_s, last_s = 0, time.perf_counter(), None, None
        turns_said = False
        try:
            for vframe in self.container.decode(stream):
                if self.live and vframe.pts is not None:  # wait for the frame's moment, as a camera would
                    now_s = float(vframe.pts * vframe.time_base)
                    first_s = now_s if first_s is None else first_s
                    delay = t_start + (now_s - first_s) - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t0 = time.perf_counter()
                # to_ndarray converts any pixel format (gray, 10-bit, 4:2:2 ...) to packed RGB.
                rgb = vframe.to_ndarray(format="rgb24")
                turns = clockwise_turns(vframe)
                if turns:  # a phone video stored sideways: make it upright, as players do
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=-turns))
                    if not turns_said:
                        self.bus.notice(self.name, f"{self.path} is stored rotated; turning it {90 * turns} degrees clockwise "
                                        f"as its display matrix says, so the output is upright")
                        turns_said = True
                if vframe.pts is not None:
                    last_s = float(vframe.pts * vframe.time_base)
                frame = Frame(rgb, seq, vframe.pts, vframe.time_base, original=rgb, t_capture=t0)
                if self.live:  # time the work, not the wait for the frame's moment
                    frame.timings[self.name] = (t0, time.perf_counter())
                yield frame
                seq += 1
                if self.max_frames and seq >= self.max_frames:
                    return
        except av.error.InvalidDataError:
            if seq == 0:
                raise StageError(f"no decodable video frames in {self.path}") from None
            # A damaged tail: keep what decoded, like every player does, but say so.
            self.bus.warning(self.name, f"{self.path} is damaged after frame {seq}; stopping there")
        if seq == 0:
            raise StageError(f"no decodable video frames in {self.path}")
        if not self.max_frames and self._ends_early(seq, last_s):
            self.bus.warning(self.name, f"{self.path} ended after {seq} frames ({last_s:.2f} s) of the {self._seconds:.2f} s "
                             f"its header gives; the file looks truncated, and the output stops there")

    def _ends_early(self, frames: int, last_s: float | None) -> bool:
        """A file cut short (a truncated Matroska decodes without an error): the frames stop well before the
        duration in the header. 10 % slack: the container's duration may include a longer audio track."""
        if not self._seconds or last_s is None:
            return False
        start = float(self.container.start_time or 0) / 1e6
        covered = last_s - start + 1.0 / self._rate
        return covered < 0.9 * self._seconds and self._seconds - covered > 2.0 / self._rate

    def close(self) -> None:
        if self.container is not None:
            self.container.close()


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageSource:
    """One image file, or every image in a folder (sorted by name); frames carry their file name."""

    name = "source"
    gives = RGB
    live = False

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def open(self, ctx: Context) -> None:
        if not self.path.exists():
            raise StageError(f"input not found: {self.path}")
        self.files = list_images(self.path) if self.path.is_dir() else [self.path]
        if not self.files:
            raise StageError(f"no images in folder {self.path}")
        ctx.input_path, ctx.live, ctx.expected_frames = str(self.path), False, len(self.files)
        self.bus = ctx.bus
        ctx.fps, ctx.time_base = Fraction(1), Fraction(1)
        ctx.extras["image_source_is_folder"] = self.path.is_dir()

    def frames(self) -> Iterator[Frame]:
        for seq, path in enumerate(self.files):
            t0 = time.perf_counter()
            rgb = read_rgb(path)
            if rgb is None:
                if len(self.files) == 1:
                    raise StageError(f"not a readable image: {path}")
                self.bus.warning(self.name, f"skipping unreadable image {path.name}")
                continue
            yield Frame(rgb, seq, seq, Fraction(1), original=rgb, t_capture=t0, meta={"filename": path.name})

    def close(self) -> None:
        pass


class TestPatternSource:
    __test__ = False  # not a pytest class, despite the name

    """A deterministic moving pattern, like GStreamer's videotestsrc: colour bars scrolling sideways,
    a gradient band and a bouncing disc. `live=True` paces frames at `fps` of wall-clock time
    (a stand-in for a camera); otherwise frames come as fast as the pipeline takes them."""

    name = "source"
    gives = RGB

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, duration: float = 5.0,
                 frames: int | None = None, live: bool = False) -> None:
        if width < 1 or height < 1 or fps <= 0:
            raise StageError("test source needs width, height >= 1 and fps > 0")
        self.width, self.height, self.fps, self.live = int(width), int(height), float(fps), bool(live)
        self.count = int(frames) if frames is not None else max(1, round(duration * fps))
        self._bars = self._make_bars()

    def _make_bars(self) -> np.ndarray:
        colours = np.array([[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16],
                            [235, 16, 235], [235, 16, 16], [16, 16, 235], [16, 16, 16]], np.uint8)
        idx = (np.arange(2 * self.width) * 8 // max(self.width, 1)) % 8
        bars = np.repeat(colours[idx][None], self.height, axis=0)  # twice as wide: scrolling is a slice
        ramp = np.linspace(0, 255, 2 * self.width).astype(np.uint8)
        bars[self.height * 3 // 4:] = ramp[None, :, None]
        return bars

    def open(self, ctx: Context) -> None:
        ctx.live = self.live
        ctx.fps = Fraction(self.fps).limit_denominator(1001)
        ctx.time_base = 1 / ctx.fps
        ctx.width, ctx.height, ctx.expected_frames = self.width, self.height, self.count

    def render(self, n: int) -> np.ndarray:
        w, h = self.width, self.height
        shift = (n * 4) % w
        img = np.ascontiguousarray(self._bars[:, shift:shift + w])
        r = max(2, min(w, h) // 8)
        cx = int((w / 2 - r) * np.sin(n * 0.07) + w / 2)
        cy = int((h / 2 - r) * np.sin(n * 0.05 + 1.0) + h / 2)
        y0, y1, x0, x1 = max(cy - r, 0), min(cy + r, h), max(cx - r, 0), min(cx + r, w)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img[y0:y1, x0:x1][disc] = (255, 128, 0)
        return img

    def frames(self) -> Iterator[Frame]:
        t_start = time.perf_counter()
        period = 1.0 / self.fps
        for n in range(self.count):
            if self.live:
                delay = t_start + n * period - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            rgb = self.render(n)
            frame = Frame(rgb, n, n, Fraction(1) / Fraction(self.fps).limit_denominator(1001), original=rgb, t_capture=t0)
            frame.timings[self.name] = (t0, time.perf_counter())
            yield frame

    def close(self) -> None:
        pass
