"""Temporal consistency: exact synthetic flow, the warping error, the temporal loss and `stylecam eval`."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from media import make_video
from stylecam.pipeline.app.evaluate import Clip, clip_flows, evaluate, mean_warping_error, stylise
from stylecam.pipeline.cpu_model import cpu_model
from stylecam.train.motion import synthetic_clip, synthetic_pair, temporal_loss, warp_image, warp_tensor

ROOT = Path(__file__).resolve().parent.parent


def smooth_photo(h: int = 600, w: int = 800, seed: int = 0) -> np.ndarray:
    """Blurred noise: texture everywhere (so flow has something to lock on) but smooth enough that two
    bilinear resamplings agree closely."""
    rng = np.random.default_rng(seed)
    blurred = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 4)
    return cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX)  # full contrast


def test_synthetic_pair_flow_is_exact():
    """x2 is x warped by the returned flow: OpenCV's remap, an independent implementation, agrees."""
    x = torch.from_numpy(smooth_photo(96, 128)).permute(2, 0, 1)[None].float() / 255
    x2, flow, inside = synthetic_pair(x, torch.Generator().manual_seed(3), noise=0.0)
    assert flow.abs().max() > 1.0  # it really moved
    ours = (x2[0].permute(1, 2, 0).numpy() * 255)
    theirs, inside_cv = warp_image(x[0].permute(1, 2, 0).numpy() * 255, flow[0].numpy())
    m = inside_cv & inside[0, 0].bool().numpy()
    assert m.mean() > 0.7
    exact = np.abs(ours - theirs)[m].mean()
    unmoved = np.abs(ours - x[0].permute(1, 2, 0).numpy() * 255)[m].mean()
    assert exact < 0.5 and exact < 0.1 * unmoved, (exact, unmoved)  # out of 255: interpolation rounding only


def test_still_camera_pairs_move_only_some_regions_and_their_flow_is_exact():
    x = torch.from_numpy(smooth_photo(96, 128)).permute(2, 0, 1)[None].float().repeat(4, 1, 1, 1) / 255
    x2, flow, inside = synthetic_pair(x, torch.Generator().manual_seed(5), noise=0.0, still=1.0)
    magnitude = flow.norm(dim=-1)
    assert 0.3 < (magnitude < 1e-6).float().mean() < 0.95  # a still background ...
    assert magnitude.max() > 1.0  # ... and regions that really move
    assert inside.mean() > 0.95  # the camera does not move: only moving regions at the border leave it
    for i in range(4):
        theirs, _ = warp_image(x[i].permute(1, 2, 0).numpy() * 255, flow[i].numpy())
        assert np.abs(x2[i].permute(1, 2, 0).numpy() * 255 - theirs).mean() < 0.5
    still_pixels = (magnitude < 1e-6).unsqueeze(1).expand_as(x)
    assert (x2[still_pixels] - x[still_pixels]).abs().max() < 1e-4  # without noise the background is untouched


def test_temporal_loss_is_zero_for_a_pointwise_network_and_not_for_a_shifting_one():
    x = torch.from_numpy(smooth_photo(64, 64)).permute(2, 0, 1)[None].float() / 255
    x2, flow, inside = synthetic_pair(x, torch.Generator().manual_seed(1), noise=0.0)
    pointwise = lambda t: 1 - t  # commutes with any warp  # noqa: E731
    commuting = temporal_loss(pointwise(x), pointwise(x2), flow, inside)
    shifting = lambda t: torch.roll(t, 3, dims=-1)  # noqa: E731
    assert commuting < 1e-5 and temporal_loss(shifting(x), shifting(x2), flow, inside) > 100 * commuting


def test_synthetic_clip_flow_is_exact():
    frames, flows = synthetic_clip(smooth_photo(), 8, (160, 120))
    assert len(frames) == 8 and len(flows) == 7 and frames[0].shape == (120, 160, 3)
    for a, b, flow in zip(frames, frames[1:], flows):
        warped, inside = warp_image(b, flow)
        exact = np.abs(a.astype(float) - warped)[inside].mean()
        unmoved = np.abs(a.astype(float) - b)[inside].mean()
        assert np.abs(flow).max() > 1.0
        near_miss = np.abs(a.astype(float) - warp_image(b, 0.8 * flow)[0])[inside].mean()
        # what is left is bilinear resampling of full-contrast texture, well under an 80%-right flow
        assert exact < 3 and exact < 0.1 * unmoved and exact < 0.6 * near_miss, (exact, near_miss, unmoved)


def test_warping_error_of_a_static_clip_is_zero_and_grows_with_flicker(tiny_style):
    photo = smooth_photo(96, 128)
    clip = Clip([photo.copy() for _ in range(5)], None, "static")
    flows = clip_flows(clip, "dis")
    out, fps = stylise(clip.frames, str(tiny_style), None, "torch", "cpu")
    assert fps > 0
    assert mean_warping_error(out, flows) < 1e-6  # deterministic network, no motion: no flicker
    errors = []
    for amount in (4, 16, 48):  # brightness going up and down frame to frame, in levels of 255
        flicker = [np.clip(o.astype(int) + (-1) ** i * amount, 0, 255).astype(np.uint8) for i, o in enumerate(out)]
        errors.append(mean_warping_error(flicker, flows))
        assert mean_warping_error(flicker, flows, still_only=True) == pytest.approx(errors[-1])  # nothing moves
    assert 0 < errors[0] < errors[1] < errors[2]


def test_warping_error_uses_the_flow(tiny_style):
    """On a moving synthetic clip, exact flow gives a far lower error for the input itself than no flow."""
    frames, flows = synthetic_clip(smooth_photo(), 6, (128, 96))
    clip = Clip(frames, flows, "synthetic")
    with_flow = mean_warping_error(frames, clip_flows(clip, "dis"))
    zero = [(np.zeros_like(f), np.ones(f.shape[:2], bool)) for f in flows]
    assert with_flow < 0.3 * mean_warping_error(frames, zero)
    result, outputs = evaluate(clip, [str(tiny_style)], losses=False)
    row = result["styles"][str(tiny_style)]
    assert set(row) == {"e_warp", "e_warp_still", "fps", "others_cpu"} and len(outputs[str(tiny_style)]) == 6
    assert row["others_cpu"] is None or 0 <= row["others_cpu"] <= 1  # tests/test_machine_load.py measures it
    assert row["e_warp_still"] is None  # the whole synthetic frame moves: there is no still part to measure


def stylecam(*args):
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_eval_cli_on_a_video_and_on_a_photo(tiny_style, tmp_path):
    video = make_video(tmp_path / "clip.mp4", frames=6, width=64, height=48, audio=False)
    out = tmp_path / "e.json"
    r = stylecam("eval", video, "--style", tiny_style, "--style", "random", "--no-losses", "--json", out,
                 "--strip", tmp_path / "strip.png")
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["frames"] == 6 and result["flow"] == "dis" and result["input_e_warp"] >= 0
    assert result["cpu"] == cpu_model()  # every fps names the CPU it was taken on
    assert set(result["styles"]) == {str(tiny_style), "random"}
    assert cv2.imread(str(tmp_path / "strip.png")).shape[0] == 3 * 160

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), smooth_photo())
    r = stylecam("eval", photo, "--style", tiny_style, "--frames", 4, "--no-losses", "--json", out)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["flow"] == "exact (synthetic)"


@pytest.mark.parametrize("args, expect", [
    (["missing.mp4"], "input not found"),
    (["{photo}", "--style", "nope"], "unknown style"),
    (["{photo}", "--style", "random"], "no style image known"),
])
def test_eval_bad_input(tmp_path, args, expect):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), smooth_photo(64, 64))
    r = stylecam("eval", *[a.format(photo=photo) for a in args], "--frames", 3)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_warp_tensor_matches_numpy_warp():
    x = smooth_photo(40, 50).astype(np.float32)
    flow = np.dstack([np.full((40, 50), 2.5, np.float32), np.full((40, 50), -1.25, np.float32)])
    ours, inside = warp_tensor(torch.from_numpy(x).permute(2, 0, 1)[None], torch.from_numpy(flow)[None])
    theirs, inside_np = warp_image(x, flow)
    m = inside_np & inside[0, 0].bool().numpy()
    assert np.abs(ours[0].permute(1, 2, 0).numpy() - theirs)[m].max() < 0.5


def test_video_grain_is_unit_variance_and_spatially_correlated_like_codec_noise():
    from stylecam.train.motion import video_grain

    gen = torch.Generator().manual_seed(0)
    white = video_grain((2, 3, 96, 96), torch.zeros(2), gen)
    blurred = video_grain((2, 3, 96, 96), torch.full((2,), 2.0), gen)

    def lag_corr(n: torch.Tensor, lag: int) -> float:
        return torch.corrcoef(torch.stack([n[..., :-lag].flatten(), n[..., lag:].flatten()]))[0, 1].item()

    for n in (white, blurred):
        assert n.std().item() == pytest.approx(1.0, abs=0.05)
    assert abs(lag_corr(white, 2)) < 0.05 < 0.3 < lag_corr(blurred, 2)  # white has none, blurred a few pixels' worth
    channels = torch.corrcoef(blurred.permute(1, 0, 2, 3).reshape(3, -1))
    assert 0.3 < channels[0, 1].item() < 0.7  # half shared between R, G and B, as measured on the clips


def test_still_pairs_with_video_grain_keep_their_exact_flow():
    x = torch.rand(4, 3, 64, 64)
    a = synthetic_pair(x, torch.Generator().manual_seed(5), noise=0.0, still=1.0)
    b = synthetic_pair(x, torch.Generator().manual_seed(5), noise=0.0, still=1.0, grain_px=3.0)
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])  # no noise: grain changes nothing else
    noisy = synthetic_pair(x, torch.Generator().manual_seed(5), noise=0.01, still=1.0, grain_px=3.0)[0]
    assert 0 < (noisy - a[0]).abs().mean() < 0.02
