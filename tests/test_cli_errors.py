"""Bad input through the real command line: one clear line, non-zero exit, no traceback, no output
that looks complete. Also Ctrl-C on a running transcode."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import decode_video, make_audio_only, make_video
from tests.processes import interrupt_when

ROOT = Path(__file__).resolve().parent.parent


def stylecam(*args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, **kw)


def assert_clean_failure(result, *expect):
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("stylecam: error:")
    for word in expect:
        assert word in err, err


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    good = make_video(d / "good.mp4", frames=6, audio=False)
    (d / "text.mp4").write_text("this is not a video\n")
    data = good.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    make_audio_only(d / "audio_only.m4a")
    (d / "corrupt.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage" + os.urandom(64))
    (d / "bad.yaml").write_text("source: {type: testsrc\nsinks: [")
    (d / "no_photos").mkdir()
    return d


@pytest.mark.parametrize("input_name,extra,expect", [
    ("missing.mp4", [], ["not found", "missing.mp4"]),
    ("text.mp4", [], ["not a readable video"]),
    ("truncated.mp4", [], ["truncated"]),
    ("audio_only.m4a", [], ["no video stream"]),
    ("good.mp4", ["--style", "no_such_style"], ["unknown style", "no_such_style"]),
    ("good.mp4", ["--style", "corrupt.safetensors"], ["corrupt.safetensors"]),
    ("good.mp4", ["--precision", "int8"], ["int8 needs calibration"]),
    ("good.mp4", ["--precision", "int8", "--calibration", "no_photos"], ["no images in the calibration folder"]),
])
def test_bad_inputs(media, input_name, extra, expect):
    out = media / f"out_{input_name}.mp4"
    result = stylecam("transcode", input_name, out.name, *extra, cwd=media)
    assert_clean_failure(result, *expect)
    assert not out.exists()
    assert not list(media.glob(".*.part"))


def test_invalid_yaml(media):
    assert_clean_failure(stylecam("run", media / "bad.yaml"), "not valid YAML", "line")


def test_unwritable_output(media, tmp_path):
    assert_clean_failure(stylecam("transcode", media / "good.mp4", tmp_path / "no" / "such" / "dir" / "o.mp4"), "does not exist")
    assert_clean_failure(stylecam("transcode", media / "good.mp4", "/proc/o.mp4"), "not writable")


def test_debug_shows_the_traceback(media):
    result = stylecam("--debug", "transcode", "missing.mp4", "o.mp4", cwd=media)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_ctrl_c_leaves_a_playable_file(tmp_path):
    out = tmp_path / "out.mp4"
    part = tmp_path / ".out.mp4.part"
    code, err = interrupt_when(["transcode", "testsrc", out, "--style", "random", "--image-size", "32", "--no-progress"],
                               lambda: part.exists() and part.stat().st_size > 2000, [signal.SIGINT])
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    frames = decode_video(out)
    assert 0 < len(frames) < 120  # a valid file holding the frames processed so far
    assert not part.exists()


def test_cli_choices_match_the_stages():
    """The CLI lists backend/network choices without importing torch; they must match the code's."""
    from stylecam.models.styles import NETWORKS
    from stylecam.pipeline.app.cli import BACKEND_CHOICES, NETWORK_CHOICES, PRECISION_CHOICES
    from stylecam.models.runtimes import BACKENDS, PRECISIONS

    assert BACKEND_CHOICES == list(BACKENDS) and NETWORK_CHOICES == list(NETWORKS)
    assert PRECISION_CHOICES == list(PRECISIONS)


EARLY = """
import sys
from stylecam.pipeline.app.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    print("exit", exit.code, "torch loaded" if "torch" in sys.modules else "torch not loaded")
"""


@pytest.mark.parametrize("args,expect", [
    (["transcode", "missing.mp4", "o.mp4"], "input not found"),
    (["transcode", "testsrc", "o.mp4", "--stats-json", "no/such/dir/s.json"], "--stats-json"),
    (["run", "--input", "missing.mp4", "--output", "o.mp4"], "input not found"),
    (["export", "starry_night", "no/such/dir/m.onnx"], "does not exist"),
    (["bench", "--json", "no/such/dir/b.json"], "--json"),
    (["eval", "missing.mp4"], "input not found"),
    (["transcode", "testsrc", "o.mp4", "--stats-json", "/proc/s.json"], "not writable"),
])
def test_user_mistakes_are_reported_before_torch_loads(tmp_path, args, expect):
    result = subprocess.run([sys.executable, "-c", EARLY, *args], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert "exit 1 torch not loaded" in result.stdout, (result.stdout, result.stderr)
    assert_clean_failure(subprocess.CompletedProcess(args, 1, "", result.stderr), expect)
    assert list(tmp_path.iterdir()) == []


def test_a_stage_chain_that_does_not_fit_names_both_stages(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text("source: {type: testsrc, frames: 3}\nstages:\n  - {type: inference, style: random}\n"
                    "  - {type: postprocess}\nsinks: [{type: 'null'}]\n")
    assert_clean_failure(stylecam("run", spec), "stages[0] (inference)", "source (testsrc)", "preprocess")
    spec.write_text("source: {type: testsrc, frames: 3}\nstages:\n  - {type: preprocess}\n  - {type: inference, style: random}\n"
                    f"sinks: [{{type: file, path: {tmp_path / 'o.mp4'}}}]\n")
    assert_clean_failure(stylecam("run", spec), "sinks[0] (file)", "stages[1] (inference)", "postprocess")


def test_preflight_suffixes_match_the_stages():
    """The early checks keep their own copy of the suffix tables (the stages' import av and cv2)."""
    from stylecam.pipeline.app.preflight import IMAGE_SUFFIXES, OUTPUT_VIDEO_SUFFIXES
    from stylecam.pipeline.images import IMAGE_SUFFIXES as STAGE_IMAGES
    from stylecam.stages.sinks import CONTAINER_FORMATS

    assert IMAGE_SUFFIXES == STAGE_IMAGES and OUTPUT_VIDEO_SUFFIXES == set(CONTAINER_FORMATS)
