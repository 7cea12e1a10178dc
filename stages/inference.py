"""Batched style inference on a runtime of models/runtimes.py: PyTorch on GPUs (fp16 autocast), and on a
CPU whichever of OpenVINO and ONNX Runtime runs the network faster, timed at open.

The engine hands this stage a list of up to `batch_size` frames (or fewer once `batch_timeout_ms` has
passed since the first one arrived). Frames of different sizes (an image folder) are run in groups.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from stylecam.models.blend import blend_state_dicts
from stylecam.models.networks import arch_text, create_network
from stylecam.models.runtimes import (BACKENDS, PRECISIONS, BackendError, RuntimeOptions, available, cpu_cores,
                                      create_runtime, fastest_cpu_runtime, split_cores)
from stylecam.models.styles import NETWORKS, StyleError, geometry, load_style, mix_network, network_for
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, STYLED, TENSOR


MIX_STEPS = 10  # mixes of two styles prepared at open: 0, 0.1, ..., 1 (and the one asked for)


class Inference:
    name = "inference"
    takes, gives = (TENSOR,), STYLED

    def __init__(self, style: str = "random", device: str = "auto", batch_size: int = 1,
                 batch_timeout_ms: float = 40.0, precision: str = "auto", backend: str = "auto",
                 threads: int = 0, network: str = "auto", workers: int = 0, mix_with: str | None = None,
                 mix: float = 0.0, spin_wait: bool = False, calibration: str | None = None) -> None:
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
        if precision not in PRECISIONS:
            raise StageError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.precision = precision
        if precision == "int8" and not calibration:
            raise StageError("precision int8 needs calibration: a folder of photos like the ones to be stylised")
        if calibration and not Path(calibration).is_dir():
            raise StageError(f"calibration folder not found: {calibration}")
        self.calibration = calibration  # int8's activation ranges come from these photos (models/quantize.py)
        if not 0.0 <= float(mix) <= 1.0:
            raise StageError(f"mix must be between 0 and 1, not {mix}")
        # mix_with: a second style; `mix` (and the live [ ] keys) blend from `style` (0) to it (1)
        self.mix_with, self.mix = mix_with, float(mix)
        self._kinds: dict[str, str] = {}  # device type -> network kind (resolving a mix reads the style folders)
        self.spin_wait = spin_wait  # ONNX Runtime's idle threads spin (models/runtimes.py RuntimeOptions)
        self.controls = None

    def network_geometry(self, device_type: str) -> tuple[int, int]:
        """(size multiple, min side) the style's networks take, from their recorded architecture: what
        preprocess rounds the inference size to (the application passes it on before anything opens)."""
        try:
            kind = self._kind(device_type)
            shapes = [geometry(spec, kind) for spec in (self.style, self.mix_with) if spec]
        except StyleError as exc:
            raise StageError(str(exc)) from None
        return max(m for m, _ in shapes), max(s for _, s in shapes)

    @property
    def network_kind(self) -> str:
        """fast, half or full: the network open() loaded (a fast_net is the CPU's)."""
        return self._kind(self.device.type)

    def _kind(self, device_type: str) -> str:
        """The network (fast, half, full) to load: the device's, or with a mix the one both styles have."""
        if device_type not in self._kinds:
            kind = network_for(device_type, self.network)
            self._kinds[device_type] = mix_network(self.style, self.mix_with, kind) if self.mix_with else kind
        return self._kinds[device_type]

    def _network(self, spec: str) -> torch.nn.Module:
        try:
            net, _ = load_style(spec, self._kind(self.device.type))
        except StyleError as exc:
            raise StageError(str(exc)) from None
        return net

    def _runner(self, net: torch.nn.Module):
        try:
            return create_runtime(self.backend, net, self.device, self.options)
        except BackendError as exc:
            raise StageError(str(exc)) from None

    def _load(self, spec: str):
        return self._runner(self._network(spec))

    def _prepare_mix(self) -> None:
        """Every mix step between the two styles as a network of its own, built now (a weight-space
        blend, models/blend.py): on the frame path a change of mix is a pointer swap, never a stall."""
        a, b = self._network(self.style), self._network(self.mix_with)
        if a.arch() != b.arch():
            raise StageError(f"cannot mix {self.style} ({arch_text(a.arch())}) with {self.mix_with} "
                             f"({arch_text(b.arch())}): give two styles of one architecture (e.g. both -fast)")
        steps = sorted({round(i / MIX_STEPS, 6) for i in range(MIX_STEPS + 1)} | {round(self.mix, 6)})
        state_a, state_b = a.state_dict(), b.state_dict()
        for m in steps:
            if m in (0.0, 1.0):
                net = a if m == 0.0 else b
            else:
                net = create_network(a.arch())
                net.load_state_dict(blend_state_dicts([(state_a, 1.0 - m), (state_b, m)]))
            self._mixed[m] = self._runner(net.eval())

    def _mix_step(self, mix: float) -> float:
        return min(self._mixed, key=lambda m: abs(m - mix))

    def open(self, ctx: Context) -> None:
        self.device = torch.device(ctx.device if self.device_name == "auto" else self.device_name)
        if self.device.type == "cpu":
            self.workers, self.threads = split_cores(self.workers, self.threads, cpu_cores())
        else:
            self.workers = self.workers or 1
        self.options = RuntimeOptions(self.threads, self.spin_wait, self.precision, self.calibration)
        timed = None
        if self.backend == "auto":
            # On a CPU both compiled runtimes beat eager PyTorch (ONNX Runtime 1.4-2.4x, docs/benchmarks.md);
            # which of the two is faster depends on the CPU, so it is measured here.
            if self.device.type != "cpu":
                self.backend = "torch"
            elif self.precision in ("fp16", "bf16"):  # ONNX Runtime's CPU kernels have neither
                self.backend = "openvino" if available("openvino") else "torch"
            elif available("openvino") and self.precision in ("auto", "fp32", "int8") and not self.mix_with:
                # (with mix_with: ONNX Runtime, so the eleven mix steps are not built twice to be timed)
                size = ctx.extras.get("inference_size") or (256, 256)
                timed = fastest_cpu_runtime(self._network(self.style), self.options, size[:2])
                self.backend = timed.name
            else:
                self.backend = "onnxruntime"
        self.net = timed if timed is not None else self._load(self.style)  # the timed runtime is kept
        self.effective_precision = self.net.precision
        self._first_style = self.style
        # Live mode: every style the hotkeys can reach is loaded now, so a switch is a pointer swap.
        self.controls = ctx.extras.get("controls")
        self._loaded = {self.style: self.net}
        if self.controls is not None:
            for spec in self.controls.styles:
                if spec not in self._loaded:
                    self._loaded[spec] = self._load(spec)
        self._mixed: dict[float, object] = {}
        if self.mix_with:
            self._prepare_mix()
            if self.controls is not None:
                self.controls.mix = self.mix
        self.size_controller = ctx.extras.get("size_controller")
        if self.size_controller is not None:
            self.size_controller.set_workers(self.workers, float(ctx.fps or 30))
            self._seed_size(ctx)
        size = ctx.extras.get("inference_size")  # set by preprocess when the source knows its frame size
        if self.device.type != "cpu" and size:
            self.warm_up(*size)

    def _seed_size(self, ctx: Context) -> None:
        """Time one frame at a modest size now, so the live size controller starts where it fits instead of
        at the camera's full size (which a 1080p camera pays for in dropped frames)."""
        if not (ctx.width and ctx.height):
            return
        side = min(360, min(ctx.width, ctx.height))
        multiple = ctx.extras.get("network_geometry", (8, 16))[0]
        w = max(multiple, round(ctx.width * side / min(ctx.width, ctx.height) / multiple) * multiple)
        h = max(multiple, round(ctx.height * side / min(ctx.width, ctx.height) / multiple) * multiple)
        x = torch.zeros(1, 3, h, w, dtype=torch.uint8, device=self.device)
        self._run(self.net, x)  # the first run allocates
        t0 = time.perf_counter()
        self._run(self.net, x)
        self.size_controller.seed(time.perf_counter() - t0, min(w, h))

    def warm_up(self, width: int, height: int) -> None:
        """Run one batch of the size to come, so cuDNN's kernel search and lazy CUDA set-up happen before
        the first real frame (a live stream would otherwise stall on it)."""
        x = torch.zeros(self.batch_size, 3, height, width, dtype=torch.uint8, device=self.device)
        for net in self._loaded.values():
            self._run(net, x)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _run(self, runtime, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():  # the torch runtime's outputs are inference tensors: clamp them in place here
            return runtime(x.float().div_(255)).clamp_(0, 1)

    def process(self, frames: Frame | list[Frame]) -> list[Frame]:
        frames = frames if isinstance(frames, list) else [frames]
        wanted = self.controls.style if self.controls is not None else None
        if wanted is not None and wanted != self.style:
            self.net, self.style = self._loaded[wanted], wanted
        net = self.net
        if self._mixed and self.style == self._first_style:
            net = self._mixed[self._mix_step(self.controls.mix if self.controls is not None else self.mix)]
        groups: dict[tuple, list[Frame]] = {}
        for f in frames:
            groups.setdefault(tuple(f.data.shape), []).append(f)
        for group in groups.values():
            t0, c0 = time.perf_counter(), time.thread_time()
            y = self._run(net, torch.stack([f.data for f in group]))
            if self.size_controller is not None:  # this worker's time per frame, at the size it ran
                size = group[0].meta.get("inference_size")
                self.size_controller.observe((time.perf_counter() - t0) / len(group), size[2] if size else -1,
                                             (time.thread_time() - c0) / len(group))
            for f, out in zip(group, y):
                f.data = out
        return frames

    def close(self) -> None:
        self.net = None
