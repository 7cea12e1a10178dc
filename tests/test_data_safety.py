"""Users' data is never lost: no run writes over its input, a failed run leaves an earlier output as it
was, every signal leaves the finished output or nothing, and files get the umask's permissions."""
import os
import signal
import time
import stat
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylecam.pipeline.engine import Pipeline, PipelineError
from stylecam.pipeline.stage import Context
from stylecam.stages.sinks import ImageSink, VideoFileSink
from stylecam.stages.sources import TestPatternSource
from tests.media import decode_video, make_video
from tests.processes import interrupt_when

ROOT = Path(__file__).resolve().parent.parent


def stylecam(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def one_clear_line(result, *words):
    err = result.stderr.strip()
    assert result.returncode != 0 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("stylecam: error:") and all(w in err for w in words), err


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- output == input -------------------------------------------------------------------------------

def test_output_that_is_the_input_is_refused_in_every_spelling(tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=6, audio=False)
    (tmp_path / "sub").mkdir()
    os.symlink(clip, tmp_path / "link.mp4")
    before = snapshot(tmp_path)
    for spelling in ("in.mp4", "./in.mp4", "sub/../in.mp4", str(clip), "link.mp4"):
        one_clear_line(stylecam("transcode", "in.mp4", spelling, "--style", "random", cwd=tmp_path), "is the input")
    assert snapshot(tmp_path) == before


def test_an_image_folder_is_never_its_own_output(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(photos / name), np.full((24, 32, 3), 90, np.uint8))
    before = snapshot(tmp_path)
    one_clear_line(stylecam("transcode", photos, photos, "--style", "random"), "input")
    one_clear_line(stylecam("transcode", photos, tmp_path / "photos" / ".", "--style", "random"), "input")
    one_clear_line(stylecam("transcode", photos / "a.png", photos, "--style", "random"), "written over")
    assert snapshot(tmp_path) == before


def test_a_video_into_a_single_image_fails_before_writing(tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=6, audio=False)
    existing = tmp_path / "still.png"
    cv2.imwrite(str(existing), np.full((8, 8, 3), 7, np.uint8))
    before = existing.read_bytes()
    one_clear_line(stylecam("transcode", clip, existing, "--style", "random"), "single image", "folder")
    one_clear_line(stylecam("transcode", clip, tmp_path / "new.png", "--style", "random"), "single image")
    one_clear_line(stylecam("transcode", "testsrc", tmp_path / "new.png", "--style", "random"), "single image")
    assert existing.read_bytes() == before and not (tmp_path / "new.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "still.png"]


# -- a failed run keeps what was there -------------------------------------------------------------

class FailAt:
    """Raises at frame `n`: a stand-in for any failure half way (a decode error, a full disk)."""

    name = "boom"

    def __init__(self, n):
        self.n = n

    def open(self, ctx):
        pass

    def process(self, frame):
        if frame.seq == self.n:
            raise RuntimeError("failed half way")
        return frame

    def close(self):
        pass


def test_a_failed_run_leaves_an_earlier_video_untouched(tmp_path):
    out = tmp_path / "out.mp4"
    make_video(out, frames=3, audio=False)
    before = out.read_bytes()
    pipeline = Pipeline(TestPatternSource(64, 48, frames=40), [FailAt(20)], [VideoFileSink(str(out))], Context())
    with pytest.raises(PipelineError, match="failed half way"):
        pipeline.run()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no .part left


def test_a_failed_run_leaves_an_earlier_image_folder_untouched(tmp_path):
    folder = tmp_path / "styled"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame_000001.png"), np.full((8, 8, 3), 3, np.uint8))
    before = snapshot(folder)
    with pytest.raises(PipelineError):
        Pipeline(TestPatternSource(32, 24, frames=10), [FailAt(5)], [ImageSink(str(folder))], Context()).run()
    assert snapshot(folder) == before and sorted(p.name for p in folder.iterdir()) == ["frame_000001.png"]
    with pytest.raises(PipelineError):  # a folder the run created is gone again
        Pipeline(TestPatternSource(32, 24, frames=10), [FailAt(5)], [ImageSink(str(tmp_path / "new"))], Context()).run()
    assert not (tmp_path / "new").exists()
    Pipeline(TestPatternSource(32, 24, frames=10), [], [ImageSink(str(folder))], Context()).run()
    assert len(list(folder.glob("frame_*.png"))) == 10 and not list(folder.glob(".*"))


# -- training never writes over its inputs or an earlier run ---------------------------------------

def test_training_refuses_to_overwrite_init_teacher_or_an_earlier_run(tmp_path, tiny_style):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), np.full((32, 32, 3), 200, np.uint8))
    init = ckpt / "painting.safetensors"
    init.write_bytes(tiny_style.read_bytes())
    base = ["train", "--content-dir", tmp_path, "--style-image", painting, "--save-model-dir", ckpt, "--steps", 1]
    one_clear_line(stylecam(*base, "--init", init), "--init", "would write")
    one_clear_line(stylecam(*base, "--teacher", init, "--content-weight", 0, "--style-weight", 0), "--teacher", "would write")
    log = ckpt / "train_log.csv"
    log.write_text("step,content\n1,0.5\n")
    one_clear_line(stylecam(*base[:-2], "--style-name", "other", "--steps", 1), "already holds a training run", "--resume")
    assert init.read_bytes() == tiny_style.read_bytes() and log.read_text() == "step,content\n1,0.5\n"


# -- permissions -----------------------------------------------------------------------------------

def test_written_files_get_the_umask_permissions(tmp_path, tiny_style):
    result = stylecam("blend", f"{tiny_style}:0.5", f"{tiny_style}:0.5", "-o", tmp_path / "b.safetensors")
    assert result.returncode == 0, result.stderr
    result = stylecam("transcode", "testsrc", tmp_path / "o.mp4", "--style", "random", "--image-size", "32",
                      "--stats-json", tmp_path / "s.json", "--no-progress")
    assert result.returncode == 0, result.stderr
    umask = os.umask(0)
    os.umask(umask)
    for name in ("b.safetensors", "o.mp4", "s.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    one_clear_line(stylecam("blend", tiny_style, tmp_path / "b.safetensors", "-o", tiny_style), "blended")


# -- signals ---------------------------------------------------------------------------------------

def transcode_until_frames_flow(out: Path, signals: list[int]) -> tuple[int, str]:
    part = out.with_name(f".{out.name}.part")
    return interrupt_when(["transcode", "testsrc", out, "--style", "random", "--image-size", "32", "--no-progress"],
                          lambda: part.exists() and part.stat().st_size > 2000, signals)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_finish_the_output_like_ctrl_c(tmp_path, signum, code):
    out = tmp_path / "out.mp4"
    returncode, err = transcode_until_frames_flow(out, [signum])
    assert returncode == code, err
    assert "Traceback" not in err and "finishing the output" in err
    written = int(err.split("interrupted: ")[1].split(" frames")[0])
    frames = decode_video(out)
    assert 0 < len(frames) == written < 120  # playable, with every frame processed so far
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_a_second_ctrl_c_aborts_cleanly_and_keeps_an_earlier_output(tmp_path):
    out = tmp_path / "out.mp4"
    make_video(out, frames=3, audio=False)
    before = out.read_bytes()
    returncode, err = transcode_until_frames_flow(out, [signal.SIGINT, signal.SIGINT])
    assert returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("stylecam: aborted")
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


class SecondCtrlCDuringFlush(VideoFileSink):
    """The real file sink; it sends this process the first Ctrl-C at frame 10 and the second right after
    the encoder's flush wrote its first packet (the .part file then exists), which no outside timing can
    hit reliably."""

    flushing = part_existed = False

    def process(self, frame):
        super().process(frame)
        if frame.seq == 10:
            os.kill(os.getpid(), signal.SIGINT)

    def _mux(self, packet):
        super()._mux(packet)
        if self.flushing and not self.part_existed:
            self.part_existed = self.tmp.exists()
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        self.flushing = True
        super().close()


def test_a_second_ctrl_c_while_the_encoder_flushes_leaves_no_part(tmp_path):
    out = tmp_path / "out.mp4"
    sink = SecondCtrlCDuringFlush(str(out), preset="veryslow")  # a deep lookahead: the flush has frames
    pipeline = Pipeline(TestPatternSource(320, 240, frames=10_000), [], [sink], Context())
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background
    with pytest.raises(PipelineError) as info:
        pipeline.run()
    assert isinstance(info.value.cause, KeyboardInterrupt) and pipeline.interrupted
    assert sink.part_existed and sink.container is None  # aborted half way through the flush, and closed
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is before  # the handler was put back


class IgnoresTheAbort:
    """A sink (as a plugin might be) whose close() takes long and never looks at ctx.error."""

    name = "slow-close"

    def open(self, ctx):
        self.steps_done = 0

    def process(self, frame):
        pass

    def close(self):
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: end of stream is already under way
        os.kill(os.getpid(), signal.SIGINT)  # the second: the engine asks close() to stop, politely
        for step in range(500):
            time.sleep(0.01)
            if step == 10:
                os.kill(os.getpid(), signal.SIGINT)  # the third one forces it
            self.steps_done = step + 1


def test_a_third_ctrl_c_interrupts_a_close_that_ignores_the_abort():
    sink = IgnoresTheAbort()
    pipeline = Pipeline(TestPatternSource(32, 24, frames=3), [], [sink], Context())
    with pytest.raises(PipelineError) as info:
        pipeline.run()
    assert isinstance(info.value.cause, KeyboardInterrupt)
    assert 10 <= sink.steps_done < 20  # the second Ctrl-C let it run on, the third stopped it at once


class FailingOpen(VideoFileSink):
    """Fails in open() after its container was created, as a real audio-copy error does."""

    def open(self, ctx):
        super().open(ctx)
        raise OSError("failed half way through open")


def test_close_runs_for_a_stage_whose_open_failed_half_way(tmp_path):
    out = tmp_path / "out.mp4"
    sink = FailingOpen(str(out))
    with pytest.raises(PipelineError, match="failed half way through open"):
        Pipeline(TestPatternSource(32, 24, frames=5), [], [sink], Context()).run()
    assert sink.container is None and list(tmp_path.iterdir()) == []  # closed, and its .part removed
