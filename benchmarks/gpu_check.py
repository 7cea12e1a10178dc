"""The GPU check: one command that tells whether stylecam's CUDA path works, in under 5 minutes.

    .venv/bin/python benchmarks/gpu_check.py [--vgg-weights vgg16_hed.safetensors] [--json out.json] [--no-tests]

On a machine with a CUDA GPU it checks, in order:
  1. device picking (auto -> cuda, the GPU's name, bf16 support);
  2. every shipped network under fp16 and bf16 autocast against the CPU in fp32, on a photo-like
     frame and a flat grey one: finite, and the largest difference at most 3/255;
  3. `stylecam transcode` and live mode (`stylecam bench --live`) on CUDA, every frame through;
  4. batch 1 against batch 4: per-frame latency and fps of the pipeline, side by side;
  5. a 30-step CUDA training run (mixed precision) at 256 px with finite losses and steps not skipped
     by GradScaler (without --vgg-weights a randomly initialised VGG16 stands in: finiteness is the test);
  6. the test suite (pytest -x -q), unless --no-tests.
Without a GPU, the parts that need CUDA print "SKIP (no CUDA): ..." and the rest runs on the CPU: the
autocast parity of step 2 on the CPU (fp16, and bf16 where this CPU has it) and the fp32 Gram under
autocast. Exit code 0 when every check that ran passed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bare_checkout import make_importable  # noqa: E402

make_importable()
from stylecam.models.devices import pick_device  # noqa: E402
from stylecam.models.styles import list_styles, load_style
from stylecam.stages.sources import TestPatternSource

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 3 / 255
results: dict[str, object] = {}
failures: list[str] = []


def say(line: str) -> None:
    print(line, flush=True)


def check(name: str, ok: bool, detail: str) -> None:
    say(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    results[name] = {"ok": ok, "detail": detail}
    if not ok:
        failures.append(name)


def skip(name: str, why: str) -> None:
    say(f"SKIP ({why}): {name}")
    results[name] = {"ok": None, "detail": f"skipped: {why}"}


def frames_for_parity(width: int, height: int) -> dict[str, torch.Tensor]:
    pattern = TestPatternSource(width, height).render(17)
    return {"pattern": torch.from_numpy(pattern).permute(2, 0, 1)[None].float() / 255,
            "flat grey": torch.full((1, 3, height, width), 0.5)}


def parity(device: str, precisions: list[str], size: tuple[int, int]) -> None:
    """Every shipped network (all three widths, temporal or not) in reduced precision vs CPU fp32. The
    3/255 limit applies to fp16, the precision inference uses on GPUs; bf16 (3 fewer mantissa bits) is
    measured and must be finite."""
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
    inputs = frames_for_parity(*size)
    worst: dict[str, float] = {p: 0.0 for p in precisions}
    rows = []
    for info in (n for s in list_styles(include_all=True) for n in s.networks.values()):
        net, _ = load_style(str(info.path))
        net = net.eval()
        for frame_name, x in inputs.items():
            with torch.inference_mode():
                reference = net(x).clamp(0, 1)
            moved = net.to(device)
            for precision in precisions:
                with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=dtypes[precision]):
                    y = moved(x.to(device)).float().clamp(0, 1).cpu()
                finite = bool(torch.isfinite(y).all())
                error = float((y - reference).abs().max()) if finite else float("inf")
                worst[precision] = max(worst[precision], error)
                rows.append({"network": info.name, "frame": frame_name, "precision": precision, "finite": finite,
                             "max_error_255": round(error * 255, 3)})
            net = moved.cpu()
    results[f"parity_{device}"] = rows
    for precision in precisions:
        limit = TOLERANCE if precision == "fp16" else float("inf")
        bad = [r for r in rows if r["precision"] == precision and (not r["finite"] or r["max_error_255"] > limit * 255)]
        rule = "limit 3/255" if precision == "fp16" else "finite; not the default"
        check(f"{precision} autocast on {device} vs CPU fp32, {len(rows) // len(precisions)} network x frame pairs",
              not bad, f"worst {worst[precision] * 255:.2f}/255 ({rule})" + (f"; over: {bad[:3]}" if bad else ""))


def gram_under_autocast(device: str) -> None:
    from stylecam.train.losses import gram

    dtype = torch.float16 if device == "cuda" else torch.bfloat16
    features = torch.full((1, 64, 128, 128), 300.0, device=device)  # HED-scale activations at 256 px
    with torch.autocast(torch.device(device).type, dtype=dtype):
        g = gram(features)
    ok = g.dtype == torch.float32 and bool(torch.isfinite(g).all())
    check(f"Gram matrix under {str(dtype).split('.')[-1]} autocast on {device}", ok, f"dtype {g.dtype}, max {g.max().item():.3g}")


def stylecam(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def transcode_and_live(work: Path) -> None:
    out = work / "cuda.mp4"
    run = stylecam("transcode", "testsrc", str(out), "--device", "cuda", "--no-progress", "--stats-json", str(work / "t.json"))
    ok = run.returncode == 0 and out.is_file()
    stats = json.loads((work / "t.json").read_text()) if ok else {}
    check("transcode on cuda", ok and stats.get("frames_out") == 120,
          f"{stats.get('frames_out')} of 120 frames, {stats.get('fps', 0):.1f} fps" if ok else run.stderr[-500:])
    live = stylecam("bench", "--live", "--device", "cuda", "--size", "640x480", "--frames", "300", "--no-naive",
                    "--json", str(work / "live.json"))
    ok = live.returncode == 0
    data = json.loads((work / "live.json").read_text()) if ok else {}
    check("live (bench --live) on cuda at 640x480, 30 fps camera", ok and data.get("frames_out", 0) > 0,
          f"{data.get('fps', 0):.1f} fps, p95 {data.get('latency_p95_ms', 0):.0f} ms, {data.get('dropped')} dropped"
          if ok else live.stderr[-500:])
    results["live_cuda"] = data


def batch_latency(work: Path) -> None:
    rows = {}
    for batch in (1, 4):
        run = stylecam("bench", "--device", "cuda", "--size", "1280x720", "--frames", "240", "--batch-size", str(batch),
                       "--no-naive", "--json", str(work / f"b{batch}.json"))
        if run.returncode != 0:
            check(f"bench batch {batch} on cuda", False, run.stderr[-500:])
            return
        data = json.loads((work / f"b{batch}.json").read_text())
        infer = next(s for s in data["stages"] if s["name"] == "inference")
        rows[batch] = {"fps": data["fps"], "latency_p95_ms": data["latency_p95_ms"], "inference_p50_ms_per_frame": infer["p50_ms"]}
    results["batch_latency_cuda_720p"] = rows
    check("batch 1 vs batch 4 on cuda at 1280x720", True,
          ", ".join(f"batch {b}: {r['fps']:.1f} fps, p95 {r['latency_p95_ms']:.0f} ms" for b, r in rows.items()))


def cuda_training(work: Path, vgg_weights: str | None) -> None:
    import cv2

    from stylecam.train.trainer import TrainConfig, train

    content = work / "content"
    content.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        cv2.imwrite(str(content / f"{i}.png"), TestPatternSource(320, 320).render(int(rng.integers(0, 200))))
    style = work / "style.png"
    cv2.imwrite(str(style), (rng.random((256, 256, 3)) * 255).astype(np.uint8))
    if vgg_weights is None:
        from safetensors.torch import save_file
        from torchvision.models import vgg16

        from stylecam.models.vgg import HED_NORM, LAYER_INDEX

        features = vgg16(weights=None).features[: LAYER_INDEX["relu4_3"] + 1]
        vgg_weights = str(work / "vgg_random.safetensors")
        save_file({k: v.contiguous() for k, v in features.state_dict().items()}, vgg_weights,
                  metadata={"norm": json.dumps(HED_NORM), "source": "random-for-gpu-check"})
    t0 = time.perf_counter()
    train(TrainConfig(content_dir=str(content), style_image=str(style), save_model_dir=str(work / "ckpt"), steps=30,
                      image_size=256, batch_size=4, vgg_weights=vgg_weights, device="cuda", log_every=1, sample_every=0,
                      checkpoint_every=0, progress=False, temporal_weight=50.0, still_fraction=0.5))
    seconds = time.perf_counter() - t0
    import csv

    with open(work / "ckpt" / "train_log.csv") as f:
        log = list(csv.DictReader(f))
    totals = [float(r["total"]) for r in log]
    finite = len(totals) == 30 and all(np.isfinite(totals))
    check("30-step CUDA training at 256 px (mixed precision, temporal loss on)", finite and totals[-1] < totals[0],
          f"total loss {totals[0]:.3g} -> {totals[-1]:.3g}, {seconds / 30:.2f} s/step")


def test_suite() -> None:
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    tail = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:]
    check("test suite on the GPU machine", run.returncode == 0, f"{tail} ({time.perf_counter() - t0:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg-weights", help="VGG16 file from `stylecam vgg import-hed` (default: a random VGG16)")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--no-tests", action="store_true", help="skip the test suite")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = pick_device("auto")
    cuda = torch.cuda.is_available()
    results["machine"] = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
                          "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                          "date": time.strftime("%Y-%m-%d")}
    say(f"gpu_check: torch {torch.__version__}, auto device {device}" + (f" ({torch.cuda.get_device_name(0)})" if cuda else ""))
    if cuda:
        check("device picking", device.type == "cuda", f"auto -> {device}, bf16 supported: {torch.cuda.is_bf16_supported()}")
        parity("cuda", ["fp16", "bf16"], (640, 480))
        gram_under_autocast("cuda")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            transcode_and_live(work)
            batch_latency(work)
            cuda_training(work, args.vgg_weights)
    else:
        for name in ("device picking (auto -> cuda)", "fp16/bf16 on cuda vs CPU fp32", "transcode and live on cuda",
                     "batch 1 vs batch 4 latency on cuda", "30-step CUDA training"):
            skip(name, "no CUDA")
        check("device picking without a GPU", device.type in ("cpu", "mps"), f"auto -> {device}")
        cpu_precisions = ["fp16"] + (["bf16"] if "avx512_bf16" in Path("/proc/cpuinfo").read_text(errors="ignore") else []) \
            if Path("/proc/cpuinfo").is_file() else ["fp16"]
        parity("cpu", cpu_precisions, (160, 120))  # autocast on the CPU: the same graph and casts a GPU runs, other kernels
        gram_under_autocast("cpu")
    if args.no_tests:
        skip("test suite", "--no-tests")
    elif cuda:
        test_suite()
    else:
        skip("test suite", "no CUDA: `make test` runs it here")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    say(f"gpu_check: {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
