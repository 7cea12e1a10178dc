"""pipeline.yaml validation: every error names the key."""
import pytest

from stylecam.pipeline.app.build import ConfigError, DEFAULT_PIPELINE, build_pipeline, load_yaml, override


def spec(**changes):
    s = load_yaml(DEFAULT_PIPELINE)
    s.update(changes)
    return s


def test_default_pipeline_builds():
    pipeline = build_pipeline(load_yaml(DEFAULT_PIPELINE), device="cpu")
    assert [s.name for s in pipeline.stages] == ["preprocess", "inference", "postprocess"]


@pytest.mark.parametrize("changes,message", [
    ({"stages": [{"type": "sharpen"}]}, "stages[0].type: unknown stage 'sharpen'"),
    ({"stages": [{"type": "inference", "styel": "x"}]}, "stages[0].styel: unknown parameter"),
    ({"stages": [{"type": "inference", "batch_size": "four"}]}, "stages[0].batch_size: expected int"),
    ({"stages": [{"type": "postprocess", "strength": 2.0}]}, "stages[0]: strength must be between 0 and 1"),
    ({"source": {"type": "file"}}, "source.path: missing value"),
    ({"source": {"path": "x.mp4"}}, "source.type: missing"),
    ({"sinks": []}, "sinks: expected a list with at least one sink"),
    ({"queues": {"policy": "sometimes"}}, "queues.policy"),
    ({"queues": {"size": 0}}, "queues.size"),
    ({"extra": 1}, "extra: unknown top-level key"),
])
def test_errors_name_the_key(changes, message):
    with pytest.raises(ConfigError) as info:
        build_pipeline(spec(**changes), device="cpu")
    assert message in str(info.value)


def test_overrides_reach_the_right_stage():
    s = override(load_yaml(DEFAULT_PIPELINE), input="clip.mkv", output="frames/", style="x", size="320x240", strength=0.5)
    assert s["source"] == {"type": "file", "path": "clip.mkv"}
    assert s["sinks"] == [{"type": "images", "path": "frames/"}]
    by_type = {e["type"]: e for e in s["stages"]}
    assert by_type["inference"]["style"] == "x" and by_type["preprocess"]["size"] == "320x240"
    assert by_type["postprocess"]["strength"] == 0.5


def test_override_keeps_the_yaml_options_of_the_sink_type():
    s = override(load_yaml(DEFAULT_PIPELINE), output="o.mkv")
    assert s["sinks"][0]["crf"] == 20 and s["sinks"][0]["path"] == "o.mkv"


def test_unknown_yaml_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_yaml(tmp_path / "list.yaml")


def test_fast_uint8_conversion_equals_round_and_clamp():
    """OpenCV's path must give exactly what mul/round/clamp would, including on a slice of a batch."""
    import numpy as np
    import torch

    from stylecam.stages.transforms import to_rgb_uint8

    batch = torch.rand(2, 3, 24, 40)
    batch[0, :, 0, :5] = torch.tensor([0.0, 1.0, 0.5 / 255, 1.5 / 255, 254.5 / 255])  # edges and ties
    for out in batch:
        expected = out.mul(255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        got = to_rgb_uint8(out)
        assert got.shape == (24, 40, 3) and got.dtype == np.uint8 and got.flags["C_CONTIGUOUS"]
        assert np.array_equal(got, expected)
