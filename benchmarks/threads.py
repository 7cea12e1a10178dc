"""How the stages should share two cores: inference workers (frames in flight at once), intra-op threads
of each and ORT's spin-wait, measured side by side (interleaved rounds; compare within a run, the machine
is shared and noisy). The naive loop always runs one frame at a time on the backend's default threads.

    .venv/bin/python benchmarks/threads.py --style starry_night --rounds 2

For each setting: a 640x480 file transcode (pipeline and naive loop, libx264) and a live 640x480 test
source into the null sink, both with the default network and backend on the CPU.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylecam.pipeline.app.bench import run_bench  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--input", help="video for the transcode runs (default: the test source)")
    ap.add_argument("--image-size", type=int, help="inference short side for the live runs")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--frames", type=int, default=150)
    args = ap.parse_args()
    settings = [(1, 2, True), (1, 2, False), (1, 1, False), (2, 1, True), (2, 1, False)]  # (workers, threads, spin)
    results: dict[tuple, dict[str, list[float]]] = {s: {"file_fps": [], "ratio": [], "live_fps": [], "live_p95": []} for s in settings}
    for _ in range(args.rounds):
        for workers, threads, spin in settings:
            f = run_bench(args.input, (640, 480), args.frames, args.style, None, "auto", 1, "file", "cpu", True, False, "auto", threads, workers,
                          spin_wait=spin)
            live = run_bench(None, (640, 480), args.frames * 2, args.style, args.image_size, "auto", 1, "null", "cpu", False, True, "auto",
                             threads, workers, spin_wait=spin)
            r = results[(workers, threads, spin)]
            r["file_fps"].append(f["fps"])
            r["ratio"].append(f["ratio"])
            r["live_fps"].append(live["fps"])
            r["live_p95"].append(live["latency_p95_ms"])
            print(f"workers {workers} threads {threads} spin {spin}: file {f['fps']:.1f} fps ({f['ratio']:.2f}x naive), "
                  f"live {live['fps']:.1f} fps p95 {live['latency_p95_ms']:.0f} ms, dropped {live['dropped']}", flush=True)
    print("\n| inference workers | intra-op threads each | ORT spin-wait | transcode fps | pipeline / naive | live fps | live e2e p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for (workers, threads, spin), r in results.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        print(f"| {workers} | {threads} | {'on' if spin else 'off'} | {med['file_fps']:.1f} | {med['ratio']:.2f}x | {med['live_fps']:.1f} | {med['live_p95']:.0f} |")


if __name__ == "__main__":
    main()
