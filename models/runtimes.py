"""Runtimes: where a style network runs. One small interface for every backend:

    runtime = create_runtime("openvino", net, torch.device("cpu"), RuntimeOptions(threads=1))
    y = runtime(x)          # float NCHW RGB in [0, 1] -> float NCHW RGB, on the runtime's device
    runtime.name, runtime.precision

  torch        any device; torch.inference_mode, and fp16 autocast on GPUs (instance norm's statistics stay
               in fp32 under autocast, unlike `.half()`, whose variance of a flat frame can underflow)
  onnxruntime  CPU, fp32, from the ONNX export (models/export.py); 1.4-2.4x eager PyTorch on CPUs
  openvino     CPU, from the same export; bf16 where the CPU has it natively

Thread count, ONNX Runtime's spin-wait and precision are options of the runtime (RuntimeOptions), given
by whoever builds it, never module state.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class BackendError(ValueError):
    """A backend that cannot run as asked (wrong device, missing package, precision); the message is fit for users."""


@dataclass(frozen=True)
class RuntimeOptions:
    threads: int = 0  # intra-op threads; 0: the runtime's own choice
    # ONNX Runtime's pool threads spin between ops unless told not to; measured (benchmarks/threads.py): on
    # 2 cores spinning threads starve the decode and encode threads, so off by default.
    spin_wait: bool = False
    precision: str = "auto"  # see pick_precision; int8 (onnxruntime, openvino) needs `calibration`
    calibration: str | None = None  # a folder of photos that sets int8's activation ranges (models/quantize.py)


class Runtime(Protocol):
    name: str
    precision: str  # what it actually runs in: fp32, fp16 or bf16

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


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


class TorchRuntime:
    name = "torch"

    def __init__(self, net: nn.Module, device: torch.device, options: RuntimeOptions = RuntimeOptions()) -> None:
        if options.precision == "int8":
            raise BackendError("int8 runs on the onnxruntime and openvino backends, not torch")
        self.device = device
        self.precision = pick_precision(options.precision, device)
        if device.type == "cpu" and options.threads:
            torch.set_num_threads(options.threads)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed frame sizes: let cuDNN pick its fastest kernels once
        self.net = net.to(device).eval()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        autocast = (torch.autocast(self.device.type, enabled=False) if self.precision == "fp32"
                    else torch.autocast(self.device.type, dtype=DTYPES[self.precision]))
        with torch.inference_mode(), autocast:
            return self.net(x).float()


def ort_session(model: bytes | str, options: RuntimeOptions = RuntimeOptions()):
    """An ONNX Runtime CPU session of an exported model (bytes or a path)."""
    import onnxruntime as ort

    session_options = ort.SessionOptions()
    if options.threads:
        session_options.intra_op_num_threads = options.threads
    if not options.spin_wait:  # idle pool threads sleep instead of spinning, leaving the core to decode/encode
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session_options.log_severity_level = 3  # errors only: its graph-clean-up warnings are not users' business
    return ort.InferenceSession(model, session_options, providers=["CPUExecutionProvider"])


class OnnxRuntime:
    name = "onnxruntime"
    precision = "fp32"

    def __init__(self, net: nn.Module, device: torch.device, options: RuntimeOptions = RuntimeOptions()) -> None:
        if options.precision not in ("auto", "fp32", "int8"):
            raise BackendError("the onnxruntime backend runs in fp32 or int8: use --backend torch for fp16 or bf16")
        self.precision = "int8" if options.precision == "int8" else "fp32"
        self.session = ort_session(_export(net, options), options)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"input": x.float().numpy()})[0])


class OpenVinoRuntime:
    """OpenVINO's CPU plugin from the ONNX export. With precision auto the plugin picks its own (bf16 on CPUs
    with native bf16: 2.1x ONNX Runtime at 640x480 on one thread on AMD family 25, at most 1.8/255 from
    fp32); fp32 pins f32. One infer request per thread, so several inference workers share the compiled model."""

    name = "openvino"

    def __init__(self, net: nn.Module, device: torch.device, options: RuntimeOptions = RuntimeOptions()) -> None:
        import openvino as ov

        _ready_numpy_bridge(ov)
        core = ov.Core()
        config: dict = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": options.threads or 0}
        if options.precision not in ("auto", "int8"):  # int8: the layers between the quantized ones as auto
            config["INFERENCE_PRECISION_HINT"] = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}[options.precision]
        model = core.read_model(model=_export(net, options), weights=b"")
        self.compiled = core.compile_model(model, "CPU", config)
        hint = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()  # e.g. "<Type: 'bfloat16'>"
        self.precision = ("int8" if options.precision == "int8" else
                          "bf16" if "bf" in hint else "fp16" if "16" in hint else "fp32")
        self._local = threading.local()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        out = request.infer({0: x.float().numpy()})
        return torch.from_numpy(next(iter(out.values())).copy())


def _export(net: nn.Module, options: RuntimeOptions) -> bytes:
    """The ONNX file a compiled runtime reads: the float export, or its int8 quantization."""
    if options.precision != "int8":
        from stylecam.models.export import onnx_bytes

        return onnx_bytes(net)
    if not options.calibration:
        raise BackendError("int8 needs calibration photos: give a folder of pictures like the ones to be "
                           "stylised (calibration: DIR)")
    from stylecam.models.quantize import CalibrationError, int8_onnx_bytes

    try:
        return int8_onnx_bytes(net, options.calibration)
    except CalibrationError as exc:
        raise BackendError(str(exc)) from None


def _ready_numpy_bridge(ov: Any) -> None:
    """Touch OpenVINO's numpy bridge once, in the thread that opens the runtime. Its first use initialises
    pybind11's numpy API under a std::call_once that waits for the GIL: two inference workers making their
    first infer() at the same moment deadlocked (one in call_once waiting for the GIL, the other holding
    the GIL waiting for call_once; seen in about one transcode in ten with --backend openvino)."""
    ov.Tensor(np.zeros(1, dtype=np.float32)).data


RUNTIMES = {"torch": TorchRuntime, "onnxruntime": OnnxRuntime, "openvino": OpenVinoRuntime}


def available(backend: str) -> bool:
    """Whether the backend's package is installed (torch always is)."""
    module = {"onnxruntime": "onnxruntime", "openvino": "openvino"}.get(backend)
    if module is None:
        return backend == "torch"
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def create_runtime(backend: str, net: nn.Module, device: torch.device, options: RuntimeOptions = RuntimeOptions()) -> Runtime:
    if backend not in RUNTIMES:
        raise BackendError(f"backend must be one of {', '.join(RUNTIMES)}, not {backend!r}")
    if backend != "torch" and device.type != "cpu":
        raise BackendError(f"the {backend} backend runs on the CPU here: use --device cpu or --backend torch")
    if not available(backend):
        raise BackendError(f"the {backend} backend needs the {backend} package: pip install {backend}")
    return RUNTIMES[backend](net, device, options)


def onnx_model_runner(model: str, options: RuntimeOptions = RuntimeOptions()) -> Callable[[np.ndarray], np.ndarray]:
    """A plain ONNX model (a helper such as the person mask, not a style network) as numpy in -> first output
    out: OpenVINO in f32 where installed (the selfie mask: 3.7 ms against ONNX Runtime's 5.3 on one thread,
    AMD family 25), else ONNX Runtime. One infer request per calling thread."""
    if available("openvino"):
        import openvino as ov

        _ready_numpy_bridge(ov)
        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": options.threads or 0,
                  "INFERENCE_PRECISION_HINT": "f32"}
        compiled = core.compile_model(core.read_model(model), "CPU", config)
        local = threading.local()

        def run_openvino(x: np.ndarray) -> np.ndarray:
            if getattr(local, "request", None) is None:
                local.request = compiled.create_infer_request()
            return next(iter(local.request.infer({0: x}).values())).copy()

        return run_openvino
    session = ort_session(model, options)
    return lambda x: session.run(None, {session.get_inputs()[0].name: x})[0]


def fastest_cpu_runtime(net: nn.Module, options: RuntimeOptions, size: tuple[int, int], rounds: int = 3,
                        candidates: tuple[str, ...] = ("onnxruntime", "openvino")) -> Runtime:
    """Of the installed compiled runtimes, the one that runs this network fastest on this CPU at the size to
    come, timed now (a few frames): which wins depends on the CPU (bf16, AVX-512, thread layout)."""
    x = torch.rand(1, 3, size[1], size[0])
    best, best_time = None, float("inf")
    for name in (c for c in candidates if available(c)):
        runtime = RUNTIMES[name](net, torch.device("cpu"), options)
        runtime(x)  # first run: allocations, kernel choice
        t0 = time.perf_counter()
        for _ in range(rounds):
            runtime(x)
        elapsed = time.perf_counter() - t0
        if elapsed < best_time:
            best, best_time = runtime, elapsed
    if best is None:
        return TorchRuntime(net, torch.device("cpu"), options)
    return best
