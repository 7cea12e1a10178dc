"""Batched style inference: PyTorch (fp16 on CUDA, torch.inference_mode, any device) or ONNX Runtime
(the default on CPUs, where it measured 1.4-2.4x faster than eager PyTorch).

The engine hands this stage a list of up to `batch_size` frames (or fewer once `batch_timeout_ms` has
passed since the first one arrived). Frames of different sizes (an image folder) are run in groups.
"""
from __future__ import annotations

import os

import torch

from stylecam.models.styles import NETWORKS, StyleError, load_style, network_for
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError


BACKENDS = ("auto", "torch", "onnxruntime")


def cpu_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split_cores(workers: int, threads: int, cores: int) -> tuple[int, int]:
    """(workers, intra-op threads per worker) on a CPU; 0 means choose.

    By default every core runs its own frame with one thread: on 2 cores two one-thread ONNX Runtime
    workers gave 1.27x the frames per second of one two-thread worker (docs/benchmarks.md), since small
    convolutions split across threads spend much of their time waiting for each other.
    """
    if not workers:
        workers = max(1, cores // threads) if threads else cores
    return workers, threads or max(1, cores // workers)


class OnnxRunner:
    """Callable like the torch network: float tensor in, float tensor out, run by onnxruntime (CPU)."""

    def __init__(self, net: torch.nn.Module, threads: int) -> None:
        from stylecam.models.export import onnx_bytes, ort_session

        self.session = ort_session(onnx_bytes(net), threads)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"input": x.float().numpy()})[0])


class Inference:
    name = "inference"

    def __init__(self, style: str = "random", device: str = "auto", batch_size: int = 1,
                 batch_timeout_ms: float = 40.0, half: bool | None = None, backend: str = "auto",
                 threads: int = 0, network: str = "auto", workers: int = 0) -> None:
        if batch_size < 1:
            raise StageError("batch_size must be at least 1")
        if backend not in BACKENDS:
            raise StageError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if workers < 0 or threads < 0:
            raise StageError("workers and threads must be 0 (auto) or more")
        # workers: frames in flight at once (the engine gives each a thread); threads: intra-op threads of
        # each. 0 = auto: on a CPU one worker per core with one thread each, on a GPU one worker.
        self.backend, self.threads, self.workers = backend, int(threads), int(workers)
        self.style, self.device_name = style, device
        if network not in NETWORKS:
            raise StageError(f"network must be one of {', '.join(NETWORKS)}, not {network!r}")
        self.network = network  # auto: the style's fast_net twin on the CPU, Johnson's network on GPUs
        self.batch_size, self.batch_timeout_ms = int(batch_size), float(batch_timeout_ms)
        self.half = half
        self.controls = None

    def _load(self, spec: str):
        try:
            net, _ = load_style(spec, network_for(self.device.type, self.network))
        except StyleError as exc:
            raise StageError(str(exc)) from None
        if self.backend == "onnxruntime":
            return OnnxRunner(net, self.threads)
        net = net.to(self.device).eval()
        return net.half() if self.dtype == torch.float16 else net

    def open(self, ctx: Context) -> None:
        self.device = torch.device(ctx.device if self.device_name == "auto" else self.device_name)
        if self.backend == "auto":  # measured (docs/benchmarks.md): onnxruntime 1.4-2.4x eager PyTorch on CPUs
            self.backend = "onnxruntime" if self.device.type == "cpu" else "torch"
        if self.backend == "onnxruntime" and self.device.type != "cpu":
            raise StageError("the onnxruntime backend runs on the CPU here: use --device cpu or --backend torch")
        if self.device.type == "cpu":
            self.workers, self.threads = split_cores(self.workers, self.threads, cpu_cores())
            if self.backend == "torch":
                torch.set_num_threads(self.threads)
        else:
            self.workers = self.workers or 1
        use_half = self.device.type == "cuda" if self.half is None else self.half
        self.dtype = torch.float16 if use_half else torch.float32
        self.net = self._load(self.style)
        # Live mode: every style the hotkeys can reach is loaded now, so a switch is a pointer swap.
        self.controls = ctx.extras.get("controls")
        self._loaded = {self.style: self.net}
        if self.controls is not None:
            for spec in self.controls.styles:
                if spec not in self._loaded:
                    self._loaded[spec] = self._load(spec)

    def process(self, frames: Frame | list[Frame]) -> list[Frame]:
        frames = frames if isinstance(frames, list) else [frames]
        wanted = self.controls.style if self.controls is not None else None
        if wanted is not None and wanted != self.style:
            self.net, self.style = self._loaded[wanted], wanted
        net = self.net
        groups: dict[tuple, list[Frame]] = {}
        for f in frames:
            groups.setdefault(tuple(f.data.shape), []).append(f)
        with torch.inference_mode():
            for group in groups.values():
                x = torch.stack([f.data for f in group]).to(self.dtype).div_(255)
                y = net(x).clamp_(0, 1)
                for f, out in zip(group, y):
                    f.data = out
        return frames

    def close(self) -> None:
        self.net = None
