"""Each painting of a multi-style checkpoint (conditional instance norm) as an ordinary network file: what
training writes to members/ at every checkpoint, and what a committed checkpoint gives back on demand."""
from __future__ import annotations

from pathlib import Path

from stylecam.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from stylecam.models.multistyle import MultiStyleNetwork
from stylecam.models.styles import network_kind


def write_members(net: MultiStyleNetwork, training: dict, source: str, out_dir: str | Path,
                  paintings: list[str] | None = None) -> list[Path]:
    """Write every member of `net` to `out_dir`/NAME.safetensors; `training` is the multi-style network's
    metadata (its member_names and style_image name the members), `source` its file name. `paintings`:
    the style images' paths, recorded in each member's style_cfg (the metadata keeps only file names)."""
    names, files = training["member_names"], training["style_image"]
    written = []
    for i, name in enumerate(names):
        member = net.member(i)
        painting = {"file": Path(files[i]).name}
        if paintings:
            painting["path"] = str(Path(paintings[i]).resolve())
        meta = dict(training, style_image=Path(files[i]).name, multi_style={"file": source, "index": i, "styles": names})
        style_cfg = {"style": name, "network": network_kind(member.arch()),
                     "temporal": bool(training.get("temporal_weight")), "painting": painting}
        path = Path(out_dir) / f"{name}.safetensors"
        save_checkpoint(path, member, style=name, training=meta, style_cfg=style_cfg)
        written.append(path)
    return written


def save_members(checkpoint: str | Path, out_dir: str | Path, paintings: list[str] | None = None) -> list[Path]:
    """write_members() for a multi-style checkpoint file."""
    checkpoint = Path(checkpoint)
    ckpt = load_checkpoint(checkpoint)
    names = ckpt.training.get("member_names") or []
    files = ckpt.training.get("style_image") or []
    if "styles" not in ckpt.arch or len(names) != ckpt.arch["styles"] or len(files) != len(names):
        raise CheckpointError(f"{checkpoint} is not a multi-style network with named members")
    return write_members(ckpt.build(), ckpt.training, checkpoint.name, out_dir, paintings)
