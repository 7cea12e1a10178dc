"""Weight-space blends (models/blend.py, `stylecam blend`) on the shipped checkpoints."""
import os
from pathlib import Path

import pytest
import torch

from stylecam.models.blend import (BlendError, blend_states, blend_weights, parse_layer_weights, parse_part, part_trainings,
                                   primary_training, with_temporal_loss)
from stylecam.models.checkpoint import load_checkpoint
from stylecam.models.styles import ZOO
from tests.test_cli_errors import assert_clean_failure, stylecam

TEMPORAL, PLAIN, FAST = (ZOO / f"the_scream{s}.safetensors" for s in ("", "-plain", "-fast"))


def test_parse_part_and_weights():
    assert parse_part("the_scream:0.8") == ("the_scream", 0.8)
    assert parse_part("the_scream") == ("the_scream", None)
    assert parse_part("dir:with:colons/x.safetensors") == ("dir:with:colons/x.safetensors", None)
    assert blend_weights([3.0, 1.0]) == [0.75, 0.25]
    assert blend_weights([None, None, None]) == [1 / 3] * 3
    with pytest.raises(BlendError, match="every part"):
        blend_weights([0.5, None])
    with pytest.raises(BlendError, match="positive"):
        blend_weights([1.0, -0.5])


def test_blend_is_the_weighted_average_and_self_blend_is_identity():
    a, b = load_checkpoint(TEMPORAL), load_checkpoint(PLAIN)
    mixed = blend_states([(a, 0.8), (b, 0.2)])
    for key, tensor in a.state.items():
        torch.testing.assert_close(mixed[key], 0.8 * tensor + 0.2 * b.state[key])
    assert any(not torch.equal(mixed[k], a.state[k]) for k in a.state)
    same = blend_states([(a, 0.3), (a, 0.7)])
    for key, tensor in a.state.items():
        torch.testing.assert_close(same[key], tensor, rtol=0, atol=1e-6)


def test_primary_training_follows_first_parts():
    inner = {"blend": [{"network": "x", "weight": 0.5, "training": {"steps": 7}}]}
    assert primary_training({"blend": [{"network": "b", "weight": 1.0, "training": inner}]}) == {"steps": 7}
    assert primary_training({"steps": 3}) == {"steps": 3}


def test_a_blend_is_temporal_when_any_of_its_parts_is():
    plain_rounds = {"blend": [{"network": "a-plain", "weight": 0.5, "training": {"steps": 2000, "temporal_weight": 0}},
                              {"network": "a-plain-round1", "weight": 0.5, "training": {"steps": 2000}}]}
    temporal = {"blend": [{"network": "a-tw", "weight": 0.5, "training": {"steps": 400, "temporal_weight": 1000}},
                          {"network": "a-plain", "weight": 0.5, "training": plain_rounds}]}
    assert [t["steps"] for t in part_trainings(temporal)] == [400, 2000, 2000]
    assert not with_temporal_loss(plain_rounds) and with_temporal_loss(temporal)
    assert with_temporal_loss({"temporal_weight": 500}) and not with_temporal_loss({"steps": 3})


def test_layer_weights_give_each_named_group_its_own_share():
    """--layer-weights residuals=1,decoder.6=0: the residual blocks wholly the first network, the decoder's last
    layer wholly the second (the longest prefix wins over decoder=0.5), the rest at the parts' weights."""
    a, b = load_checkpoint(TEMPORAL), load_checkpoint(PLAIN)
    weights = parse_layer_weights("residuals=1, decoder=0.5,decoder.6=0")
    mixed = blend_states([(a, 0.3), (b, 0.7)], weights)
    for key, tensor in a.state.items():
        share = 1.0 if key.startswith("residuals") else 0.0 if key.startswith("decoder.6") else 0.5 if key.startswith("decoder") else 0.3
        expect = (share * tensor.double() + (1 - share) * b.state[key].double()).to(tensor.dtype)
        torch.testing.assert_close(mixed[key], expect, rtol=0, atol=0)
    for bad in ("residuals", "residuals=2", "=0.5", "residuals=x"):
        with pytest.raises(BlendError, match="PREFIX=WEIGHT"):
            parse_layer_weights(bad)
    with pytest.raises(BlendError, match="no parameter of this network starts with middle"):
        blend_states([(a, 0.3), (b, 0.7)], {"middle": 1.0})
    with pytest.raises(BlendError, match="exactly two"):
        blend_states([(a, 0.3), (b, 0.3), (a, 0.4)], {"residuals": 1.0})


def test_blend_cli_records_layer_weights(tmp_path: Path):
    out = tmp_path / "mix.safetensors"
    result = stylecam("blend", "the_scream-fast:0.4", "the_scream-plain-fast:0.6", "--layer-weights", "residuals=1", "-o", out)
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(out).training["blend_layers"] == {"residuals": 1.0}
    assert "residuals: 1 x the first" in result.stdout
    assert_clean_failure(stylecam("blend", "the_scream-fast:0.4", "the_scream-plain-fast:0.6", "--layer-weights", "decoder=1",
                                  "-o", tmp_path / "b.safetensors"), "no parameter of this network starts with decoder")


def test_blend_refuses_other_architectures():
    with pytest.raises(BlendError, match="different architectures"):
        blend_states([(load_checkpoint(TEMPORAL), 0.5), (load_checkpoint(FAST), 0.5)])


def test_blend_cli_writes_a_working_style(tmp_path: Path):
    out = tmp_path / "mix.safetensors"
    result = stylecam("blend", "the_scream:0.8", "the_scream-plain:0.2", "-o", out)
    assert result.returncode == 0, result.stderr
    ckpt = load_checkpoint(out)
    assert ckpt.style == "mix" == ckpt.style_cfg["style"]  # a style of its own, named by its file
    assert ckpt.style_cfg["painting"] == load_checkpoint(TEMPORAL).style_cfg["painting"]
    assert [(p["network"], p["weight"]) for p in ckpt.training["blend"]] == [("the_scream", 0.8), ("the_scream-plain", 0.2)]
    listed = stylecam("styles", env={**os.environ, "STYLECAM_STYLES": str(tmp_path)}).stdout
    assert "blend of 0.8 x the_scream + 0.2 x the_scream-plain" in next(line for line in listed.splitlines() if line.startswith("mix "))
    net = ckpt.build()
    y = net(torch.rand(1, 3, 32, 32))
    assert y.shape == (1, 3, 32, 32) and torch.isfinite(y).all()


def test_blend_cli_bad_input_is_one_line(tmp_path: Path):
    out = tmp_path / "mix.safetensors"
    assert_clean_failure(stylecam("blend", "the_scream", "the_scream-fast", "-o", out), "different architectures")
    assert_clean_failure(stylecam("blend", "the_scream:0.5", "no_such_style:0.5", "-o", out), "unknown style")
    assert_clean_failure(stylecam("blend", "the_scream:0.5", "the_scream-plain", "-o", out), "every part")
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.skipif(not (ZOO.parents[2] / "shared" / "data" / "styles").is_dir(), reason="needs ../shared/data/styles beside the checkout")
def test_eval_finds_the_painting_a_style_records(tmp_path, monkeypatch):
    """Through the style's own record: STYLECAM_PAINTINGS (paintings are not shipped), never a development path."""
    from stylecam.pipeline.app.evaluate import EvalError, default_style_image

    assert "blend" in load_checkpoint(ZOO / "starry_night.safetensors").training  # shipped as a blend
    monkeypatch.delenv("STYLECAM_PAINTINGS", raising=False)
    with pytest.raises(EvalError, match=r"van_gogh_the_starry_night_1889\.jpg \(Vincent van Gogh.*--style-image"):
        default_style_image(["starry_night"])
    (tmp_path / "van_gogh_the_starry_night_1889.jpg").write_bytes(b"")
    monkeypatch.setenv("STYLECAM_PAINTINGS", str(tmp_path))
    for name in ("starry_night", "starry_night-fast", "starry_night-plain"):
        assert Path(default_style_image([name])) == tmp_path / "van_gogh_the_starry_night_1889.jpg", name
