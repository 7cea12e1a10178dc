"""`stylecam eval`: how stable and how stylised a style is on a clip.

For each style, on the same frames in one run:
  * e_warp -- the warping error of Lai et al. 2018: flow on the input frames (OpenCV DIS, or the exact
    flow of a synthetic clip), output t+1 warped onto t, occlusions masked by a forward-backward check,
    mean squared RGB difference in [0, 1] over unmasked pixels, averaged over frame pairs;
  * style_loss / content_loss -- the relative perceptual losses of training (train/losses.py) against the
    style image and the input frames, on a few evenly spaced frames;
  * fps -- preprocess + network + postprocess, one frame at a time, in this thread; others_cpu -- the share of
    the machine other processes used meanwhile (pipeline/machine_load.py): fps from a busy machine is not
    comparable with fps from a quiet one;
  * with optimum_frames: the gap to the optimum of the same loss on a few frames (train/optimum.py): where
    each style's mean (content, style) loss lies against the box the per-frame optimum spans.
The input's own e_warp (frames compared with themselves) is reported as the floor: what is left of
it is flow error, not flicker.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from stylecam.pipeline.cpu_model import cpu_model
from stylecam.pipeline.files import cache_dir, write_text_atomic
from stylecam.pipeline.machine_load import OtherLoad
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
            network: str = "auto", precision: str = "auto", calibration: str | None = None,
            ran: dict | None = None) -> tuple[list[np.ndarray], float]:
    """The product's own stages, called in turn; returns the outputs and frames per second. `ran`, when
    given, receives the network that ran ("network": fast, half or full) and the share of the machine other
    processes used meanwhile ("others_cpu", None where unknown)."""
    outputs, seconds = [], 0.0
    with Stylise(style, image_size, backend, network, device, precision=precision, calibration=calibration) as run, \
            OtherLoad() as load:
        for i, rgb in enumerate(frames):
            t0 = time.perf_counter()
            outputs.append(run(rgb))
            if i:  # the first frame pays for warm-up (allocations, ONNX session)
                seconds += time.perf_counter() - t0
        kind = run.inference.network_kind
    if ran is not None:
        ran["network"], ran["others_cpu"] = kind, load.share
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


def at_short_side(rgb: np.ndarray, short_side: int) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1], resized so the short side is `short_side`: the scale the losses are taken at."""
    from stylecam.train.data import to_tensor

    h, w = rgb.shape[:2]
    scale = short_side / min(h, w)
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    return to_tensor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)).unsqueeze(0)


def loss_network(vgg_weights: str | None, style_image: str, painting_side: int) -> tuple[torch.nn.Module, torch.Tensor]:
    """The VGG16 of the losses and the painting (long side `painting_side`), or one EvalError line."""
    from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS, VGGWeightsError, load_vgg
    from stylecam.train.trainer import TrainError, load_style_image

    try:
        vgg = load_vgg(vgg_weights, tuple(sorted(set(STYLE_LAYERS) | {CONTENT_LAYER})))
        return vgg, load_style_image(style_image, painting_side)
    except (VGGWeightsError, TrainError) as exc:
        raise EvalError(str(exc)) from None


def perceptual_losses(inputs: list[np.ndarray], outputs: list[np.ndarray], vgg: torch.nn.Module, style: torch.Tensor,
                      samples: int = 6, short_side: int = 256) -> tuple[float, float]:
    """(style loss, content loss): relative losses as in training, VGG at a short side of 256 px; `vgg` and
    the painting `style` from loss_network()."""
    from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS
    from stylecam.train.losses import content_loss, gram, style_loss

    picks = np.linspace(0, len(inputs) - 1, min(samples, len(inputs))).round().astype(int)

    def batch(images: list[np.ndarray]) -> torch.Tensor:
        return torch.cat([at_short_side(im, short_side) for im in images])

    with torch.inference_mode():
        grams = {k: gram(v) for k, v in vgg(style).items() if k in STYLE_LAYERS}
        f_out = vgg(batch([outputs[i] for i in picks]))
        f_in = vgg(batch([inputs[i] for i in picks]), upto=CONTENT_LAYER)
        return style_loss(f_out, grams).item(), content_loss(f_out[CONTENT_LAYER], f_in[CONTENT_LAYER]).item()


def optimum_gap(inputs: list[np.ndarray], outputs: dict[str, list[np.ndarray]], networks: dict[str, str],
                vgg: torch.nn.Module, painting: torch.Tensor, frames: int = 2, short_side: int = 256,
                say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict:
    """Each style's mean (content, style) loss on `frames` evenly spaced frames against the box the
    per-frame optimum of the same loss spans (train/optimum.py). `networks`: style -> the network that
    ran (fast networks get the box's slack); `vgg` and `painting` from loss_network(). The optimum is
    cached per frame, painting and VGG, as the ONNX models are (~/.cache/stylecam), so a second look at a
    style costs seconds."""
    from stylecam.train.optimum import FAST_SLACK, GATYS_WEIGHTS, PROTOCOL, Box, PerceptualLoss, gatys, output_losses

    loss = PerceptualLoss(vgg, painting)
    picks = [int(i) for i in np.linspace(0, len(inputs) - 1, min(frames, len(inputs))).round()]
    photos = [at_short_side(inputs[i], short_side) for i in picks]
    optima: dict[float, tuple[float, float]] = {}
    for weight in GATYS_WEIGHTS:
        values = []
        for i, photo in zip(picks, photos):
            key = hashlib.sha256(f"{PROTOCOL}|{vgg.source}|{weight}|{short_side}".encode() + painting.numpy().tobytes()
                                 + photo.numpy().tobytes()).hexdigest()[:32]
            cached = read_cache(key)
            if cached is None:
                say(f"optimum of the loss on frame {i} at style weight {weight:g} (Gatys, {photo.shape[3]}x{photo.shape[2]}; "
                    f"a minute or two on a CPU, cached after)")
                cached = gatys(loss, photo, weight)
                write_cache(key, cached)
            values.append(cached)
        optima[weight] = tuple(float(v) for v in np.mean(values, 0))
    box = Box.from_optima(optima)
    result = {"protocol": PROTOCOL, "scale": f"frames at a short side of {short_side} px, the painting's long side {2 * short_side}",
              "frames": picks, "box": {"style": box.style, "content": box.content},
              "optimum": {f"{w:g}": list(v) for w, v in optima.items()}, "styles": {}}
    for style, out in outputs.items():
        c, s_ = np.mean([output_losses(loss, at_short_side(out[i], short_side), photo) for i, photo in zip(picks, photos)], 0)
        slack = FAST_SLACK if networks.get(style) == "fast" else 1.0
        rc, rs = box.ratios(float(c), float(s_))
        result["styles"][style] = {"content_loss": float(c), "style_loss": float(s_), "content_ratio": rc, "style_ratio": rs,
                                   "slack": slack, "inside": box.inside(float(c), float(s_), slack)}
    return result


def gap_lines(result: dict) -> list[str]:
    """evaluate()'s gap to the optimum as lines for the terminal (none without it)."""
    gap = result.get("optimum")
    if not gap:
        return []
    lines = [f"gap to the optimum of the loss on frames {', '.join(map(str, gap['frames']))}: box = style <= "
             f"{gap['box']['style']:.3f} (the optimum's at style weight 0.5), content <= {gap['box']['content']:.3f} (at 5)"]
    for name, row in gap["styles"].items():
        slack = f" (a fast network: {row['slack']:g}x allowed)" if row["slack"] != 1 else ""
        lines.append(f"  {name:<26} content {row['content_ratio']:.2f}x  style {row['style_ratio']:.2f}x  "
                     f"{'inside' if row['inside'] else 'outside'} the box{slack}")
    return lines


def _cache_path(key: str) -> Path:
    return cache_dir("optimum") / f"{key}.json"


def read_cache(key: str) -> tuple[float, float] | None:
    try:
        content, style = json.loads(_cache_path(key).read_text())
        return float(content), float(style)
    except (OSError, ValueError, TypeError):
        return None


def write_cache(key: str, value: tuple[float, float]) -> None:
    try:
        _cache_path(key).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(_cache_path(key), json.dumps(list(value)) + "\n")
    except OSError:
        pass  # a read-only home only costs the work next time


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
             calibration: str | None = None, optimum_frames: int = 0,
             loss_side: int = 256) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Every style on the same frames; `flows` (from clip_flows) can be passed to reuse them across calls.
    optimum_frames > 0: also the gap to the optimum of the loss on that many frames (result["optimum"]).
    loss_side: the short side the losses are taken at (the painting at twice that)."""
    flows = flows or clip_flows(clip, flow_method)
    result = {"input": clip.name, "frames": len(clip.frames), "size": list(clip.frames[0].shape[1::-1]),
              "flow": "exact (synthetic)" if clip.flows is not None else flow_method,
              "input_e_warp": mean_warping_error(clip.frames, flows),
              "input_e_warp_still": mean_warping_error(clip.frames, flows, still_only=True), "cpu": cpu_model(), "styles": {}}
    outputs = {}
    if losses or optimum_frames:  # one painting for every style, so their losses compare (NAME vs NAME-plain)
        style_image = style_image or default_style_image(styles)
    result["style_image"] = Path(style_image).name if style_image else None
    # the VGG16 and the painting, loaded once for every style's losses and the optimum
    vgg, painting = loss_network(vgg_weights, style_image, 2 * loss_side) if (losses or optimum_frames) else (None, None)
    networks: dict[str, str] = {}
    for style in styles:
        ran: dict = {}
        out, fps = stylise(clip.frames, style, image_size, backend, device, network, precision, calibration, ran)
        outputs[style], networks[style] = out, ran["network"]
        row = {"e_warp": mean_warping_error(out, flows), "e_warp_still": mean_warping_error(out, flows, still_only=True), "fps": fps,
               "others_cpu": ran["others_cpu"]}
        if losses:
            row["style_loss"], row["content_loss"] = perceptual_losses(clip.frames, out, vgg, painting, short_side=loss_side)
        result["styles"][style] = row
    if optimum_frames:
        result["optimum"] = optimum_gap(clip.frames, outputs, networks, vgg, painting, optimum_frames, loss_side)
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
