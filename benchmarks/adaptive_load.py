"""The adaptive inference size under a neighbour's load: fps and inference size over time.

    .venv/bin/python benchmarks/adaptive_load.py --seconds 40 --load-from 12 --load-for 14 --out docs/adaptive_load.png

Runs `stylecam bench --live` (640x480 test source at 30 fps, default style, network and backend, adaptive
size) and, part-way through, starts busy processes on every core (a stand-in for a meeting app encoding
video), stops them again, and draws the frames per second (1 s windows) and the inference short side.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def load(start_s: float, length_s: float, per_core: int, stop: threading.Event, marks: dict) -> None:
    if stop.wait(start_s):
        return
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(per_core * (os.cpu_count() or 2))]
    marks["on"] = time.perf_counter()
    stop.wait(length_s)
    for hog in hogs:
        hog.kill()
        hog.wait()
    marks["off"] = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--load-from", type=float, default=12, help="seconds after the start (start-up included)")
    parser.add_argument("--load-for", type=float, default=14)
    parser.add_argument("--per-core", type=int, default=2, help="busy processes per core")
    parser.add_argument("--out", default="adaptive_load.png")
    parser.add_argument("--json", help="also keep bench's figures here")
    args = parser.parse_args()
    from stylecam.pipeline.app.bench import run_bench

    stop, marks = threading.Event(), {}
    loader = threading.Thread(target=load, args=(args.load_from, args.load_for, args.per_core, stop, marks))
    loader.start()
    try:
        data = run_bench(None, (640, 480), int(args.seconds * 30), "starry_night", None, "auto", 1, "null", "auto",
                         naive=False, live=True)
    finally:
        stop.set()
        loader.join()
    if args.json:
        Path(args.json).write_text(json.dumps(data) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    times = np.array(data["frame_out_s"])
    edges = np.arange(0, times.max() + 1, 1.0)
    fps, _ = np.histogram(times, edges)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.step(edges[:-1], fps, where="post", label="frames per second")
    ax.set_xlabel("seconds since the first frame")
    ax.set_ylabel("fps")
    ax.set_ylim(0, 35)
    if "on" in marks:
        on = marks["on"] - data["t_first_in"]
        ax.axvspan(on, marks.get("off", on) - data["t_first_in"], color="orange", alpha=0.2,
                   label=f"{args.per_core} busy processes per core")
    sizes = data.get("inference_sizes") or [[0, 0]]
    ax2 = ax.twinx()
    xs = [t for t, _ in sizes] + [times.max()]
    ys = [s for _, s in sizes] + [sizes[-1][1]]
    ax2.step(xs, ys, where="post", color="green", label="inference short side")
    ax2.set_ylabel("inference short side (px)")
    ax2.set_ylim(0, max(ys) * 1.15)
    lines, lines2 = ax.get_legend_handles_labels(), ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=8)
    ax.set_title(f"stylecam bench --live 640x480: {data['fps']:.1f} fps, {data['dropped']} of {data['frames_in']} dropped, "
                 f"{data['cpu_cores']:.2f} cores")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"{data['fps']:.2f} fps, {data['dropped']} dropped; sizes: {sizes}; load {marks}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
