"""`stylecam bench`: the pipeline and the naive sequential loop, side by side in one run.

The naive loop is what the PyTorch fast-neural-style example does for video: take a frame, run it
through the same preprocess, network and postprocess, hand it to the same kind of sink, then take the
next one, all in one thread. Comparing the two in the same run on the same input cancels most of the
noise of a shared machine; the ratio is the figure to quote.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stylecam.pipeline.app.build import build_pipeline, override
from stylecam.pipeline.metrics import WARMUP_FRAMES
from stylecam.stages.direct import process_one


def bench_spec(input_path: str | None, size: tuple[int, int], frames: int, style: str, image_size: int | None,
               backend: str, batch_size: int, sink: str, workdir: Path, live: bool = False, network: str = "auto",
               threads: int = 0, workers: int = 0, spin_wait: bool = False, mask: str | None = None,
               max_cores: float | None = None) -> dict:
    if input_path:
        source: dict[str, Any] = {"type": "file", "path": input_path, "max_frames": frames, "realtime": live}
    else:
        source = {"type": "testsrc", "width": size[0], "height": size[1], "fps": 30.0, "frames": frames, "live": live}
    sinks = [{"type": "null"}] if sink == "null" else [{"type": "file", "path": str(workdir / "pipeline.mp4"), "preset": "veryfast"}]
    spec = {
        "source": source,
        "stages": [
            {"type": "preprocess", "image_size": image_size, "adaptive": live, "max_cores": max_cores},
            {"type": "inference", "style": style, "batch_size": batch_size, "batch_timeout_ms": 40.0, "backend": backend,
             "network": network, "threads": threads, "workers": workers, "spin_wait": spin_wait},
            {"type": "postprocess"},
            *([{"type": "mask", "target": mask}] if mask else []),
        ],
        "sinks": sinks,
        # live: a camera's 30 fps with leaky queues of 2, as `stylecam live` runs; else back-pressure
        "queues": {"size": 2, "policy": "leaky"} if live else {"size": 8, "policy": "block"},
    }
    return spec


def naive_loop(spec: dict, device: str) -> dict:
    """The same stages, called one frame at a time in this thread (never paced: as fast as it goes)."""
    spec = override(spec)
    spec["source"]["live" if spec["source"]["type"] == "testsrc" else "realtime"] = False
    for entry in spec["stages"]:
        if entry["type"] == "inference":
            entry["batch_size"] = 1
            # One frame at a time on all the threads the backend wants, whatever the pipeline was given:
            # the baseline stays the same while the pipeline's settings are varied.
            entry["workers"], entry["threads"] = 1, 0
    for entry in spec["sinks"]:
        if entry.get("path"):
            entry["path"] = str(Path(entry["path"]).with_name("naive.mp4"))
    pipeline = build_pipeline(spec, device=device)  # used only to build and open the stages
    stages = [pipeline.source, *pipeline.stages, *pipeline.sinks]
    for stage in stages:
        stage.open(pipeline.ctx)
    latencies, t_first, n = [], None, 0
    try:
        for frame in pipeline.source.frames():
            t_first = t_first or frame.t_capture
            item = process_one(pipeline.stages, frame)
            for sink in pipeline.sinks:
                sink.process(item)
            n += 1
            if n > WARMUP_FRAMES:
                latencies.append(1000 * (time.perf_counter() - frame.t_capture))
        elapsed = time.perf_counter() - (t_first or time.perf_counter())
    finally:
        for stage in stages:
            stage.close()
    return {"fps": n / elapsed if elapsed > 0 else 0.0, "frames": n,
            "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
            "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0}


def run_bench(input_path: str | None, size: tuple[int, int], frames: int, style: str, image_size: int | None,
              backend: str, batch_size: int, sink: str, device: str, naive: bool = True, live: bool = False,
              network: str = "auto", threads: int = 0, workers: int = 0, spin_wait: bool = False, mask: str | None = None,
              max_cores: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="stylecam-bench-") as tmp:
        spec = bench_spec(input_path, size, frames, style, image_size, backend, batch_size, sink, Path(tmp), live, network, threads, workers,
                          spin_wait, mask, max_cores)
        # Naive first: both runs then find the same warm caches (ONNX export, page cache) from the second on.
        naive_result = naive_loop(spec, device) if naive else None
        pipeline = build_pipeline(spec, device=device)
        report = pipeline.run()
    result = report.to_dict()
    t0 = pipeline.recorder.t_first_in or 0.0
    result["t_first_in"] = t0  # time.perf_counter() of the first frame: lines up events of the same process
    result["frame_out_s"] = [round(t - t0, 4) for t in pipeline.recorder.out_times]
    controller = pipeline.ctx.extras.get("size_controller")
    if controller is not None:  # [seconds since the first frame, inference short side] at every change
        result["inference_sizes"] = [[round(max(0.0, t - t0), 3), s] for t, s in controller.changes]
    result.update(
        naive_fps=naive_result["fps"] if naive_result else None,
        naive_latency_p50_ms=naive_result["latency_p50_ms"] if naive_result else None,
        naive_latency_p95_ms=naive_result["latency_p95_ms"] if naive_result else None,
        ratio=(report.fps / naive_result["fps"]) if naive_result and naive_result["fps"] else None,
        config={"input": input_path or f"testsrc {size[0]}x{size[1]}", "frames": frames, "style": style,
                "image_size": image_size, "backend": backend, "batch_size": batch_size, "sink": sink, "device": device, "live": live,
                "network": network, "threads": threads, "workers": workers, "spin_wait": spin_wait, "mask": mask, "max_cores": max_cores},
    )
    return result


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = result["stages"]
    names = [s["name"] for s in stages]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    y = np.arange(len(names))
    ax.barh(y - 0.2, [s["p50_ms"] for s in stages], 0.4, label="p50")
    ax.barh(y + 0.2, [s["p95_ms"] for s in stages], 0.4, label="p95")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("ms per frame")
    ax.set_title(f"stylecam bench: {result['fps']:.1f} fps, e2e p95 {result['latency_p95_ms']:.0f} ms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
