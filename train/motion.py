"""Motion for temporal consistency: flow fields, warping, occlusion masks, synthetic pairs and clips.

One flow convention everywhere, OpenCV's: `flow` lives on the grid of frame A and points into frame B,
A(p) ~ B(p + flow(p)). So `warp(B, flow)` pulls B back onto A's grid; that is what both the warping
error (output t warped onto t-1) and the temporal training loss compare against.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur


# ---------------------------------------------------------------- numpy / OpenCV side (evaluation)

def warp_image(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """B pulled onto A's grid: out(p) = image(p + flow(p)); also the mask of pixels that landed inside."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return out, inside


def estimate_flow(a_rgb: np.ndarray, b_rgb: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow from A to B on the input frames (OpenCV DIS, medium preset, or Farneback)."""
    a = cv2.cvtColor(a_rgb, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(b_rgb, cv2.COLOR_RGB2GRAY)
    if method == "dis":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 5, 1.1, 0)
    raise ValueError(f"unknown flow method {method!r} (dis or farneback)")


def consistent_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of A visible in B: the forward-backward check of Sundaram et al. 2010 (as in Lai et al. 2018)."""
    back_at, inside = warp_image(backward, forward)
    total = forward + back_at
    bound = 0.01 * ((forward ** 2).sum(-1) + (back_at ** 2).sum(-1)) + 0.5
    return inside & ((total ** 2).sum(-1) <= bound)


def warping_error(out_a: np.ndarray, out_b: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared RGB difference in [0, 1] between output A and output B warped onto A, over `mask`."""
    warped, inside = warp_image(out_b, flow)
    valid = mask & inside
    if not valid.any():
        return 0.0
    diff = (out_a.astype(np.float32) - warped.astype(np.float32)) / 255.0
    return float((diff ** 2).sum(-1)[valid].mean())


# ---------------------------------------------------------------- synthetic-motion clips (exact flow)

def _affine(cx: float, cy: float, scale: float, angle_deg: float, w: int, h: int) -> np.ndarray:
    """3x3 map from frame pixels to photo pixels: the view centred at (cx, cy), `scale` photo px per frame px."""
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    return np.array([[c, -s, cx - c * (w - 1) / 2 + s * (h - 1) / 2],
                     [s, c, cy - s * (w - 1) / 2 - c * (h - 1) / 2],
                     [0.0, 0.0, 1.0]])


def synthetic_clip(photo_rgb: np.ndarray, frames: int, size: tuple[int, int], pan: float = 0.25,
                   zoom: float = 0.08, rotate_deg: float = 2.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A camera moving over a still photo: pan across `pan` of the photo, zoom in and out by `zoom`,
    rock by `rotate_deg`. Returns the frames (RGB uint8, `size` = (w, h)) and the exact flow from each
    frame to the next (len frames - 1)."""
    w, h = size
    ph, pw = photo_rgb.shape[:2]
    shrink = 1.25 / (0.85 * min(pw / w, ph / h) / (1 + zoom) / (1 + pan))
    if shrink < 1:  # area-downscale first: point-sampling a much larger photo aliases, and the flow would not hold
        photo_rgb = cv2.resize(photo_rgb, (round(pw * shrink), round(ph * shrink)), interpolation=cv2.INTER_AREA)
        ph, pw = photo_rgb.shape[:2]
    # The largest view (zoomed out, rotated) must stay inside the photo wherever the pan takes it.
    base = 0.85 * min(pw / w, ph / h) / (1 + zoom) / (1 + pan)
    half_w = base * (1 + zoom) * (w * math.cos(math.radians(rotate_deg)) + h * math.sin(math.radians(rotate_deg))) / 2
    half_h = base * (1 + zoom) * (h * math.cos(math.radians(rotate_deg)) + w * math.sin(math.radians(rotate_deg))) / 2
    slack_x = max(0.0, pw / 2 - half_w - 1)
    slack_y = max(0.0, ph / 2 - half_h - 1)
    mats = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        cx = pw / 2 + slack_x * min(1.0, pan * 4) * (2 * t - 1)
        cy = ph / 2 + slack_y * 0.5 * min(1.0, pan * 4) * math.sin(2 * math.pi * t)
        scale = base * (1 + zoom * math.sin(2 * math.pi * t))
        mats.append(_affine(cx, cy, scale, rotate_deg * math.sin(4 * math.pi * t), w, h))
    clip = [cv2.warpAffine(photo_rgb, m[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) for m in mats]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    grid = np.stack([xs, ys, np.ones_like(xs)], -1)
    flows = []
    for m_a, m_b in zip(mats, mats[1:]):
        to_b = np.linalg.inv(m_b) @ m_a  # frame A pixels -> photo -> frame B pixels
        flows.append((grid @ to_b.T)[..., :2].astype(np.float32) - grid[..., :2].astype(np.float32))
    return clip, flows


# ---------------------------------------------------------------- torch side (training pairs)

def warp_tensor(x: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B,C,H,W) pulled by flow (B,H,W,2, pixels): out(p) = x(p + flow(p)); mask (B,1,H,W) of inside pixels."""
    b, _, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                            torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
    px, py = xs + flow[..., 0], ys + flow[..., 1]
    grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], -1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
    inside = ((px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)).unsqueeze(1).to(x.dtype)
    return out, inside


def random_flow(batch: int, h: int, w: int, generator: torch.Generator, max_shift: float = 6.0,
                max_zoom: float = 0.04, max_rotate_deg: float = 2.0, local: float = 1.5) -> torch.Tensor:
    """Smooth random flow (B,H,W,2) in pixels: a global shift + zoom + rotation about the centre, plus a
    local field (coarse noise, bicubically upsampled) of up to `local` pixels, like small object motion."""
    def uniform(scale: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * scale

    shift_x, shift_y = uniform(max_shift), uniform(max_shift)
    zoom, angle = uniform(max_zoom), uniform(math.radians(max_rotate_deg))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) - (h - 1) / 2,
                            torch.arange(w, dtype=torch.float32) - (w - 1) / 2, indexing="ij")
    cos, sin = (1 + zoom) * torch.cos(angle), (1 + zoom) * torch.sin(angle)
    fx = cos[:, None, None] * xs - sin[:, None, None] * ys - xs + shift_x[:, None, None]
    fy = sin[:, None, None] * xs + cos[:, None, None] * ys - ys + shift_y[:, None, None]
    coarse = (torch.rand(batch, 2, 4, 4, generator=generator) * 2 - 1) * local
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    return torch.stack([fx, fy], -1) + field.permute(0, 2, 3, 1)


def still_camera_flow(batch: int, h: int, w: int, generator: torch.Generator, local: float = 3.0) -> torch.Tensor:
    """Flow of a camera on a tripod: a few regions move by up to `local` pixels (people), the rest does not
    move at all, so the second frame differs from the first by that and by sensor noise only."""
    coarse = (torch.rand(batch, 2, 4, 4, generator=generator) * 2 - 1) * local
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    regions = F.interpolate(torch.rand(batch, 1, 4, 4, generator=generator), size=(h, w), mode="bilinear", align_corners=True)
    moving = ((regions - 0.6) * 10).clamp(0, 1)  # ~a third of the frame moves; soft edges keep the flow smooth
    return (field * moving).permute(0, 2, 3, 1)


def video_grain(shape: tuple[int, ...], blur: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unit-variance noise like a compressed video's frame-to-frame change: white noise blurred by a
    Gaussian of `blur` pixels per image (B,), half of it shared by the three channels. Measured on the
    static-camera clips: correlation 0.5 at 1 px and 0.2-0.5 at 4 px, 0.1-0.5 between channels."""
    b, c, h, w = shape
    shared = torch.randn(b, 1, h, w, generator=generator).expand(b, c, h, w)
    out = (shared + torch.randn(shape, generator=generator)) / math.sqrt(2)
    for i, s in enumerate(blur.tolist()):
        if s >= 0.3:
            size = 2 * math.ceil(3 * s) + 1
            img = gaussian_blur(out[i], [size, size], [s, s])
            out[i] = img / img.std().clamp_min(1e-8)
    return out


def synthetic_pair(x: torch.Tensor, generator: torch.Generator, noise: float = 0.01,
                   still: float = 0.0, grain_px: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A second 'frame' from still images x (B,3,H,W in [0,1]): x2 = warp(x, flow) + a little noise.
    A fraction `still` of the pairs get a still camera's flow (still_camera_flow) and noise of 0-2x `noise`
    instead: static-camera video has hardly any motion, so what flickers there is the response to noise.
    With `grain_px` > 0 the still pairs' noise is video_grain, blurred by 0-grain_px pixels per pair, instead
    of white. Returns x2, the flow (on x2's grid, into x) and the mask of pixels that came from inside x."""
    b, _, h, w = x.shape
    flow = random_flow(b, h, w, generator)
    sigma = torch.full((b,), noise)  # per pair
    is_still = torch.zeros(b, dtype=torch.bool)
    if still > 0:
        is_still = torch.rand(b, generator=generator) < still
        flow[is_still] = still_camera_flow(int(is_still.sum()), h, w, generator)
        sigma = torch.where(is_still, 2 * noise * torch.rand(b, generator=generator), sigma)
    flow = flow.to(x.device, x.dtype)
    x2, inside = warp_tensor(x, flow)
    unit = torch.randn(x2.shape, generator=generator)
    if grain_px > 0 and is_still.any():
        blur = grain_px * torch.rand(int(is_still.sum()), generator=generator)
        unit[is_still] = video_grain((int(is_still.sum()), *x2.shape[1:]), blur, generator)
    grain = sigma.view(b, 1, 1, 1) * unit
    x2 = (x2 + grain.to(x.device, x.dtype)).clamp(0, 1)
    return x2, flow, inside


def temporal_loss(net_x: torch.Tensor, net_x2: torch.Tensor, flow: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """|| T(warp(x)) - warp(T(x)) ||^2 over the pixels that exist in both (ReReVST's compound loss)."""
    warped, inside_out = warp_tensor(net_x, flow)
    mask = inside * inside_out
    return ((net_x2 - warped) ** 2 * mask).sum() / (mask.sum() * net_x.shape[1]).clamp_min(1.0)
