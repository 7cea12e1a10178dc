"""File transcoding on real media made in the test: frames, timestamps, audio, sizes, formats."""
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from stylecam.pipeline.app.cli import main
from stylecam.pipeline.app.build import DEFAULT_PIPELINE, build_pipeline, load_yaml, override
from tests.media import audio_packets, decode_video, make_video


def transcode(tmp_path, src, out, *extra):
    result = CliRunner().invoke(main, ["transcode", str(src), str(out), "--no-progress", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_frames_timestamps_and_audio_survive(tmp_path, tiny_style):
    src = make_video(tmp_path / "in.mp4", frames=24, width=64, height=48, fps=12, audio=True)
    out = tmp_path / "out.mp4"
    result = transcode(tmp_path, src, out, "--style", str(tiny_style), "--stats-json", str(tmp_path / "s.json"))
    a, b = decode_video(src), decode_video(out)
    assert len(b) == len(a) == 24
    assert [t for t, _ in b] == pytest.approx([t for t, _ in a], abs=1e-6)
    assert b[0][1].shape == (48, 64, 3)
    pa, pb = audio_packets(src), audio_packets(out)
    assert len(pa) > 5 and pb == pa  # copied byte for byte, not re-encoded
    assert "end-to-end" in result.output
    assert not list(tmp_path.glob(".*.part"))


def test_odd_time_base_and_start_offset_are_kept(tmp_path, tiny_style):
    src = make_video(tmp_path / "in.mkv", frames=10, fps=25, audio=False, time_base=Fraction(1, 1000), start_pts=480)
    out = tmp_path / "out.mkv"
    transcode(tmp_path, src, out, "--style", str(tiny_style))
    assert [t for t, _ in decode_video(out)] == pytest.approx([t for t, _ in decode_video(src)], abs=1e-3)


def test_the_output_is_stylised_and_strength_zero_is_the_input(tmp_path, tiny_style):
    src = make_video(tmp_path / "in.mp4", frames=4, width=64, height=48, audio=False)
    styled, plain = tmp_path / "styled.mp4", tmp_path / "plain.mp4"
    transcode(tmp_path, src, styled, "--style", str(tiny_style))
    transcode(tmp_path, src, plain, "--style", str(tiny_style), "--strength", "0")
    original = decode_video(src)[2][1].astype(int)
    assert np.abs(decode_video(plain)[2][1].astype(int) - original).mean() < 3  # only codec loss
    assert np.abs(decode_video(styled)[2][1].astype(int) - original).mean() > 10


@pytest.mark.parametrize("width,height,pix_fmt,codec", [
    (641, 479, "yuv444p", "libx264"),   # odd sides
    (64, 48, "gray", "ffv1"),           # grayscale
    (64, 48, "yuv420p10le", "libx264"),  # 10-bit
])
def test_odd_sizes_grayscale_and_10_bit_just_work(tmp_path, tiny_style, width, height, pix_fmt, codec):
    src = make_video(tmp_path / "in.mkv", frames=3, width=width, height=height, pix_fmt=pix_fmt, codec=codec, audio=False)
    out = tmp_path / "out.mp4"
    transcode(tmp_path, src, out, "--style", str(tiny_style))
    frames = decode_video(out)
    assert len(frames) == 3
    h, w = frames[0][1].shape[:2]
    assert (w, h) == (width + width % 2, height + height % 2)  # 4:2:0 needs even sides


def test_image_to_image_and_folder_to_folder(tmp_path, tiny_style):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (w, h) in {"a.png": (40, 30), "b.jpg": (1, 1), "c.png": (33, 17)}.items():
        cv2.imwrite(str(folder / name), np.full((h, w, 3), 90, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    transcode(tmp_path, folder / "a.png", tmp_path / "a_out.png", "--style", str(tiny_style))
    assert cv2.imread(str(tmp_path / "a_out.png")).shape == (30, 40, 3)
    transcode(tmp_path, folder, tmp_path / "styled", "--style", str(tiny_style))
    written = {p.name: cv2.imread(str(p)).shape for p in (tmp_path / "styled").iterdir()}
    assert written == {"a.png": (30, 40, 3), "b.jpg": (1, 1, 3), "c.png": (17, 33, 3)}


def test_seed_spellings(tmp_path, tiny_style):
    src = make_video(tmp_path / "in.mp4", frames=3, audio=False)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["transcode", "--model", str(tiny_style), "--input", str(src), "--output", str(out),
                                       "--image-size", "32", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(decode_video(out)) == 3


def test_run_with_the_default_pipeline_and_overrides(tmp_path, tiny_style):
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["run", str(DEFAULT_PIPELINE), "--output", str(out), "--style", str(tiny_style),
                                       "--image-size", "32", "--duration", "60"])
    assert result.exit_code == 0, result.output
    assert len(decode_video(out)) == 120  # testsrc: 4 s at 30 fps, as pipeline.yaml says


def test_fan_out_to_a_file_and_an_image_folder(tmp_path, tiny_style):
    src = make_video(tmp_path / "in.mp4", frames=5, audio=False)
    spec = override(load_yaml(DEFAULT_PIPELINE), input=str(src), style=str(tiny_style))
    spec["sinks"] = [{"type": "file", "path": str(tmp_path / "o.mp4")}, {"type": "images", "path": str(tmp_path / "frames")}]
    report = build_pipeline(spec, device="cpu").run()
    assert report.frames_out == 5
    assert len(decode_video(tmp_path / "o.mp4")) == 5 and len(list((tmp_path / "frames").glob("*.png"))) == 5


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "shared/data/video").is_dir(), reason="../shared/data not present")
def test_a_real_clip(tmp_path, tiny_style):
    clip = Path(__file__).resolve().parents[2] / "shared/data/video/intel_talking_head_man_head_pose_480x270_12fps.mp4"
    out = tmp_path / "talk.mp4"
    transcode(tmp_path, clip, out, "--style", str(tiny_style), "--image-size", "64")
    assert len(decode_video(out)) == len(decode_video(clip)) == 62
