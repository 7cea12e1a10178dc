"""Live style interpolation: two styles mixed in weight space, every mix step prepared at open."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylecam.models.blend import blend_state_dicts
from stylecam.models.checkpoint import load_checkpoint, save_checkpoint
from stylecam.models.transformer_net import TransformerNet
from stylecam.pipeline.engine import Pipeline
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError
from stylecam.stages.controls import LiveControls
from stylecam.stages.inference import Inference
from stylecam.stages.sources import TestPatternSource
from stylecam.stages.transforms import Postprocess, Preprocess
from tests.test_live import SwitchAt

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    d = tmp_path_factory.mktemp("mix")
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        paths.append(d / f"s{seed}.safetensors")
        save_checkpoint(paths[-1], TransformerNet(width=4, blocks=1), style=f"s{seed}")
    return [str(p) for p in paths]


def outputs(stage, x):
    return stage.process([Frame(x.clone(), 0)])[0].data


@pytest.mark.parametrize("backend,tolerance", [("torch", 0.0), ("onnxruntime", 1e-4)])
def test_mix_0_and_1_are_the_two_styles_and_between_is_their_blend(two_styles, backend, tolerance):
    x = torch.randint(0, 256, (3, 48, 64), dtype=torch.uint8)
    a, b = (load_checkpoint(p).build() for p in two_styles)
    blended = TransformerNet(width=4, blocks=1).eval()
    blended.load_state_dict(blend_state_dicts([(a.state_dict(), 0.7), (b.state_dict(), 0.3)]))
    with torch.no_grad():
        expected = {m: net(x[None].float() / 255)[0].clamp(0, 1) for m, net in ((0.0, a), (1.0, b), (0.3, blended))}
    for mix in (0.0, 1.0, 0.3):
        stage = Inference(two_styles[0], backend=backend, device="cpu", mix_with=two_styles[1], mix=mix)
        stage.open(Context(device="cpu"))
        assert (outputs(stage, x) - expected[mix]).abs().max().item() <= tolerance, mix
        stage.close()


def test_changing_the_mix_live_loses_no_frame_and_computes_nothing_on_the_frame_path(two_styles):
    controls = LiveControls(styles=[two_styles[0]])
    ctx = Context(device="cpu")
    ctx.extras["controls"] = controls
    inference = Inference(two_styles[0], mix_with=two_styles[1], backend="torch")
    keys = SwitchAt(controls, {4: "]", 5: "]", 6: "]", 20: "["})
    source = TestPatternSource(64, 48, frames=40)
    report = Pipeline(source, [Preprocess(), inference, Postprocess()], [keys], ctx, queue_size=1).run()
    assert report.frames_out == 40 == len(keys.frames) and report.dropped == 0
    assert sorted(inference._mixed) == [round(i / 10, 6) for i in range(11)]  # all prepared at open
    assert controls.mix == 0.2
    mixed = inference._mixed[0.3]  # what the frames after the third ] (and before the [) were stylised with
    x = torch.from_numpy(source.render(15)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        want = (mixed(x)[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(keys.frames[15].astype(int) - want).max() <= 1


def test_mixing_needs_one_architecture_and_two_styles(two_styles, tmp_path):
    from stylecam.models.fast_net import FastNet

    save_checkpoint(tmp_path / "fast.safetensors", FastNet(width=4, blocks=1), style="fast")
    with pytest.raises(StageError, match="one architecture"):
        Inference(two_styles[0], mix_with=str(tmp_path / "fast.safetensors")).open(Context(device="cpu"))
    for args in (["--style", two_styles[0], "--mix", "0.5"], ["--style", "a", "--style", "b", "--style", "c"]):
        result = subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", "live", "--source", "testsrc", *args],
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode != 0 and "Traceback" not in result.stderr and "--style" in result.stderr


def test_a_style_with_a_full_width_network_mixes_at_half_width_with_one_without(tmp_path, monkeypatch):
    """On CUDA `--style starry_night --style udnie` would pair a full-width network with udnie's half-width
    one (udnie has no full): the mix takes both styles' half-width networks instead."""
    for style, widths in (("wide", (4, 8)), ("narrow", (4,))):
        for width in widths:
            torch.manual_seed(width)
            kind = "full" if width == 8 else "half"
            save_checkpoint(tmp_path / f"{style}-{kind}.safetensors", TransformerNet(width=width, blocks=1), style=style,
                            style_cfg={"style": style, "network": kind})
    monkeypatch.setenv("STYLECAM_STYLES", str(tmp_path))
    stage = Inference("wide", backend="torch", device="cpu", network="full", mix_with="narrow", mix=0.5)
    stage.open(Context(device="cpu"))
    try:
        assert stage._mixed[0.0].net.arch()["width"] == 4 and stage._mixed[1.0].net.arch()["width"] == 4
    finally:
        stage.close()
    alone = Inference("wide", backend="torch", device="cpu", network="full")  # no mix: the network asked for
    alone.open(Context(device="cpu"))
    try:
        assert alone.net.net.arch()["width"] == 8
    finally:
        alone.close()
