"""Live mode: bounded latency when the camera outruns inference, hotkey controls, bad input."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from stylecam.models.checkpoint import save_checkpoint
from stylecam.models.styles import load_style
from stylecam.models.transformer_net import TransformerNet
from stylecam.pipeline.engine import Pipeline
from stylecam.pipeline.stage import Context
from stylecam.stages.controls import LiveControls
from stylecam.stages.inference import Inference
from stylecam.stages.sources import TestPatternSource, VideoFileSource
from stylecam.stages.transforms import Postprocess, Preprocess
from tests.media import make_video

ROOT = Path(__file__).resolve().parent.parent


class LatencySink:
    """Records each frame's end-to-end latency as it arrives."""

    name = "latency"

    def __init__(self):
        self.latency_ms, self.seqs = [], []

    def open(self, ctx):
        pass

    def process(self, frame):
        self.latency_ms.append(1000 * (time.perf_counter() - frame.t_capture))
        self.seqs.append(frame.seq)

    def close(self):
        pass


class AtLeast:
    """Makes the inference stage take at least `seconds` a frame: a stand-in for a CPU too slow for the
    camera (how fast the real network runs depends on the machine, and these tests must not)."""

    def __init__(self, stage, seconds):
        self.stage, self.seconds = stage, seconds
        self.name, self.batch_size, self.workers = stage.name, 1, 1

    def open(self, ctx):
        self.stage.open(ctx)
        self.stage.workers = 1

    def process(self, item):
        t0 = time.perf_counter()
        out = self.stage.process(item)
        time.sleep(max(0.0, self.seconds - (time.perf_counter() - t0)))
        return out

    def close(self):
        self.stage.close()


def styled(source, size="320x240", queue_size=2, sink=None):
    # Inference takes at least 50 ms a frame: 20 fps behind a 60 fps camera, on any machine.
    sink = sink or LatencySink()
    stages = [Preprocess(size=size), AtLeast(Inference("random", batch_size=1), 0.05), Postprocess()]
    return Pipeline(source, stages, [sink], Context(device="cpu"), queue_size=queue_size), sink


def test_latency_stays_bounded_when_the_source_outruns_inference():
    pipeline, sink = styled(TestPatternSource(640, 480, fps=60, duration=4, live=True))
    report = pipeline.run()
    assert report.dropped > 0 and report.frames_in == 240
    assert report.frames_out + report.dropped == report.frames_in
    lat = np.array(sink.latency_ms[3:])
    early, late = lat[: len(lat) // 2], lat[len(lat) // 2:]
    infer_p95 = next(s.p95_ms for s in report.stages if s.name == "inference")
    # Bounded: a frame waits at most for the frames in 3 queues of 2 plus its own pass, whatever the run length.
    assert np.percentile(late, 95) < 8 * infer_p95 + 200, (lat, infer_p95)
    assert np.percentile(late, 95) < 2 * np.percentile(early, 95) + 200  # no growth over time


def test_the_same_pipeline_on_a_file_loses_nothing(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=20, width=640, height=480, audio=False)
    pipeline, sink = styled(VideoFileSource(str(src)))
    report = pipeline.run()
    assert report.dropped == 0 and sink.seqs == list(range(20))


def test_realtime_file_source_is_live_and_drops(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=60, width=640, height=480, fps=60, audio=False)
    pipeline, sink = styled(VideoFileSource(str(src), realtime=True))
    report = pipeline.run()
    assert report.queues[0].policy == "leaky" and report.dropped > 0
    assert report.wall_s >= 0.9  # 60 frames at 60 fps are played over a second, not decoded at once


class SwitchAt:
    """Presses hotkeys at given frames, as the preview window does."""

    name = "keys"

    def __init__(self, controls, keys):
        self.controls, self.keys, self.frames = controls, keys, []

    def open(self, ctx):
        pass

    def process(self, frame):
        self.frames.append(frame.data.copy())
        for key in self.keys.get(frame.seq, ""):
            self.controls.handle_key(key)

    def close(self):
        pass


def test_hotkeys_switch_style_and_bypass_without_restarting(tmp_path):
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"s{seed}.safetensors")
        save_checkpoint(paths[-1], TransformerNet(width=4, blocks=1), style=f"s{seed}")
    controls = LiveControls(styles=[str(p) for p in paths])
    keys = SwitchAt(controls, {3: "n", 10: "b"})
    ctx = Context(device="cpu")
    ctx.extras["controls"] = controls
    inference = Inference(str(paths[0]), backend="onnxruntime")  # fp32, as the expected frames
    source = TestPatternSource(64, 48, frames=14)
    Pipeline(source, [Preprocess(), inference, Postprocess()], [keys], ctx, queue_size=1).run()
    assert set(inference._loaded) == {str(p) for p in paths}  # both loaded before the first frame

    def expected(style, n):
        net, _ = load_style(style)
        x = torch.from_numpy(source.render(n)).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            return (net(x)[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    assert np.abs(keys.frames[2].astype(int) - expected(str(paths[0]), 2)).max() <= 1
    # queue_size 1: the frames already past inference (three queues and stages, and one per inference
    # worker) still show the old style, so the switch shows within a few frames, not at once
    assert any(np.abs(keys.frames[n].astype(int) - expected(str(paths[1]), n)).max() <= 1 for n in range(5, 11))
    assert np.array_equal(keys.frames[13], source.render(13))  # bypass shows the original


def test_handle_key():
    c = LiveControls(styles=["a", "b", "c"])
    assert c.handle_key("p") == "style: c" and c.handle_key("n") == "style: a"
    for _ in range(3):
        c.handle_key("-")
    assert c.strength == pytest.approx(0.7)
    c.handle_key("+")
    assert c.strength == pytest.approx(0.8)
    assert c.handle_key("m") and c.mirror_preview
    assert c.handle_key("x") is None
    c.handle_key("q")
    assert c.quit


def stylecam(*args, env=None):
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("args,expect", [
    (["--source", "7"], "no webcam at 7"),
    (["--source", "testsrc", "--vcam", "/dev/video55"], "sudo modprobe v4l2loopback"),
    (["--source", "testsrc", "--style", "nope"], "unknown style 'nope'"),
    (["--source", "testsrc", "--preview"], "no display"),
])
def test_live_bad_input(args, expect):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = stylecam("live", *args, "--duration", "5", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)")
def test_preview_window_hotkeys_under_xvfb(tmp_path):
    # -displayfd: Xvfb picks a free display and writes its number once it accepts clients, so the test
    # neither collides with another X server nor starts the preview before the server is up.
    ready_r, ready_w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(ready_w), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            stderr=subprocess.DEVNULL, pass_fds=(ready_w,))
    os.close(ready_w)
    live = None
    try:
        with os.fdopen(ready_r) as ready:
            display = ":" + ready.readline().strip()
        assert display != ":", "Xvfb did not start"
        env = dict(os.environ, DISPLAY=display)
        live = subprocess.Popen([sys.executable, "-m", "stylecam.pipeline.app.cli", "live", "--source", "testsrc", "--preview",
                                 "--size", "160x120", "--duration", "120", "--stats-json", str(tmp_path / "s.json"),
                                 "--workers", "2", "--threads", "1"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        window = None
        deadline = time.time() + 90
        while time.time() < deadline and window is None:
            found = subprocess.run(["xdotool", "search", "--name", "stylecam"], env=env, capture_output=True, text=True)
            window = found.stdout.split()[0] if found.stdout.strip() else None
            time.sleep(0.5)
        assert window, "the preview window never appeared"
        time.sleep(1.5)
        for key in ("b", "o", "q"):  # real key presses (XTEST) into the focused window; there is no window manager
            subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, capture_output=True)
            subprocess.run(["xdotool", "key", key], env=env, check=True)
            time.sleep(0.7)
        _, err = live.communicate(timeout=60)
        assert live.returncode == 0, err
        assert "keys: n next style" in err  # hotkeys printed at start
        assert "bypass: on" in err and "overlay: off" in err and "quit" in err
        assert (tmp_path / "s.json").is_file()  # q ended the stream normally, long before --duration
    finally:
        if live is not None and live.poll() is None:
            live.kill()  # never leave a stray stylecam behind a failed assertion
            live.wait(10)
        xvfb.terminate()
        xvfb.wait(10)


def test_an_idle_resend_sends_the_buffer_already_prepared():
    """pyvirtualcam cannot open a device here (tests/test_vcam.py runs the real one in a VM): a stand-in
    camera records what the sink hands it."""
    from stylecam.pipeline.item import Frame
    from stylecam.stages.vcam import VirtualCameraSink

    class RecordingCamera:
        def __init__(self):
            self.buffers = []

        def send(self, buffer):
            self.buffers.append(buffer)

    sink = VirtualCameraSink(mirror=True)
    sink.cam, sink.size = RecordingCamera(), (32, 24)
    first = Frame(np.zeros((48, 64, 3), np.uint8), 0)
    second = Frame(np.full((48, 64, 3), 9, np.uint8), 1)
    for frame in (first, first, first, second, second):
        sink.process(frame)
    sent = sink.cam.buffers
    assert sent[0] is sent[1] is sent[2] and sent[3] is sent[4] and sent[2] is not sent[3]  # one conversion a frame
    assert sent[0].shape == (24, 32, 3) and sent[3].flags["C_CONTIGUOUS"] and sink.sent == 5
