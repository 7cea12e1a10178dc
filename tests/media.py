"""Real media files made by the tests themselves (PyAV), so every test runs on a fresh clone."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def frame_pattern(n: int, width: int, height: int) -> np.ndarray:
    """A frame whose content changes with n (gradient + moving bar), RGB uint8."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (x + 0 * y + 9 * n) % 256
    img[..., 1] = (y + 0 * x) % 256
    img[..., 2] = 128
    bar = (n * 7) % max(width, 1)
    img[:, bar:bar + max(1, width // 16)] = 255
    return img


def make_video(path: Path, frames: int = 12, width: int = 64, height: int = 48, fps: int = 12,
               audio: bool = True, codec: str = "libx264", pix_fmt: str = "yuv420p",
               time_base: Fraction | None = None, start_pts: int = 0) -> Path:
    """Write a short real video (and a sine-tone AAC track) and return its path."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        tb = time_base or Fraction(1, fps)
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if codec == "libx264":
            vs.options = {"crf": "18", "preset": "ultrafast"}
        astream = None
        if audio:
            astream = out.add_stream("aac", rate=16000)
            astream.layout = "mono"
        samples_per_frame = 16000 // fps
        apts = 0
        for n in range(frames):
            rgb = frame_pattern(n, width, height)
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pix_fmt != "yuv420p":
                vf = vf.reformat(format=pix_fmt)
            vf.pts = start_pts + round(Fraction(n, fps) / tb)
            vf.time_base = tb
            for p in vs.encode(vf):
                out.mux(p)
            if astream is not None:
                t = (np.arange(samples_per_frame) + apts) / 16000.0
                pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, apts
                apts += samples_per_frame
                for p in astream.encode(af):
                    out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if astream is not None:
            for p in astream.encode(None):
                out.mux(p)
    return path


def decode_video(path: Path) -> list[tuple[float, np.ndarray]]:
    """[(seconds, rgb)] for every video frame."""
    with av.open(str(path)) as c:
        return [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def make_audio_only(path: Path, seconds: float = 0.5) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        pcm = np.zeros((1, int(16000 * seconds)), np.float32)
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for p in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(p)
    return path
