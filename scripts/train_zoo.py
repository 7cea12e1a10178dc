"""Train the whole zoo within a lent GPU's time: one command, resumable, nothing downloaded.

    python scripts/train_zoo.py --content CONTENT_DIR --styles STYLES_DIR --vgg-weights vgg16_hed.safetensors \
        --out OUT --minutes 9

For each of the eight paintings of ../shared/data/styles, in turn, with the time shared out in advance:
  1. NAME-full: Johnson's network at full width, 256 px crops, batch 8, the perceptual loss, started from the
     shipped NAME-plain widened to full width, computing the same function (models/widen.py: a trained start
     converges far sooner than a random one);
  2. NAME and NAME-fast: the half-width network and fast_net (with skips) distilled from it (no VGG: cheap).
Each run stops at its share of --minutes (stylecam train --max-minutes). OUT gets every network in float16
(24 files, about 35 MB) and zoo_summary.json; a later lease continues from them with `--init-dir` (a lent
machine starts bare, so the optimiser state stays behind). What then ships goes through
scripts/ship_style.py as usual.

The GPU machine reaches nothing outside and has no stylecam installed: the script maps the checkout's
folders itself (scripts/bare_checkout.py). Carry the content photos, the paintings and the VGG16 weights (in
float16: 29 MB) with the working tree: scripts/prepare_gpu_lease.sh puts them in gpu_lease/ and prints the
one command to run there.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bare_checkout import make_importable  # noqa: E402

make_importable()
from stylecam.train.config import TrainConfig  # noqa: E402

PAINTINGS = {
    "starry_night": "van_gogh_the_starry_night_1889.jpg",
    "the_scream": "munch_the_scream_1893.jpg",
    "great_wave": "hokusai_the_great_wave_off_kanagawa_c1831.jpg",
    "composition_vii": "kandinsky_composition_vii_1913.jpg",
    "udnie": "picabia_udnie_1913.jpg",
    "shipwreck_of_the_minotaur": "turner_the_shipwreck_of_the_minotaur_c1810.jpg",
    "night_cafe": "van_gogh_the_night_cafe_1888.jpg",
    "wheat_field": "van_gogh_wheat_field_with_cypresses_1889.jpg",
}
SHARES = {"full": 0.7, "half": 0.15, "fast": 0.15}  # of each painting's time
ZOO = ROOT / "models" / "zoo"


def start_for(name: str) -> Path:
    return ZOO / f"{name}-plain.safetensors"  # half width: TrainConfig(width=32) widens it on loading


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content", required=True, type=Path)
    ap.add_argument("--styles", required=True, type=Path, help="folder holding the paintings (../shared/data/styles)")
    ap.add_argument("--vgg-weights", required=True)
    ap.add_argument("--out", required=True, type=Path, help="the trained networks and the summary go here")
    ap.add_argument("--work", type=Path, help="checkpoints and optimiser states (default: a temporary folder)")
    ap.add_argument("--init-dir", type=Path, help="an earlier lease's OUT: start each network from its result there")
    ap.add_argument("--minutes", type=float, default=9.0, help="training time for the whole zoo")
    ap.add_argument("--only", nargs="*", default=list(PAINTINGS), help="styles to train (default: all eight)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--style-weight", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=200000, help="a cap per network (for dry runs)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    args = ap.parse_args()
    import torch

    from stylecam.models.checkpoint import load_checkpoint, save_checkpoint
    from stylecam.train.trainer import train

    work = args.work or Path(tempfile.mkdtemp(prefix="stylecam-zoo-"))  # optimiser states stay on the machine
    args.out.mkdir(parents=True, exist_ok=True)
    per_style = 60 * args.minutes / len(args.only)
    summary: dict = {"minutes": args.minutes, "device": args.device, "styles": {}}
    for name in args.only:
        painting = str(args.styles / PAINTINGS[name])
        done: dict = {}
        for kind, share in SHARES.items():
            network = name if kind == "half" else f"{name}-{kind}"
            run_dir = work / network
            if run_dir.exists():
                shutil.rmtree(run_dir)  # an earlier attempt on this machine: this run starts afresh
            earlier = args.init_dir / f"{network}.safetensors" if args.init_dir else None
            init = str(earlier) if earlier is not None and earlier.is_file() else None
            common = dict(content_dir=str(args.content), style_image=painting, save_model_dir=str(run_dir), style_name=network,
                          steps=args.max_steps, image_size=args.image_size, batch_size=args.batch_size, device=args.device,
                          vgg_weights=args.vgg_weights, max_minutes=share * per_style / 60, checkpoint_every=0,
                          sample_every=0, log_every=20, progress=False, precision=args.precision, warmup_steps=50)
            if kind == "full":
                cfg = TrainConfig(**common, width=32, lr=1e-3, style_weight=args.style_weight, init=init or str(start_for(name)))
            else:  # distilled from this lease's full network: the output pulled towards the teacher's, no VGG
                cfg = TrainConfig(**common, content_weight=0.0, style_weight=0.0, teacher=done["full"], distill_weight=1.0,
                                  lr=1e-3, arch="fast_net" if kind == "fast" else "transformer_net",
                                  width=16, blocks=3 if kind == "fast" else 5, skips=kind == "fast", init=init)
            t0 = time.perf_counter()
            path = train(cfg)
            done[kind] = str(path)
            ckpt = load_checkpoint(path)
            training = ckpt.training
            save_checkpoint(args.out / f"{network}.safetensors", ckpt.build(), ckpt.style, training, ckpt.style_cfg,
                            dtype=torch.float16)  # the shipping format: half the bytes to bring back
            summary["styles"].setdefault(name, {})[kind] = {
                "network": network, "steps": training.get("steps"), "seconds": round(time.perf_counter() - t0, 1),
                "final_losses": training.get("final_losses")}
            print(f"{network}: {training.get('steps')} steps in {time.perf_counter() - t0:.0f} s", flush=True)
        (args.out / "zoo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
