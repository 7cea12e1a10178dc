"""`stylecam eval`: how stable and how stylised a style is on a clip.

For each style, on the same frames in one run:
  * e_warp -- the warping error of Lai et al. 2018: flow on the input frames (OpenCV DIS, or the exact
    flow of a synthetic clip), output t+1 warped onto t, occlusions masked by a forward-backward check,
    mean squared RGB difference in [0, 1] over unmasked pixels, averaged over frame pairs;
  * style_loss / content_loss -- the relative perceptual losses of training (train/losses.py) against the
    style image and the input frames, on a few evenly spaced frames;
  * fps -- preprocess + network + postprocess, one frame at a time, in this thread.
The input's own e_warp (frames compared with themselves) is reported as the floor: what is left of
it is flow error, not flicker.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from stylecam.pipeline.stage import Context
from stylecam.stages.direct import Stylise
from stylecam.train.motion import consistent_mask, estimate_flow, synthetic_clip, warping_error


class EvalError(Exception):
    """Bad evaluation input; the message is fit for users."""


@dataclass
class Clip:
    frames: list[np.ndarray]  # RGB uint8
    flows: list[np.ndarray] | None  # exact flow t -> t+1 (synthetic clips), else None
    name: str


def load_clip(path: str, max_frames: int, synthetic_size: tuple[int, int] = (480, 320)) -> Clip:
    """A video file, or a still photo turned into a synthetic-motion clip with exact flow."""
    from stylecam.pipeline.images import IMAGE_SUFFIXES, read_rgb

    p = Path(path)
    if not p.is_file():
        raise EvalError(f"input not found: {path}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        photo = read_rgb(p)
        if photo is None:
            raise EvalError(f"not a readable image: {path}")
        frames, flows = synthetic_clip(photo, max_frames, synthetic_size)
        return Clip(frames, flows, f"synthetic pan/zoom/rotate over {p.name}")
    from stylecam.pipeline.stage import StageError
    from stylecam.stages.sources import VideoFileSource

    source = VideoFileSource(str(p), max_frames=max_frames)
    try:
        source.open(Context())
        frames = [f.data for f in source.frames()]
    except StageError as exc:
        raise EvalError(str(exc)) from None
    finally:
        source.close()
    if len(frames) < 2:
        raise EvalError(f"{path}: need at least 2 frames to measure flicker, got {len(frames)}")
    return Clip(frames, None, p.name)


def stylise(frames: list[np.ndarray], style: str, image_size: int | None, backend: str, device: str,
            network: str = "auto", precision: str = "auto", calibration: str | None = None) -> tuple[list[np.ndarray], float]:
    """The product's own stages, called in turn; returns the outputs and frames per second."""
    outputs, seconds = [], 0.0
    with Stylise(style, image_size, backend, network, device, precision=precision, calibration=calibration) as run:
        for i, rgb in enumerate(frames):
            t0 = time.perf_counter()
            outputs.append(run(rgb))
            if i:  # the first frame pays for warm-up (allocations, ONNX session)
                seconds += time.perf_counter() - t0
    return outputs, (len(frames) - 1) / seconds if seconds else 0.0


def clip_flows(clip: Clip, method: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(flow t -> t+1, mask of pixels of t visible in t+1) per pair."""
    if clip.flows is not None:
        return [(f, np.ones(f.shape[:2], bool)) for f in clip.flows]  # exact; `inside` is checked when warping
    pairs = []
    for a, b in zip(clip.frames, clip.frames[1:]):
        fwd, bwd = estimate_flow(a, b, method), estimate_flow(b, a, method)
        pairs.append((fwd, consistent_mask(fwd, bwd)))
    return pairs


STILL_PX = 0.5  # flow shorter than this counts as "did not move" for e_warp_still


def mean_warping_error(frames: list[np.ndarray], flows: list[tuple[np.ndarray, np.ndarray]], still_only: bool = False) -> float | None:
    """E_warp over the clip; still_only: over the pixels that did not move (a camera on a tripod sees mostly
    those, and flicker there is the network's response to noise). None when no pixel stood still."""
    errors = []
    for (a, b), (flow, mask) in zip(zip(frames, frames[1:]), flows):
        if still_only:
            mask = mask & (np.linalg.norm(flow, axis=-1) < STILL_PX)
            if mask.mean() < 0.01:
                continue
        errors.append(warping_error(a, b, flow, mask))
    return float(np.mean(errors)) if errors else None


def perceptual_losses(inputs: list[np.ndarray], outputs: list[np.ndarray], style_image: str, vgg_weights: str | None,
                      samples: int = 6, short_side: int = 256) -> tuple[float, float]:
    """(style loss, content loss): relative losses as in training, VGG at a short side of 256 px."""
    from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS, VGGWeightsError, load_vgg
    from stylecam.train.data import to_tensor
    from stylecam.train.losses import content_loss, gram, style_loss
    from stylecam.train.trainer import TrainError, load_style_image

    try:
        vgg = load_vgg(vgg_weights, tuple(sorted(set(STYLE_LAYERS) | {CONTENT_LAYER})))
        style = load_style_image(style_image, 2 * short_side)
    except (VGGWeightsError, TrainError) as exc:
        raise EvalError(str(exc)) from None
    picks = np.linspace(0, len(inputs) - 1, min(samples, len(inputs))).round().astype(int)

    def batch(images: list[np.ndarray]) -> torch.Tensor:
        h, w = images[0].shape[:2]
        scale = short_side / min(h, w)
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        return torch.stack([to_tensor(cv2.resize(im, size, interpolation=cv2.INTER_AREA)) for im in images])

    with torch.inference_mode():
        grams = {k: gram(v) for k, v in vgg(style).items() if k in STYLE_LAYERS}
        f_out = vgg(batch([outputs[i] for i in picks]))
        f_in = vgg(batch([inputs[i] for i in picks]), upto=CONTENT_LAYER)
        return style_loss(f_out, grams).item(), content_loss(f_out[CONTENT_LAYER], f_in[CONTENT_LAYER]).item()


def default_style_image(styles: list[str]) -> str:
    """The painting the first of `styles` that records one learned (models/styles.py painting_path)."""
    from stylecam.models.styles import StyleError, painting_path, style_entry

    missing = []
    for spec in styles:
        try:
            entry = style_entry(spec)
        except StyleError as exc:
            raise EvalError(str(exc)) from None
        if entry is None or not entry.painting.get("file"):
            continue
        found = painting_path(entry)
        if found is not None:
            return str(found)
        credit = entry.painting.get("credit")
        missing.append(f"{entry.painting['file']}" + (f" ({credit})" if credit else ""))
    if missing:
        raise EvalError(f"the painting {missing[0]} is not on this machine: pass --style-image PATH, or set "
                        f"STYLECAM_PAINTINGS to a folder holding it, or --no-losses")
    raise EvalError("no style image known for these styles: pass --style-image (or --no-losses)")


def evaluate(clip: Clip, styles: list[str], image_size: int | None = None, backend: str = "auto", device: str = "cpu",
             flow_method: str = "dis", style_image: str | None = None, vgg_weights: str | None = None,
             losses: bool = True, network: str = "auto",
             flows: list[tuple[np.ndarray, np.ndarray]] | None = None, precision: str = "auto",
             calibration: str | None = None) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Every style on the same frames; `flows` (from clip_flows) can be passed to reuse them across calls."""
    flows = flows or clip_flows(clip, flow_method)
    result = {"input": clip.name, "frames": len(clip.frames), "size": list(clip.frames[0].shape[1::-1]),
              "flow": "exact (synthetic)" if clip.flows is not None else flow_method,
              "input_e_warp": mean_warping_error(clip.frames, flows),
              "input_e_warp_still": mean_warping_error(clip.frames, flows, still_only=True), "styles": {}}
    outputs = {}
    if losses:  # one painting for every style, so their losses compare (NAME vs NAME-plain)
        style_image = style_image or default_style_image(styles)
    result["style_image"] = Path(style_image).name if style_image else None
    for style in styles:
        out, fps = stylise(clip.frames, style, image_size, backend, device, network, precision, calibration)
        outputs[style] = out
        row = {"e_warp": mean_warping_error(out, flows), "e_warp_still": mean_warping_error(out, flows, still_only=True), "fps": fps}
        if losses:
            row["style_loss"], row["content_loss"] = perceptual_losses(clip.frames, out, style_image, vgg_weights)
        result["styles"][style] = row
    return result, outputs


def save_strip(path: str, clip: Clip, outputs: dict[str, list[np.ndarray]], start: int = 0, count: int = 3,
               height: int = 160) -> None:
    """A PNG: one row per style (input first) of `count` consecutive frames, then the per-pixel warping
    error |out t - warp(out t+1)| (brighter = more flicker) for the first pair."""
    from stylecam.train.motion import warp_image

    flow = clip.flows[start] if clip.flows is not None else estimate_flow(clip.frames[start], clip.frames[start + 1])
    rows = []
    for label, frames in [("input", clip.frames), *outputs.items()]:
        tiles = [frames[start + i] for i in range(count)]
        warped, _ = warp_image(frames[start + 1], flow)
        err = np.abs(frames[start].astype(np.int16) - warped.astype(np.int16)).max(-1).astype(np.uint8)
        tiles.append(cv2.cvtColor(np.clip(err.astype(np.int32) * 4, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB))
        h, w = tiles[0].shape[:2]
        tiles = [cv2.resize(t, (round(w * height / h), height), interpolation=cv2.INTER_AREA) for t in tiles]
        row = np.concatenate(tiles, 1)
        cv2.putText(row, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(row, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
