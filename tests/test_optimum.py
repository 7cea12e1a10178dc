"""The optimum of the training loss (train/optimum.py) and `stylecam eval --optimum`'s gap to it.

A VGG16 with random weights stands in for the HED one (no download here); the optimisation and the
box do not depend on which VGG it is. Pictures are small (a short side of 32 px) to keep the 2 x 120
optimisation steps to seconds."""
import json

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from stylecam.models.vgg import CONTENT_LAYER, HED_NORM, LAYER_INDEX, STYLE_LAYERS, load_vgg
from stylecam.pipeline.app import evaluate as evaluation
from stylecam.pipeline.app.evaluate import evaluate, gap_lines, load_clip
from stylecam.train.optimum import GATYS_WEIGHTS, Box, PerceptualLoss, gatys, output_losses


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    from torchvision.models import vgg16

    torch.manual_seed(0)
    features = vgg16(weights=None).features[: LAYER_INDEX["relu4_3"] + 1]
    path = tmp_path_factory.mktemp("vgg") / "vgg_random.safetensors"
    save_file({k: v.contiguous() for k, v in features.state_dict().items()}, str(path),
              metadata={"norm": json.dumps(HED_NORM), "source": "random-for-tests"})
    return path


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    # Orange-tinted fine grain: a picture the random VGG's Grams tell from the photo and that pixels can
    # move towards (with saturated stripes its style loss barely moves in 120 steps).
    grain = (np.random.default_rng(5).integers(0, 256, (64, 64, 3)) * np.array([1.0, 0.5, 0.2])).astype(np.uint8)
    path = tmp_path_factory.mktemp("painting") / "grain.png"
    cv2.imwrite(str(path), cv2.GaussianBlur(grain, (0, 0), 1)[..., ::-1])
    return path


def photo(seed: int = 0, h: int = 32, w: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)


def test_the_optimum_lowers_its_objective_and_its_weights_span_a_box(vgg_file, painting):
    vgg = load_vgg(vgg_file, tuple(sorted(set(STYLE_LAYERS) | {CONTENT_LAYER})))
    loss = PerceptualLoss(vgg, evaluation.at_short_side(cv2.imread(str(painting))[..., ::-1].copy(), 64))
    x = evaluation.at_short_side(photo(), 32)
    c0, s0 = output_losses(loss, x, x)
    assert c0 == pytest.approx(0, abs=1e-6) and s0 > 0  # the photo itself: no distortion, not the painting
    optima = {w: gatys(loss, x, w) for w in GATYS_WEIGHTS}
    for w, (c, s) in optima.items():
        assert c + w * s < w * s0, (w, c, s, s0)  # the optimisation lowered content + w * style ...
    c5, s5 = optima[5.0]
    assert c5 + 5 * s5 < 0.9 * 5 * s0  # ... by much where style weighs most
    (c_low, s_low), (c_high, s_high) = optima[0.5], optima[5.0]
    assert s_high < s_low and c_high > c_low  # more style weight: closer to the painting, further from the photo
    box = Box.from_optima(optima)
    assert (box.style, box.content) == (s_low, c_high)
    assert box.inside(c_low, s_low) and box.inside(c_high, s_high)  # both optima lie on its edges
    assert not box.inside(c0, s0)  # the unstylised photo misses on style
    assert box.ratios(2 * box.content, box.style / 2) == pytest.approx((2.0, 0.5))
    assert box.inside(1.2 * box.content, 1.2 * box.style, slack=1.25) and not box.inside(1.2 * box.content, box.style)


def test_eval_reports_each_styles_gap_and_caches_the_optimum(vgg_file, painting, tiny_style, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    still = tmp_path / "photo.png"
    cv2.imwrite(str(still), photo(1, 96, 128))
    clip = load_clip(str(still), 4, synthetic_size=(48, 32))
    kwargs = dict(style_image=str(painting), vgg_weights=str(vgg_file), optimum_frames=2, loss_side=32)
    result, _ = evaluate(clip, [str(tiny_style), "random"], **kwargs)
    gap = result["optimum"]
    assert gap["frames"] == [0, 3] and set(gap["styles"]) == {str(tiny_style), "random"}
    for row in gap["styles"].values():
        assert row["content_ratio"] == pytest.approx(row["content_loss"] / gap["box"]["content"])
        assert row["style_ratio"] == pytest.approx(row["style_loss"] / gap["box"]["style"])
        assert row["inside"] == (row["content_ratio"] <= row["slack"] and row["style_ratio"] <= row["slack"])
    lines = gap_lines(result)
    assert len(lines) == 3 and "box = style <=" in lines[0] and all(" the box" in line for line in lines[1:])
    assert len(list((tmp_path / "cache" / "stylecam" / "optimum").glob("*.json"))) == 4  # 2 frames x 2 weights

    def no_second_optimisation(*args, **kw):
        raise AssertionError("the optimum was computed again")

    monkeypatch.setattr("stylecam.train.optimum.gatys", no_second_optimisation)
    again, _ = evaluate(clip, [str(tiny_style)], **kwargs)
    assert again["optimum"]["box"] == gap["box"]
    # the same network measured again: the optimum comes from the cache, the network's own losses from a second
    # inference, whose runtime picks its threads at run time, so the sums may differ in the last digits
    first, second = gap["styles"][str(tiny_style)], again["optimum"]["styles"][str(tiny_style)]
    assert second.keys() == first.keys() and second["inside"] == first["inside"] and second["slack"] == first["slack"]
    assert {k: second[k] for k in first if k not in ("inside", "slack")} == pytest.approx(
        {k: first[k] for k in first if k not in ("inside", "slack")}, rel=1e-2)
    assert gap_lines({"styles": {}}) == []  # without --optimum: nothing printed
