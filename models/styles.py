"""The style registry: `--style NAME` or `--style PATH` -> a ready network.

Where styles are found, first match wins:
  1. a path to a .safetensors checkpoint;
  2. $STYLECAM_STYLES (a folder; ':'-separated for several), then ~/.local/share/stylecam/styles;
  3. the styles shipped in models/zoo/ (NAME.safetensors with its model card NAME.md).
A style may come as three networks: NAME-full (Johnson's at full width 32, for GPUs), NAME (Johnson's at
half width 16) and NAME-fast (fast_net, for CPUs). `network` picks one: "full" takes NAME-full, "fast"
takes NAME-fast, each where it exists and NAME otherwise; "half" takes NAME. Callers resolve "auto" by
device (fast on the CPU, half on MPS, full on CUDA). An explicit name (NAME-fast) or path is always taken as given.
`random` is built in: an untrained network with a fixed seed, for smoke tests and benchmarks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from stylecam.models.checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_metadata
from stylecam.models.networks import arch_text, create_network

ZOO = Path(__file__).resolve().parent / "zoo"
RANDOM_STYLE = "random"
NETWORKS = ("auto", "fast", "half", "full")
NETWORK_SUFFIXES = {"fast": "-fast", "full": "-full", "half": ""}


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


@dataclass
class StyleInfo:
    name: str
    path: Path | None
    arch: str
    description: str


def style_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("STYLECAM_STYLES", "").split(os.pathsep) if p]
    dirs.append(Path.home() / ".local" / "share" / "stylecam" / "styles")
    dirs.append(ZOO)
    return dirs


def _describe(path: Path) -> StyleInfo:
    import json

    try:
        meta = read_metadata(path)
        arch = json.loads(meta.get("arch", "{}"))
        arch_desc = arch_text(arch)
        training = json.loads(meta.get("training", "{}"))
        desc = training.get("style_image", "")
        if isinstance(desc, list):  # a multi-style network
            desc = f"{len(desc)} styles: " + ", ".join(training.get("member_names") or desc)
        if training.get("blend"):
            desc = "blend of " + " + ".join(f"{p['weight']:g} x {p['network']}" for p in training["blend"])
        if training.get("steps"):
            how = f"fine-tuned {training['steps']} steps from {Path(training['init']).stem}" if training.get("init") else f"{training['steps']} steps"
            if training.get("widened_from"):
                how += f" widened from w{training['widened_from']}"
            desc += f", {how} at {training.get('image_size', '?')}px"
        if training.get("temporal_weight"):
            desc += f", temporal weight {training['temporal_weight']:g}"
    except Exception:  # a broken file is listed, not fatal: loading it gives the real error
        arch_desc, desc = "unreadable", "corrupt or not a stylecam checkpoint"
    return StyleInfo(path.stem, path, arch_desc, desc)


def twin_base(name: str) -> str:
    """The style a network name belongs to, without the network suffix: 'x-plain-fast' -> 'x-plain'."""
    for suffix in NETWORK_SUFFIXES.values():
        if suffix and name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def list_styles(include_all: bool = False) -> list[StyleInfo]:
    """Installed styles, first match per name wins. `-plain` twins are hidden unless include_all."""
    found: dict[str, StyleInfo] = {}
    for folder in style_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.safetensors")):
                if path.stem not in found and (include_all or not twin_base(path.stem).endswith("-plain")):
                    found[path.stem] = _describe(path)
    found.setdefault(RANDOM_STYLE, StyleInfo(RANDOM_STYLE, None, "transformer_net w16 b5", "untrained network (seed 0), for tests and benchmarks"))
    return list(found.values())


def find_style(spec: str, network: str = "full") -> Path | None:
    """The checkpoint for a name or path; None means the built-in random network."""
    if spec == RANDOM_STYLE:
        return None
    path = Path(spec).expanduser()
    if path.suffix == ".safetensors" or os.sep in spec or path.is_file():
        if not path.is_file():
            raise StyleError(f"style checkpoint not found: {spec}")
        return path
    suffix = NETWORK_SUFFIXES.get(network, "")
    for folder in style_dirs():
        for candidate in (folder / f"{spec}{suffix}.safetensors", folder / f"{spec}.safetensors"):
            if candidate.is_file():
                return candidate
    names = ", ".join(s.name for s in list_styles())
    raise StyleError(f"unknown style {spec!r} (installed: {names}; see `stylecam styles`)")


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
