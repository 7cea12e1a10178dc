"""Frames per second of the inference alone: one frame on N threads, or N frames at once on one thread each.

    .venv/bin/python benchmarks/workers.py --style starry_night --size 640x480 --rounds 2

Interleaved rounds on the same input; compare within a run (the machine is shared and noisy).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylecam.models.export import onnx_bytes
from stylecam.models.runtimes import RuntimeOptions, cpu_cores, ort_session
from stylecam.models.styles import load_style


def ms_per_frame(model: bytes, x: np.ndarray, workers: int, threads: int, frames: int) -> float:
    """Wall time per frame with `workers` threads sharing one session of `threads` intra-op threads."""
    session = ort_session(model, RuntimeOptions(threads=threads))
    session.run(None, {"input": x})  # warm-up

    def work(n: int) -> None:
        for _ in range(n):
            session.run(None, {"input": x})

    pool = [threading.Thread(target=work, args=(frames // workers,)) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return 1000 * (time.perf_counter() - t0) / (frames // workers * workers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--network", default="fast", choices=["fast", "half", "full"])
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    net, _ = load_style(args.style, args.network)
    model = onnx_bytes(net)
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    cores = cpu_cores()
    settings = [(1, 1), (1, cores), (cores, 1)]  # (workers, threads each)
    times: dict[tuple[int, int], list[float]] = {s: [] for s in settings}
    for _ in range(args.rounds):
        for workers, threads in settings:
            times[(workers, threads)].append(ms_per_frame(model, x, workers, threads, args.frames))
    base = float(np.median(times[(1, cores)]))
    print(f"| workers × threads | ms per frame (throughput) | fps | vs 1 × {cores} |")
    print("|---|---|---|---|")
    for (workers, threads), ms in times.items():
        med = float(np.median(ms))
        print(f"| {workers} × {threads} | {med:.1f} | {1000 / med:.1f} | {base / med:.2f}× |")


if __name__ == "__main__":
    main()
