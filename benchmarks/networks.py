"""Forward time per frame of each architecture, torch vs onnxruntime, measured side by side in one run
(interleaved rounds, median of rounds: the machine is shared and noisy; compare ratios, not ms).

    .venv/bin/python benchmarks/networks.py --size 640x480 --rounds 5 [--only fast_net]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylecam.models.export import onnx_bytes  # noqa: E402
from stylecam.models.runtimes import RuntimeOptions, ort_session  # noqa: E402
from stylecam.models.networks import arch_text, create_network  # noqa: E402

CANDIDATES = [
    {"name": "transformer_net", "width": 32, "blocks": 5},
    {"name": "transformer_net", "width": 16, "blocks": 5},
    {"name": "fast_net", "width": 16, "blocks": 3},
    {"name": "fast_net", "width": 16, "blocks": 3, "skips": True},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", default="", help="only the architectures whose name contains this")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    torch.set_num_threads(args.threads)
    x = torch.rand(1, 3, h, w)
    runners = {}
    for arch in CANDIDATES:
        if args.only not in arch["name"]:
            continue
        net = create_network(arch).eval()
        label = arch_text(arch)
        runners[f"{label} torch"] = lambda net=net: net(x)
        session = ort_session(onnx_bytes(net), RuntimeOptions(threads=args.threads))
        runners[f"{label} onnxruntime"] = lambda s=session: s.run(None, {"input": x.numpy()})
    times: dict[str, list[float]] = {k: [] for k in runners}
    with torch.inference_mode():
        for fn in runners.values():
            fn()  # warm-up
        for _ in range(args.rounds):
            for key, fn in runners.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(1000 * (time.perf_counter() - t0))
    base = statistics.median(times[next(iter(times))])
    print(f"{args.size}, {args.threads} threads, median of {args.rounds} interleaved rounds")
    print(f"{'network / runtime':<42}{'ms/frame':>10}{'fps':>8}{'vs first':>10}")
    for key, values in times.items():
        ms = statistics.median(values)
        print(f"{key:<42}{ms:>10.1f}{1000 / ms:>8.1f}{base / ms:>9.1f}x")


if __name__ == "__main__":
    main()
