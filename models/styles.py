"""Styles: `--style NAME` or `--style PATH` -> a ready network, found by what checkpoints say of themselves.

A style is one entry with up to three networks, in the spirit of timm's `pretrained_cfg`: each checkpoint
records, in its `style_cfg` metadata (models/checkpoint.py), the style it belongs to, which network of it
it is (fast: fast_net for CPUs; half: Johnson's at width 16; full: Johnson's at width 32, for GPUs),
whether it was trained for video (temporal), whether it is a reference kept for evaluation only (the
`-plain` twins of the temporal styles, trained without the temporal loss), and the painting it learned.
A checkpoint without `style_cfg` (an older file) is a style of its own, named by its file, its network
told by its architecture. File names are never parsed: a user style called `sketch-fast` is a style.

Where styles are found, first match per style wins:
  1. a path to a .safetensors checkpoint (taken as given);
  2. $STYLECAM_STYLES (a folder; ':'-separated for several), then ~/.local/share/stylecam/styles;
  3. the styles shipped in models/zoo/ (each network NAME.safetensors with its model card NAME.md).
`network` picks one of a style's networks: the one asked for where the style has it, else half, else
the one it has. Callers resolve "auto" by device (fast on the CPU, half on MPS, full on CUDA). A
network's own name (its file name, as `stylecam styles --all` lists it) selects exactly that network.
`random` is built in: an untrained network with a fixed seed, for smoke tests and benchmarks.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from stylecam.models.checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_metadata
from stylecam.models.networks import create_network, network_class

ZOO = Path(__file__).resolve().parent / "zoo"
RANDOM_STYLE = "random"
NETWORKS = ("auto", "fast", "half", "full")
FALLBACK = ("half", "full", "fast")  # when a style lacks the network asked for


def network_for(device_type: str, network: str = "auto") -> str:
    """'auto' -> 'fast' on the CPU, 'half' on Apple's MPS (laptop GPUs: Johnson's at full width there
    is 4x the work for a small gain), 'full' on CUDA; others are kept."""
    if network not in NETWORKS:
        raise StyleError(f"network must be one of {', '.join(NETWORKS)}, not {network!r}")
    if network != "auto":
        return network
    return {"cpu": "fast", "mps": "half"}.get(device_type, "full")


class StyleError(Exception):
    """Unknown style or unusable checkpoint; the message is fit for users."""


def network_kind(arch: dict) -> str:
    """Which of a style's networks an architecture is, for checkpoints that do not say."""
    if arch.get("name") == "fast_net":
        return "fast"
    return "full" if int(arch.get("width", 32)) >= 32 else "half"


@dataclass
class Network:
    """One checkpoint of a style."""

    name: str  # its file name without .safetensors; selects exactly this network
    path: Path
    kind: str  # fast, half or full
    arch: dict
    training: dict


@dataclass
class Style:
    name: str
    networks: dict[str, Network] = field(default_factory=dict)  # kind -> network
    temporal: bool = False  # trained with the temporal loss (steadier on video)
    reference: bool = False  # kept for evaluation (a -plain twin), listed only with --all
    painting: dict = field(default_factory=dict)  # {"file": ..., "credit": ...}, as the checkpoint records

    def network(self, kind: str) -> Network:
        for k in (kind, *FALLBACK):
            if k in self.networks:
                return self.networks[k]
        raise StyleError(f"style {self.name!r} has no networks")  # pragma: no cover - entries always have one

    @property
    def description(self) -> str:
        """The painting's credit where the style records it, and how its main network was made."""
        how = describe_training(self.network("half").training)
        return "; ".join(t for t in (self.painting.get("credit"), how) if t)


def describe_training(training: dict) -> str:
    if training.get("unreadable"):
        return "corrupt or not a stylecam checkpoint"
    desc = training.get("style_image", "")
    if isinstance(desc, list):  # a multi-style network
        desc = f"{len(desc)} styles: " + ", ".join(training.get("member_names") or desc)
    if training.get("blend"):
        desc = "blend of " + " + ".join(f"{p['weight']:g} x {p['network']}" for p in training["blend"])
        if training.get("blend_layers"):
            desc += " (the first's weight in " + ", ".join(f"{k} {w:g}" for k, w in training["blend_layers"].items()) + ")"
    if training.get("steps"):
        how = f"fine-tuned {training['steps']} steps from {Path(training['init']).stem}" if training.get("init") else f"{training['steps']} steps"
        if training.get("widened_from"):
            how += f" widened from w{training['widened_from']}"
        desc += f", {how} at {training.get('image_size', '?')}px"
    if training.get("temporal_weight"):
        desc += f", temporal weight {training['temporal_weight']:g}"
    return desc


def style_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("STYLECAM_STYLES", "").split(os.pathsep) if p]
    dirs.append(Path.home() / ".local" / "share" / "stylecam" / "styles")
    dirs.append(ZOO)
    return dirs


def read_network(path: Path) -> tuple[Network, dict]:
    """(the network, its style_cfg) from a checkpoint's metadata (weights are not read); an unreadable file
    is a network whose training says so."""
    try:
        meta = read_metadata(path)
        arch = json.loads(meta.get("arch", "{}"))
        training = json.loads(meta.get("training", "{}"))
        cfg = json.loads(meta.get("style_cfg", "{}")) or {"style": path.stem}
    except Exception:  # a broken file is listed, not fatal: loading it gives the real error
        return Network(path.stem, path, "half", {}, {"unreadable": True}), {"style": path.stem}
    return Network(path.stem, path, cfg.get("network") or network_kind(arch), arch, training), cfg


def _folder_styles(folder: Path) -> list[Style]:
    styles: dict[str, Style] = {}
    for path in sorted(folder.glob("*.safetensors")):
        network, cfg = read_network(path)
        style = styles.setdefault(cfg["style"], Style(cfg["style"]))
        if network.kind not in style.networks:
            style.networks[network.kind] = network
        style.temporal |= bool(cfg.get("temporal"))
        style.reference |= bool(cfg.get("reference"))
        style.painting = style.painting or cfg.get("painting") or {}
    return list(styles.values())


def all_styles() -> list[Style]:
    """Every installed style, the first folder's entry winning per name."""
    found: dict[str, Style] = {}
    for folder in style_dirs():
        if folder.is_dir():
            for style in _folder_styles(folder):
                found.setdefault(style.name, style)
    return list(found.values())


def list_styles(include_all: bool = False) -> list[Style]:
    """Installed styles (reference twins only with include_all), and the built-in random network."""
    styles = [s for s in all_styles() if include_all or not s.reference]
    random = Style(RANDOM_STYLE, reference=False)
    return [*styles, random] if RANDOM_STYLE not in {s.name for s in styles} else styles


def find_network(spec: str, network: str = "full") -> Network | None:
    """The network for a style name, a network's own name or a path; None: the built-in random network."""
    if spec == RANDOM_STYLE:
        return None
    path = Path(spec).expanduser()
    if path.suffix == ".safetensors" or os.sep in spec or path.is_file():
        if not path.is_file():
            raise StyleError(f"style checkpoint not found: {spec}")
        return read_network(path)[0]
    styles = all_styles()
    for style in styles:
        if style.name == spec:
            return style.network(network)
    for style in styles:  # a network by its own name
        for candidate in style.networks.values():
            if candidate.name == spec:
                return candidate
    names = ", ".join(s.name for s in list_styles())
    raise StyleError(f"unknown style {spec!r} (installed: {names}; see `stylecam styles`)")


def find_style(spec: str, network: str = "full") -> Path | None:
    """The checkpoint file for a name or path; None means the built-in random network."""
    found = find_network(spec, network)
    return None if found is None else found.path


def style_entry(spec: str) -> Style | None:
    """The style a name, network name or path belongs to (None for the random network)."""
    found = find_network(spec)
    if found is None:
        return None
    for style in all_styles():
        if any(n.path == found.path for n in style.networks.values()):
            return style
    network, cfg = read_network(found.path)  # a checkpoint outside the style folders: a style of its own
    return Style(cfg["style"], {network.kind: network}, bool(cfg.get("temporal")), bool(cfg.get("reference")),
                 cfg.get("painting") or {})


def painting_path(style: Style) -> Path | None:
    """The painting a style learned, where it can be found: the path recorded at training, a folder of
    $STYLECAM_PAINTINGS (':'-separated), or beside the style's networks. Paintings are not shipped."""
    file = style.painting.get("file")
    if not file:
        return None
    candidates = [Path(style.painting["path"])] if style.painting.get("path") else []
    candidates += [Path(p) / file for p in os.environ.get("STYLECAM_PAINTINGS", "").split(os.pathsep) if p]
    candidates += [n.path.with_name(file) for n in style.networks.values()]
    return next((c for c in candidates if c.is_file()), None)


def mix_network(first: str, second: str, network: str) -> str:
    """Which of their networks two styles are mixed with: `network` where both resolve to one architecture,
    else the first of half, fast, full that both have alike (on CUDA `starry_night` has a full-width network
    and `udnie` only a half-width one: the mix takes both at half width)."""
    a, b = find_network(first, network), find_network(second, network)
    if a is None or b is None or a.arch == b.arch:
        return network
    entries = [style_entry(spec) for spec in (first, second)]
    for kind in ("half", "fast", "full"):
        nets = [e.networks.get(kind) for e in entries if e is not None]
        if len(nets) == 2 and all(nets) and nets[0].arch == nets[1].arch:
            return kind
    return network


def geometry(spec: str, network: str = "full") -> tuple[int, int]:
    """(size_multiple, min_size) of the network `spec` resolves to, from its recorded architecture."""
    found = find_network(spec, network)
    cls = network_class(found.arch if found is not None and found.arch else {"name": "transformer_net"})
    return cls.size_multiple, cls.min_size


def random_network(width: int = 16, blocks: int = 5, seed: int = 0) -> nn.Module:
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return create_network({"name": "transformer_net", "width": width, "blocks": blocks}).eval()
    finally:
        torch.random.set_rng_state(state)


def load_style(spec: str, network: str = "full") -> tuple[nn.Module, Checkpoint | None]:
    path = find_style(spec, network)
    if path is None:
        return random_network(), None
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as exc:
        raise StyleError(str(exc)) from None
    return ckpt.build(), ckpt
