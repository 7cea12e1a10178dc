"""Weight-space blends of networks that share an architecture and a starting point.

A network fine-tuned from another stays in its basin, so the weighted average of the two weight sets is a
working network whose behaviour lies between them, often better on both counts than either end (WiSE-FT,
Wortsman et al. 2022; model soups). stylecam uses it for the temporal styles: averaging a temporal
fine-tune with a little of its plain starting point gives back most of the plain network's texture while
keeping most of the flicker reduction (docs/benchmarks.md, "Weight-space blends"). Blending networks
trained from different starts (two unrelated styles) is allowed but gives no such guarantee.

A blend of two networks may give each group of layers a weight of its own (`--layer-weights`): in a
temporal fine-tune the flicker reduction and the texture it costs do not sit in the same layers
(docs/benchmarks.md, "Layer-wise shares of the temporal fine-tune").
"""
from __future__ import annotations

import torch

from stylecam.models.checkpoint import Checkpoint
from stylecam.models.networks import arch_text, unmatched_prefix


class BlendError(ValueError):
    """Parts that cannot be blended; the message is fit for users."""


def parse_part(text: str) -> tuple[str, float | None]:
    """'NAME_OR_PATH[:WEIGHT]' -> (spec, weight or None); a ':' not followed by a number belongs to the path."""
    spec, sep, tail = text.rpartition(":")
    if sep:
        try:
            return spec, float(tail)
        except ValueError:
            pass
    return text, None


def parse_layer_weights(text: str) -> dict[str, float]:
    """'PREFIX=W,PREFIX=W' -> {prefix: the first part's weight for the parameters named PREFIX...}."""
    weights: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        prefix, sep, value = item.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not prefix or not 0 <= weight <= 1:
            raise BlendError(f"--layer-weights: {item!r} is not PREFIX=WEIGHT with a weight from 0 to 1")
        weights[prefix] = weight
    return weights


def layer_weight(key: str, layer_weights: dict[str, float]) -> float | None:
    """The first part's weight for one parameter: that of the longest prefix naming it, None if none does."""
    prefixes = [p for p in layer_weights if key.startswith(p)]
    return layer_weights[max(prefixes, key=len)] if prefixes else None


def blend_weights(weights: list[float | None]) -> list[float]:
    """All given or none (equal shares); positive; normalised to sum to 1."""
    if all(w is None for w in weights):
        return [1.0 / len(weights)] * len(weights)
    if any(w is None for w in weights):
        raise BlendError("give a weight to every part (NAME:WEIGHT) or to none")
    if any(w <= 0 for w in weights):  # type: ignore[operator]
        raise BlendError("blend weights must be positive")
    total = sum(weights)  # type: ignore[arg-type]
    return [w / total for w in weights]  # type: ignore[operator]


def primary_training(training: dict) -> dict:
    """The training facts that describe a checkpoint: its own, or for a blend those of its first part
    (followed down when that part is a blend itself)."""
    while training.get("blend"):
        training = training["blend"][0]["training"]
    return training


def part_trainings(training: dict) -> list[dict]:
    """The training facts of every network a checkpoint was made from: itself, or each part of a blend
    (followed down through blends of blends)."""
    if not training.get("blend"):
        return [training]
    return [leaf for part in training["blend"] for leaf in part_trainings(part["training"])]


def with_temporal_loss(training: dict) -> bool:
    """Whether any network a checkpoint was made from was trained with the temporal loss (a blend of two
    plain rounds has none; a temporal fine-tune blended with its plain start has one)."""
    return any(t.get("temporal_weight") for t in part_trainings(training))


def blend_states(parts: list[tuple[Checkpoint, float]],
                 layer_weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """sum_i w_i * state_i, computed in float64 so the blend of a network with itself is that network;
    `layer_weights` (two parts only): the first part's weight per parameter-name prefix, the second's the rest."""
    if len(parts) < 2:
        raise BlendError("a blend needs at least two networks")
    first = parts[0][0]
    for ckpt, _ in parts[1:]:
        if ckpt.arch != first.arch:
            raise BlendError(f"cannot blend different architectures: {arch_text(first.arch)} and {arch_text(ckpt.arch)}")
    if layer_weights:
        if len(parts) != 2:
            raise BlendError("--layer-weights needs exactly two networks")
        problem = unmatched_prefix(list(layer_weights), list(first.state))
        if problem:
            raise BlendError(f"--layer-weights: {problem}")
    return blend_state_dicts([(ckpt.state, w) for ckpt, w in parts], layer_weights)


def blend_state_dicts(parts: list[tuple[dict[str, torch.Tensor], float]],
                      layer_weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted sum of state dicts of one architecture (float64 sums; integer buffers from the first);
    with `layer_weights`, of two: the first's weight per parameter-name prefix (layer_weight), the second's the rest."""
    first = parts[0][0]
    out = {}
    for key, tensor in first.items():
        if tensor.is_floating_point():
            own = layer_weight(key, layer_weights or {})
            weights = [w for _, w in parts] if own is None else [own, 1 - own]
            mixed = sum(w * state[key].detach().cpu().double() for (state, _), w in zip(parts, weights))
            out[key] = mixed.to(tensor.dtype)  # type: ignore[union-attr]
        else:
            out[key] = tensor.clone()
    return out


def blend_networks(parts: list[str], output: str, style_name: str = "",
                   layer_weights: dict[str, float] | None = None) -> list[tuple[str, float]]:
    """`stylecam blend`: the NAME_OR_PATH[:WEIGHT] parts averaged into a new checkpoint at `output` (with
    `layer_weights`, the first part's weight per parameter-name prefix); returns (network, weight) per part."""
    import datetime

    from stylecam.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from stylecam.models.networks import create_network
    from stylecam.models.styles import find_style
    from stylecam.pipeline.files import same_path

    specs = [parse_part(p) for p in parts]
    weights = blend_weights([w for _, w in specs])
    loaded = []
    for (spec, _), weight in zip(specs, weights):
        path = find_style(spec, network="half")
        if path is None:
            raise BlendError("the built-in random network cannot be blended; give a checkpoint")
        if same_path(path, output):
            raise BlendError(f"-o {output} is one of the networks being blended: give another output name")
        try:
            loaded.append((path, load_checkpoint(path), weight))
        except CheckpointError as exc:
            raise BlendError(str(exc)) from None
    state = blend_states([(ckpt, w) for _, ckpt, w in loaded], layer_weights)
    first = loaded[0][1]
    net = create_network(first.arch)
    net.load_state_dict(state)
    training = {
        "blend": [{"network": path.stem, "weight": round(w, 6), "training": ckpt.training} for path, ckpt, w in loaded],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if layer_weights:
        training["blend_layers"] = dict(layer_weights)
    from pathlib import Path

    from stylecam.models.styles import network_kind

    # a style of its own (named by --style-name or the file), which keeps the first part's painting
    name = style_name or Path(output).stem
    style_cfg = {"style": name, "network": network_kind(first.arch), "temporal": bool(first.style_cfg.get("temporal")),
                 "painting": first.style_cfg.get("painting", {})}
    save_checkpoint(output, net, name, training, style_cfg=style_cfg)
    return [(path.stem, w) for path, _, w in loaded]
