"""The stylecam checkpoint: one safetensors file, weights plus string metadata.

Metadata keys (all strings, as safetensors requires):
  format    "stylecam"          version  "1"
  arch      JSON, e.g. {"name": "transformer_net", "width": 32, "blocks": 5}
  style     the style's name
  training  JSON with what the trainer knows (style image, loss weights, steps, VGG source, date, losses)
  style_cfg JSON describing the network as part of a style (models/styles.py), e.g.
            {"style": "starry_night", "network": "fast", "temporal": true, "reference": false,
             "painting": {"file": "van_gogh_the_starry_night_1889.jpg", "credit": "...", "path": "..."}}
Optimiser state for --resume lives in a second file next to it (see train/trainer.py), so a shipped
style carries weights only. safetensors cannot execute code on load, unlike pickle.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from stylecam.models.networks import create_network
from stylecam.pipeline.files import atomic_output

FORMAT = "stylecam"
VERSION = "1"


class CheckpointError(Exception):
    """A checkpoint that is missing, corrupt or not ours; the message is fit for users."""


@dataclass
class Checkpoint:
    arch: dict
    state: dict[str, torch.Tensor]
    style: str = ""
    training: dict = field(default_factory=dict)
    style_cfg: dict = field(default_factory=dict)

    def build(self) -> nn.Module:
        net = create_network(self.arch)
        net.load_state_dict(self.state)
        return net.eval()


def save_checkpoint(path: str | os.PathLike, net: nn.Module, style: str = "", training: dict | None = None,
                    style_cfg: dict | None = None, dtype: torch.dtype = torch.float32) -> None:
    """Write atomically: a crash mid-write never leaves a file that looks complete. `dtype` float16 halves a
    shipped network's file (loading casts back to float32)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "arch": json.dumps(net.arch()),
        "style": style,
        "training": json.dumps(training or {}, default=str),
    }
    if style_cfg:
        meta["style_cfg"] = json.dumps(style_cfg)
    state = {k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in net.state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata=meta)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return f.metadata() or {}


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        meta = read_metadata(path)
        # float32 whatever the file stores: blends, mixes and training all compute on the loaded state
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a stylecam checkpoint (no 'format: stylecam')")
    try:
        ckpt = Checkpoint(json.loads(meta["arch"]), state, meta.get("style", ""), json.loads(meta.get("training", "{}")),
                          json.loads(meta.get("style_cfg", "{}")))
        ckpt.build()  # validates that the weights fit the architecture
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not match the recorded architecture ({str(exc).splitlines()[0]})") from None
    return ckpt
