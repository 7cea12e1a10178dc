"""int8 against the float runtimes for one shipped style, side by side in one run: ms per frame (interleaved
rounds, median: the machine is shared and noisy; compare ratios) and how far each output moves from
PyTorch fp32 on held-out photos (mean, p99 and worst, in uint8 levels). int8 is calibrated on photos of the
training folder, never on the held-out ones it is scored on. With --vgg-weights it also gives the project's
content and style losses (benchmarks/quality.py's protocol) of each runtime on those photos.

    .venv/bin/python benchmarks/int8.py --style starry_night --network fast --size 640x480 --threads 1 \
        --vgg-weights vgg16_hed.safetensors
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.quality import held_out  # noqa: E402
from stylecam.models.quantize import calibration_inputs  # noqa: E402
from stylecam.models.runtimes import RuntimeOptions, available, create_runtime  # noqa: E402
from stylecam.models.styles import load_style, painting_path, style_entry  # noqa: E402

VARIANTS = [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "auto"),
            ("openvino", "int8")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--network", default="fast")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--content-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/content"))
    ap.add_argument("--vgg-weights", help="also report content and style loss (from `stylecam vgg import-hed`)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    w, h = map(int, args.size.split("x"))
    held, training = held_out(Path(args.content_dir))
    net, _ = load_style(args.style, args.network)
    net = net.float().eval()
    with tempfile.TemporaryDirectory() as calib:  # the training photos the quantizer may see
        for photo in training:
            (Path(calib) / photo.name).symlink_to(photo.resolve())
        runtimes = {f"{b} {p}": create_runtime(b, net, torch.device("cpu"),
                                               RuntimeOptions(args.threads, False, p, calib))
                    for b, p in VARIANTS if available(b)}
    photos = [torch.from_numpy(x) for x in calibration_inputs(held)]
    with torch.inference_mode():
        reference = [net(x).clamp(0, 1) for x in photos]
    x = torch.rand(1, 3, h, w)
    times: dict[str, list[float]] = {k: [] for k in runtimes}
    for runtime in runtimes.values():
        runtime(x)  # warm-up: allocations, kernel choice
    for _ in range(args.rounds):
        for key, runtime in runtimes.items():
            t0 = time.perf_counter()
            runtime(x)
            times[key].append(1000 * (time.perf_counter() - t0))
    base = statistics.median(times["onnxruntime fp32"])
    print(f"{args.style}-{args.network}, {args.size}, {args.threads} thread(s), median of {args.rounds} "
          f"interleaved rounds; error vs torch fp32 on {len(held)} held-out photos (short side 256)")
    losses = project_losses(args, held, runtimes) if args.vgg_weights else {}
    print(f"{'runtime':<20}{'runs as':>8}{'ms/frame':>10}{'vs ORT fp32':>13}{'mean':>8}{'p99':>7}{'max':>7}"
          + (f"{'content':>9}{'style':>8}" if losses else ""))
    for key, runtime in runtimes.items():
        diff = np.concatenate([(runtime(p).clamp(0, 1) - r).abs().flatten().numpy() * 255
                               for p, r in zip(photos, reference)])
        ms = statistics.median(times[key])
        print(f"{key:<20}{runtime.precision:>8}{ms:>10.1f}{base / ms:>12.2f}x{diff.mean():>8.2f}"
              f"{np.percentile(diff, 99):>7.1f}{diff.max():>7.1f}"
              + (f"{losses[key][0]:>9.3f}{losses[key][1]:>8.3f}" if losses else ""))


def project_losses(args: argparse.Namespace, held: list[Path], runtimes: dict) -> dict[str, tuple[float, float]]:
    """Mean (content, style) loss of each runtime's output on the held-out photos, against the style's painting."""
    from benchmarks.quality import Loss, load_photo, network_losses
    from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS, load_vgg
    from stylecam.train.trainer import load_style_image

    painting = painting_path(style_entry(args.style))
    if painting is None:
        sys.exit(f"the painting of {args.style} is not found (set STYLECAM_PAINTINGS)")
    vgg = load_vgg(args.vgg_weights, tuple(sorted(set(STYLE_LAYERS) | {CONTENT_LAYER})))
    loss = Loss(vgg, load_style_image(str(painting), 512))
    tensors = [load_photo(p) for p in held]
    return {key: tuple(np.mean([network_losses(loss, runtime, x) for x in tensors], 0))
            for key, runtime in runtimes.items()}


if __name__ == "__main__":
    main()
