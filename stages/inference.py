"""Batched style inference: PyTorch (any device, torch.inference_mode; mixed precision on GPUs) or ONNX
Runtime (the default on CPUs, where it measured 1.4-2.4x faster than eager PyTorch).

On GPUs the fp32-trained networks run under fp16 autocast, which keeps instance norm's statistics in
fp32, instead of casting the weights to fp16 (`.half()`), whose instance-norm variance of a flat
frame can underflow. `precision: bf16` or `fp32` overrides it.

The engine hands this stage a list of up to `batch_size` frames (or fewer once `batch_timeout_ms` has
passed since the first one arrived). Frames of different sizes (an image folder) are run in groups.
"""
from __future__ import annotations

import os
import threading
import time

import torch

from stylecam.models.blend import blend_state_dicts
from stylecam.models.networks import arch_text, create_network
from stylecam.models.styles import NETWORKS, StyleError, load_style, network_for
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError, STYLED, TENSOR


BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
MIX_STEPS = 10  # mixes of two styles prepared at open: 0, 0.1, ..., 1 (and the one asked for)
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def pick_precision(precision: str, device: torch.device) -> str:
    """auto: fp16 autocast on GPUs (CUDA, MPS), fp32 on the CPU. fp16 rather than bf16: outputs stay in
    [0, 1] and instance norm keeps activations small, so fp16's range suffices and its 3 more mantissa
    bits matter (measured on CPU autocast, shipped styles vs fp32: fp16 at most 0.5/255, bf16 up to 3.4/255)."""
    if precision != "auto":
        return precision
    return "fp32" if device.type == "cpu" else "fp16"


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


class OpenVinoRunner:
    """Callable like the torch network, run by OpenVINO's CPU plugin from the same ONNX export. With
    precision auto the plugin picks its own (bf16 on CPUs with native bf16: 2.1x ONNX Runtime at 640x480
    on one thread here, at most 1.8/255 from fp32); fp32 pins f32. One infer request per thread, so
    several inference workers can share the compiled model."""

    def __init__(self, net: torch.nn.Module, threads: int, precision: str = "auto") -> None:
        import openvino as ov

        from stylecam.models.export import onnx_bytes

        core = ov.Core()
        config: dict = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads or 0}
        if precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}[precision]
        self.compiled = core.compile_model(core.read_model(model=onnx_bytes(net), weights=b""), "CPU", config)
        hint = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()  # e.g. "<Type: 'bfloat16'>"
        self.precision = "bf16" if "bf" in hint else "fp16" if "16" in hint else "fp32"
        self._local = threading.local()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        out = request.infer({0: x.float().numpy()})
        return torch.from_numpy(next(iter(out.values())).copy())


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def faster_cpu_backend(net: torch.nn.Module, threads: int, size: tuple[int, int], rounds: int = 3,
                       precision: str = "auto") -> tuple[str, object]:
    """(name, runner) of OpenVINO or ONNX Runtime, whichever runs this network faster on this CPU at the
    size to come, timed now (a few frames): which wins depends on the CPU (bf16, AVX-512, thread layout)."""
    x = torch.rand(1, 3, size[1], size[0])
    timings, runners = {}, {}
    for name, runner in (("onnxruntime", OnnxRunner(net, threads)), ("openvino", OpenVinoRunner(net, threads, precision))):
        runner(x)  # first run: allocations, kernel choice
        t0 = time.perf_counter()
        for _ in range(rounds):
            runner(x)
        timings[name], runners[name] = time.perf_counter() - t0, runner
    best = min(timings, key=timings.get)
    return best, runners[best]


class Inference:
    name = "inference"
    takes, gives = (TENSOR,), STYLED

    def __init__(self, style: str = "random", device: str = "auto", batch_size: int = 1,
                 batch_timeout_ms: float = 40.0, precision: str = "auto", backend: str = "auto",
                 threads: int = 0, network: str = "auto", workers: int = 0, mix_with: str | None = None,
                 mix: float = 0.0) -> None:
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
        if not 0.0 <= float(mix) <= 1.0:
            raise StageError(f"mix must be between 0 and 1, not {mix}")
        # mix_with: a second style; `mix` (and the live [ ] keys) blend from `style` (0) to it (1)
        self.mix_with, self.mix = mix_with, float(mix)
        self.controls = None

    def _network(self, spec: str) -> torch.nn.Module:
        try:
            net, _ = load_style(spec, network_for(self.device.type, self.network))
        except StyleError as exc:
            raise StageError(str(exc)) from None
        return net

    def _runner(self, net: torch.nn.Module):
        if self.backend == "onnxruntime":
            return OnnxRunner(net, self.threads)
        if self.backend == "openvino":
            runner = OpenVinoRunner(net, self.threads, self.precision)
            self.effective_precision = runner.precision
            return runner
        return net.to(self.device).eval()

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
        if self.backend in ("onnxruntime", "openvino") and self.device.type != "cpu":
            raise StageError(f"the {self.backend} backend runs on the CPU here: use --device cpu or --backend torch")
        if self.backend == "openvino" and not openvino_available():
            raise StageError("the openvino backend needs the openvino package: pip install openvino")
        if self.device.type == "cpu":
            self.workers, self.threads = split_cores(self.workers, self.threads, cpu_cores())
        else:
            self.workers = self.workers or 1
        timed = None
        if self.backend == "auto":
            # On a CPU both compiled runtimes beat eager PyTorch (ONNX Runtime 1.4-2.4x, docs/benchmarks.md);
            # which of the two is faster depends on the CPU, so it is measured here.
            if self.device.type != "cpu":
                self.backend = "torch"
            elif openvino_available() and self.precision in ("auto", "fp32") and not self.mix_with:
                # (with mix_with: ONNX Runtime, so the eleven mix steps are not built twice to be timed)
                size = ctx.extras.get("inference_size") or (256, 256)
                self.backend, timed = faster_cpu_backend(self._network(self.style), self.threads, size[:2],
                                                         precision=self.precision)
            else:
                self.backend = "onnxruntime"
        if self.backend == "torch" and self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        if self.backend != "openvino":  # OpenVINO picks its own precision under auto
            self.precision = pick_precision(self.precision, self.device)
        if self.backend == "onnxruntime" and self.precision != "fp32":
            raise StageError("the onnxruntime backend runs in fp32: use --backend torch for fp16 or bf16")
        self.effective_precision = getattr(timed, "precision", self.precision) if timed is not None else self.precision
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed frame sizes: let cuDNN pick its fastest kernels once
        self.net = timed if timed is not None else self._load(self.style)  # the timed runner is kept
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
        size = ctx.extras.get("inference_size")  # set by preprocess when the source knows its frame size
        if self.device.type != "cpu" and size:
            self.warm_up(*size)

    def _autocast(self):
        if self.backend != "torch" or self.precision == "fp32":  # the compiled runtimes set their own
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=DTYPES[self.precision])

    def warm_up(self, width: int, height: int) -> None:
        """Run one batch of the size to come, so cuDNN's kernel search and lazy CUDA set-up happen before
        the first real frame (a live stream would otherwise stall on it)."""
        x = torch.zeros(self.batch_size, 3, height, width, dtype=torch.uint8, device=self.device)
        for net in self._loaded.values():
            self._run(net, x)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _run(self, net, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), self._autocast():
            return net(x.float().div_(255)).float().clamp_(0, 1)

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
            t0 = time.perf_counter()
            y = self._run(net, torch.stack([f.data for f in group]))
            if self.size_controller is not None:  # this worker's time per frame, at the size it ran
                size = group[0].meta.get("inference_size")
                self.size_controller.observe((time.perf_counter() - t0) / len(group), size[2] if size else -1)
            for f, out in zip(group, y):
                f.data = out
        return frames

    def close(self) -> None:
        self.net = None
