"""Inputs that used to lose frames or metadata quietly: a truncated Matroska file, a rotated phone video,
audio the output container cannot hold."""
import struct
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from tests.media import decode_video, make_video

ROOT = Path(__file__).resolve().parent.parent


def stylecam(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_truncated_matroska_file_is_named_not_passed_over(tmp_path):
    full = make_video(tmp_path / "full.mkv", frames=36, audio=False)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    result = stylecam("transcode", cut, tmp_path / "out.mp4", "--style", "random", "--image-size", "32", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "truncated" in result.stderr and "cut.mkv" in result.stderr
    assert 0 < len(decode_video(tmp_path / "out.mp4")) < 36
    whole = stylecam("transcode", full, tmp_path / "whole.mp4", "--style", "random", "--image-size", "32", "--no-progress")
    assert whole.returncode == 0 and "truncated" not in whole.stderr, whole.stderr  # no false alarm
    assert len(decode_video(tmp_path / "whole.mp4")) == 36


def rotate_90_clockwise(path: Path) -> Path:
    """Write the display matrix a phone writes for a portrait video into the mp4's track header
    (PyAV cannot set it): the same 36 bytes, so no offset in the file moves."""
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd")
    matrix = at + 4 + (40 if data[at + 4] == 0 else 52)  # version 0 or 1 header fields before the matrix
    assert struct.unpack(">9i", data[matrix:matrix + 36]) == (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    out = path.with_name("rotated.mp4")
    out.write_bytes(bytes(data))
    return out


def test_rotation_metadata_is_applied_and_said(tmp_path):
    rotated = rotate_90_clockwise(make_video(tmp_path / "in.mp4", frames=6, width=64, height=48, audio=False))
    with av.open(str(rotated)) as c:
        assert next(c.decode(video=0)).rotation == -90  # what a player sees: turn it clockwise
    result = stylecam("transcode", rotated, tmp_path / "out.mp4", "--style", "random", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "rotated" in result.stderr and "90 degrees clockwise" in result.stderr
    frames = decode_video(tmp_path / "out.mp4")
    assert len(frames) == 6 and frames[0][1].shape == (64, 48, 3)  # upright: portrait


def test_audio_the_output_container_cannot_hold_gets_one_clear_line(tmp_path):
    clip = tmp_path / "mulaw.mov"
    with av.open(str(clip), "w") as out:
        video = out.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("pcm_mulaw", rate=8000)
        audio.layout = "mono"
        for n in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * n, np.uint8), format="rgb24")
            frame.pts = n
            for p in video.encode(frame):
                out.mux(p)
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 4000), np.int16), format="s16", layout="mono")
        tone.sample_rate, tone.pts = 8000, 0
        for p in [*audio.encode(tone), *audio.encode(None), *video.encode(None)]:
            out.mux(p)
    result = stylecam("transcode", clip, tmp_path / "out.mp4", "--style", "random", "--image-size", "32", "--no-progress")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("stylecam: error:") and "pcm_mulaw" in line and ".mov" in line and "--audio none" in line
    assert not list(tmp_path.glob("out.mp4")) and not list(tmp_path.glob(".*.part"))
    dropped = stylecam("transcode", clip, tmp_path / "out.mp4", "--audio", "none", "--style", "random", "--image-size", "32", "--no-progress")
    assert dropped.returncode == 0, dropped.stderr
    assert len(decode_video(tmp_path / "out.mp4")) == 6
