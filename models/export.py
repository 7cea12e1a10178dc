"""ONNX export with dynamic batch/height/width, and a parity check against PyTorch. Running an export is
models/runtimes.py's job."""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import Callable

import numpy as np
import torch
from torch import nn

from stylecam.pipeline.files import atomic_output, cache_dir, write_bytes_atomic

OPSET = 17
DYNAMIC = {0: "batch", 2: "height", 3: "width"}


def export_onnx(net: nn.Module, out: str | os.PathLike | io.BytesIO) -> None:
    """Input "input" and output "output": float32 NCHW RGB in [0, 1]; the output is clamped to [0, 1]."""
    wrapped = _Clamped(net.float().eval())
    example = torch.rand(1, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is chatty about instance norm
        torch.onnx.export(wrapped, (example,), out, dynamo=False, opset_version=OPSET, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": DYNAMIC, "output": DYNAMIC})


class _Clamped(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).clamp(0, 1)


def onnx_bytes(net: nn.Module) -> bytes:
    """The exported model, cached on disk by a hash of the weights (export takes a second or two)."""
    digest = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        digest.update(k.encode())
        digest.update(v.detach().cpu().numpy().tobytes())

    def export() -> bytes:
        buffer = io.BytesIO()
        export_onnx(net, buffer)
        return buffer.getvalue()

    return cached_model(f"{digest.hexdigest()[:24]}.onnx", export)


def cached_model(name: str, make: Callable[[], bytes]) -> bytes:
    """The file `name` of stylecam's model cache (~/.cache/stylecam/onnx), made by `make` when missing."""
    cache = cache_dir("onnx")
    path = cache / name
    if path.is_file():
        return path.read_bytes()
    data = make()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
    except OSError:
        pass  # a read-only home only costs the work next time
    return data


def parity(net: nn.Module, model: bytes | str, shapes: tuple[tuple[int, ...], ...] = ((1, 3, 64, 64), (2, 3, 120, 160))) -> float:
    """Largest |onnxruntime - PyTorch| over random inputs of several shapes (outputs in [0, 1])."""
    from stylecam.models.runtimes import ort_session

    session = ort_session(model)
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for shape in shapes:
        x = torch.rand(*shape, generator=generator)
        with torch.no_grad():
            expected = net.float().eval()(x).clamp(0, 1).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


PARITY_LIMIT = 1e-3  # outputs in [0, 1]: a quarter of a uint8 step


class ExportError(ValueError):
    """An export that does not reproduce the network; the message is fit for users."""


def export_style(net: nn.Module, output: str | os.PathLike, check: bool = True) -> float | None:
    """Write `net` as ONNX to `output` (atomically); with `check`, refuse an export whose ONNX Runtime output
    differs from PyTorch's by more than PARITY_LIMIT. Returns the largest difference (None unchecked)."""
    worst = None
    with atomic_output(output) as tmp:
        export_onnx(net, str(tmp))
        if check:
            worst = parity(net, str(tmp))
            if worst > PARITY_LIMIT:
                raise ExportError(f"ONNX output differs from PyTorch by {worst:.2e} (> {PARITY_LIMIT:g}); not written")
    return worst
