"""Sinks: a video file (PyAV), image files, and a null sink for benchmarks.

Files are written under a temporary name beside the target and renamed when complete, so an
interrupted or failed run never leaves a file that looks finished (pipeline/files.py). No sink writes
over its run's input.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from stylecam.pipeline.files import publish, same_path, temp_name, writable_file_problem
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, RGB, STYLED, TENSOR

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}


def containers_holding(codec: str, besides: str) -> list[str]:
    """Output suffixes whose container can hold `codec` (asked of FFmpeg, in memory)."""
    found = []
    for suffix in (".mkv", ".mov", ".mp4"):
        if suffix == besides:
            continue
        with contextlib.suppress(Exception), av.open(io.BytesIO(), mode="w", format=CONTAINER_FORMATS[suffix]) as probe:
            if codec in probe.supported_codecs:
                found.append(suffix)
    return found


def check_writable(path: Path) -> None:
    problem = writable_file_problem(path)
    if problem:
        raise StageError(f"output {problem}")


def check_not_input(path: Path, ctx: Context) -> None:
    """The source opens first and records its path: refuse to write over it, whatever the spelling."""
    if ctx.input_path and same_path(path, ctx.input_path):
        raise StageError(f"output {path} is the input {ctx.input_path}: give another output name")


class VideoFileSink:
    """Encodes frames with PyAV, keeping the source's timestamps and frame rate, and copies the
    source's audio streams packet for packet (no re-encode), interleaved by time."""

    name = "file"
    takes = (RGB,)

    def __init__(self, path: str, codec: str = "libx264", crf: int | None = 20, preset: str = "medium",
                 pix_fmt: str = "yuv420p", audio: str = "copy", bitrate: int | None = None) -> None:
        if audio not in ("copy", "none"):
            raise StageError(f"audio must be 'copy' or 'none', not {audio!r}")
        self.path = Path(path)
        self.codec, self.crf, self.preset, self.pix_fmt = codec, crf, preset, pix_fmt
        self.audio, self.bitrate = audio, bitrate
        self.container = None

    def open(self, ctx: Context) -> None:
        self.ctx = ctx
        fmt = CONTAINER_FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise StageError(f"unknown video container {self.path.suffix!r} for {self.path} "
                             f"(use one of {', '.join(sorted(CONTAINER_FORMATS))})")
        check_writable(self.path)
        check_not_input(self.path, ctx)
        if self.codec not in av.codecs_available:
            raise StageError(f"video codec {self.codec!r} is not available in this FFmpeg build")
        self.tmp = temp_name(self.path)
        try:
            self.container = av.open(str(self.tmp), mode="w", format=fmt)
        except (av.error.FFmpegError, OSError) as exc:
            raise StageError(f"cannot write {self.path}: {exc}") from None
        self.fps = ctx.fps or Fraction(30)
        self.time_base = ctx.time_base or 1 / self.fps
        self.stream = None  # created with the first frame, whose size it takes
        self._audio_in = None
        self._audio_pairs: list = []
        self._pending_audio = None
        self._last_video_s = 0.0
        if self.audio == "copy" and ctx.input_path and Path(ctx.input_path).is_file():
            self._open_audio(ctx.input_path)

    def _open_audio(self, input_path: str) -> None:
        try:
            src = av.open(input_path)
        except av.error.FFmpegError:
            return
        if not src.streams.audio:
            src.close()
            return
        self._audio_in = src
        supported = getattr(self.container, "supported_codecs", None)
        for stream in src.streams.audio:
            codec = stream.codec_context.name
            if supported is not None and codec not in supported:
                src.close()
                self._audio_in = None
                others = containers_holding(codec, besides=self.path.suffix.lower())
                instead = f"write {' or '.join(others)} instead, or " if others else ""
                raise StageError(f"the input's {codec} audio cannot be copied into {self.path.suffix} "
                                 f"(it cannot hold {codec}): {instead}drop the audio (--audio none)")
            try:
                out = self.container.add_stream_from_template(stream)
            except (ValueError, av.error.FFmpegError) as exc:
                raise StageError(f"cannot copy the {stream.codec_context.name} audio into {self.path.suffix} "
                                 f"({exc}); use another container or audio: none") from None
            self._audio_pairs.append((stream, out))
        self._audio_packets = src.demux(*[s for s, _ in self._audio_pairs])

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Copy audio packets whose time is <= seconds (all of them when seconds is None)."""
        if self._audio_in is None:
            return
        out_for = {s.index: o for s, o in self._audio_pairs}
        while not self._aborted():
            pkt = self._pending_audio or next(self._audio_packets, None)
            self._pending_audio = None
            if pkt is None:
                self._audio_in.close()
                self._audio_in = None
                return
            if pkt.dts is None and pkt.size == 0:
                continue  # demuxer flush packet
            t = float(pkt.pts * pkt.time_base) if pkt.pts is not None else None
            if seconds is not None and t is not None and t > seconds:
                self._pending_audio = pkt
                return
            pkt.stream = out_for[pkt.stream.index]
            self._mux(pkt)

    def _setup_stream(self, width: int, height: int) -> None:
        self.stream = self.container.add_stream(self.codec, rate=self.fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = self.pix_fmt
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        options = {}
        if self.crf is not None and self.codec in ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"):
            options["crf"] = str(self.crf)
        if self.preset and self.codec in ("libx264", "libx265"):
            options["preset"] = self.preset
        self.stream.options = options
        if self.bitrate:
            self.stream.bit_rate = int(self.bitrate)

    def process(self, frame: Frame) -> None:
        rgb = frame.data
        h, w = rgb.shape[:2]
        if self.pix_fmt in ("yuv420p", "nv12") and (w % 2 or h % 2):
            # 4:2:0 needs even sides: repeat the last row/column rather than lose a pixel line.
            rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            h, w = rgb.shape[:2]
        if self.stream is None:
            self._setup_stream(w, h)
        vframe = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if frame.pts is not None and frame.time_base is not None:
            vframe.pts = round(frame.pts * frame.time_base / self.time_base)
        else:
            vframe.pts = round(frame.seq / self.fps / self.time_base)
        vframe.time_base = self.time_base
        self._last_video_s = float(vframe.pts * self.time_base)
        self._mux_audio_until(self._last_video_s)
        for packet in self.stream.encode(vframe):
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        # The file is really created at the first mux (the header is written then): that is where
        # unwritable paths and full disks show up.
        try:
            self.container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise StageError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None

    def _aborted(self) -> bool:
        # The engine sets ctx.error when a second Ctrl-C comes while this file is being finished.
        return self.ctx.error is not None

    def close(self) -> None:
        if self.container is None:
            return
        failed = self.ctx.error is not None
        try:
            if not failed and self.stream is not None:
                for packet in self.stream.encode(None):
                    self._mux(packet)
                    failed = self._aborted()
                    if failed:
                        break
                if not failed:
                    # After Ctrl-C, audio stops one frame after the last video frame; otherwise all of it.
                    early = self.ctx.extras.get("stopped_early", False)
                    self._mux_audio_until(self._last_video_s + float(1 / self.fps) if early else None)
                    failed = self._aborted()
            if self._audio_in is not None:
                self._audio_in.close()
            container, self.container = self.container, None
            try:
                container.close()  # writes the trailer (moov atom for mp4)
            except (av.error.FFmpegError, OSError) as exc:
                if not failed:
                    raise StageError(f"cannot finish {self.path}: {exc}") from None
        except BaseException:  # an error, or a second Ctrl-C while the encoder flushes: nothing is left
            failed = True
            raise
        finally:
            if self.container is not None:  # the flush failed before the container was closed
                with contextlib.suppress(Exception):
                    self.container.close()
                self.container = None
            if failed or self.stream is None:
                self.tmp.unlink(missing_ok=True)
        if not failed and self.stream is not None:
            publish(self.tmp, self.path)


class ImageSink:
    """Writes each frame as an image: into a folder (keeping source file names, or frame_000001.png),
    or to one file when the path has an image suffix.

    A folder's images are written into a hidden staging folder inside it and moved into place when the
    run ends well (Ctrl-C included), so a failed run leaves the folder as it found it."""

    name = "images"
    takes = (RGB,)

    def __init__(self, path: str, quality: int = 95) -> None:
        self.path = Path(path)
        self.quality = int(quality)
        self.staging: Path | None = None
        self.written: list[Path] = []

    def open(self, ctx: Context) -> None:
        from stylecam.pipeline.images import IMAGE_SUFFIXES

        self.ctx = ctx
        self.count = 0
        self.single = self.path.suffix.lower() in IMAGE_SUFFIXES and not self.path.is_dir()
        if self.single:
            check_writable(self.path)
            check_not_input(self.path, ctx)
            if ctx.expected_frames != 1:
                what = f"{ctx.expected_frames} frames" if ctx.expected_frames else "a stream of frames"
                raise StageError(f"the input has {what}, but {self.path} is a single image: give a folder "
                                 f"(e.g. {self.path.with_suffix('')}/) or a video file")
            return
        if ctx.input_path:
            source_folder = Path(ctx.input_path) if Path(ctx.input_path).is_dir() else Path(ctx.input_path).parent
            if same_path(self.path, source_folder):
                raise StageError(f"output folder {self.path} is the input's folder: its images would be written "
                                 f"over; give another folder")
        self.created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StageError(f"cannot create output folder {self.path}: {exc.strerror}") from None
        if not os.access(self.path, os.W_OK):
            raise StageError(f"output folder is not writable: {self.path}")
        self.staging = self.path / ".stylecam-images.part"
        shutil.rmtree(self.staging, ignore_errors=True)  # left by a killed run
        self.staging.mkdir()

    def target(self, frame: Frame) -> Path:
        if self.single:
            return self.path
        name = frame.meta.get("filename") or f"frame_{frame.seq:06d}.png"
        return self.path / name

    def process(self, frame: Frame) -> None:
        target = self.target(frame)
        if self.single and self.count:
            raise StageError(f"more than one frame for the single image {self.path}; give a folder instead")
        suffix = target.suffix.lower() or ".png"
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality] if suffix in (".jpg", ".jpeg") else []
        ok, data = cv2.imencode(suffix, cv2.cvtColor(frame.data, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise StageError(f"cannot encode {target.name}")
        staged = temp_name(target) if self.single else self.staging / target.name
        try:
            staged.write_bytes(data.tobytes())
        except OSError as exc:
            raise StageError(f"cannot write {target}: {exc.strerror}") from None
        self.written.append(staged)
        self.count += 1

    def close(self) -> None:
        if not hasattr(self, "ctx"):
            return
        failed = self.ctx.error is not None
        try:
            if not failed:
                for staged in self.written:
                    publish(staged, self.path if self.single else self.path / staged.name)
        finally:
            if failed:
                for staged in self.written:
                    staged.unlink(missing_ok=True)
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                if failed and self.created:
                    with contextlib.suppress(OSError):
                        self.path.rmdir()  # only if empty: the run made it and wrote nothing into it
            self.written = []


class NullSink:
    """Discards frames: for benchmarks."""

    name = "null"
    takes = (RGB, TENSOR, STYLED)  # benchmarks end anywhere

    def __init__(self) -> None:
        self.count = 0

    def open(self, ctx: Context) -> None:
        pass

    def process(self, frame: Frame) -> None:
        self.count += 1

    def close(self) -> None:
        pass
