"""How close each shipped network comes to what its own loss asks for.

    .venv/bin/python benchmarks/quality.py --vgg-weights vgg16_hed.safetensors [--styles starry_night ...] [--photos 16]

For every network of a style (NAME, NAME-fast, NAME-full and their -plain twins), on held-out photos: the
mean content and style loss of the network's output, against a Gatys et al. optimisation of the same loss
started from the photo. The protocol: the project's relative losses (train/losses.py) with the HED VGG16;
photos at a long side of 256 px (sides snapped to multiples of 8, so the networks see the same pixels),
the painting at 512 px; Gatys: Adam, lr 0.02, 120 steps on the pixels, clamped to [0, 1], minimising
content + w * style for w = 0.5 and w = 5.

The box a network should reach: style loss <= the optimum's at w = 0.5 and content loss <= the optimum's
at w = 5; a fast (CPU) network may be 1.25x off on each. The optimum is cached per painting, photo and
weight in benchmarks/quality_cache.json (2-3 minutes per photo and weight on one core), so later runs
pay only for the networks.

Held-out photos: every 10th file of the sorted ../shared/data/content (16 of 151), starting with the first;
`--training-folder DIR` makes a folder of links to the other 135 for `stylecam train --content-dir DIR`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

try:
    import fcntl  # a lock for the shared cache; not on Windows, where runs side by side are on the user
except ImportError:
    fcntl = None  # type: ignore[assignment]

import cv2
import numpy as np
import torch

from stylecam.models.checkpoint import read_metadata
from stylecam.models.styles import ZOO, all_styles, load_style
from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS, load_vgg
from stylecam.pipeline.files import write_text_atomic
from stylecam.pipeline.images import IMAGE_SUFFIXES, read_rgb
from stylecam.train.data import to_tensor
from stylecam.train.optimum import FAST_SLACK, GATYS_WEIGHTS, PROTOCOL, Box, PerceptualLoss, gatys, output_losses
from stylecam.train.trainer import load_style_image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CACHE = Path(__file__).resolve().with_name("quality_cache.json")
HOLD_OUT_EVERY = 10


def save_optima(cache: dict) -> None:
    """Write the cache with whatever another run of this script added to the file meanwhile (two runs on
    different styles may share it: each optimum takes a minute on one core)."""
    with open(CACHE.with_suffix(".lock"), "w") as lock:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)
        on_disk = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
        if on_disk.get("protocol") == cache["protocol"]:
            cache["optimum"] = {**on_disk["optimum"], **cache["optimum"]}
        write_text_atomic(CACHE, json.dumps(cache, indent=1, sort_keys=True) + "\n")


def held_out(content_dir: Path) -> tuple[list[Path], list[Path]]:
    """(held-out photos, training photos): every 10th of the sorted folder is held out."""
    photos = sorted(p for p in content_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return photos[::HOLD_OUT_EVERY], [p for i, p in enumerate(photos) if i % HOLD_OUT_EVERY]


def load_photo(path: Path, long_side: int = 256) -> torch.Tensor:
    rgb = read_rgb(path)
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    size = (max(16, round(w * scale / 8) * 8), max(16, round(h * scale / 8) * 8))
    return to_tensor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)).unsqueeze(0)


def painting_of(path: Path) -> str:
    from stylecam.models.blend import primary_training

    return primary_training(json.loads(read_metadata(path).get("training", "{}"))).get("style_image", "")


def make_training_folder(content_dir: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=False)
    for photo in held_out(content_dir)[1]:
        os.symlink(photo.resolve(), folder / photo.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg-weights", help="from `stylecam vgg import-hed` (needed for everything but --training-folder)")
    parser.add_argument("--styles", nargs="*", help="style names (default: every shipped style)")
    parser.add_argument("--photos", type=int, default=0, help="use the first N held-out photos (default: all 16)")
    parser.add_argument("--content-dir", default=str(SHARED / "content"))
    parser.add_argument("--styles-dir", default=str(SHARED / "styles"), help="where the paintings are")
    parser.add_argument("--extra", nargs="*", default=[], metavar="CHECKPOINT",
                        help="also measure these checkpoints (e.g. your own), beside the style of their painting")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--training-folder", help="only make a folder of links to the training photos, then stop")
    args = parser.parse_args()
    content_dir = Path(args.content_dir)
    if args.training_folder:
        make_training_folder(content_dir, Path(args.training_folder))
        return 0
    if not args.vgg_weights:
        parser.error("--vgg-weights is required (from `stylecam vgg import-hed`)")
    photos = held_out(content_dir)[0]
    photos = photos[: args.photos] if args.photos else photos
    shipped = {s.name: s for s in all_styles() if any(n.path.parent == ZOO for n in s.networks.values())}
    # every network of a shipped style and of its reference twin (NAME-plain), by network name
    family = {name: {n.name: n.path for st in (style, shipped.get(f"{name}-plain")) if st for n in st.networks.values()}
              for name, style in shipped.items() if not style.reference}
    zoo = {name: next(iter(nets.values())) for name, nets in family.items()}
    styles = args.styles or sorted(family)
    vgg = load_vgg(args.vgg_weights, tuple(sorted(set(STYLE_LAYERS) | {CONTENT_LAYER})))
    for p in vgg.parameters():
        p.requires_grad_(False)
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    cache = cache if cache.get("protocol") == PROTOCOL else {"protocol": PROTOCOL, "optimum": {}}
    report: dict = {"protocol": PROTOCOL, "photos": [p.name for p in photos], "styles": {}}
    tensors = {p.name: load_photo(p) for p in photos}
    all_inside = True
    extras: dict[str, list[Path]] = {}
    for path in map(Path, args.extra):
        painting = painting_of(path)
        style = next((s for s in styles if painting_of(zoo[s]) == painting), Path(painting).stem)
        extras.setdefault(style, []).append(path)
    for style in [*styles, *[s for s in extras if s not in styles]]:
        painting_name = painting_of(zoo[style]) if style in zoo else painting_of(extras[style][0])
        loss = PerceptualLoss(vgg, load_style_image(str(Path(args.styles_dir) / painting_name), 512))
        rows: dict[str, tuple[float, float]] = {}
        with torch.no_grad():
            rows["the photo itself"] = tuple(np.mean([output_losses(loss, x, x) for x in tensors.values()], 0))
        for weight in GATYS_WEIGHTS:
            values = []
            for name, x in tensors.items():
                key = f"{painting_name}|{name}|{weight}"
                if key not in cache["optimum"]:
                    t0 = time.perf_counter()
                    cache["optimum"][key] = gatys(loss, x, weight)
                    save_optima(cache)
                    print(f"  optimum {key}: {cache['optimum'][key]} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
                values.append(cache["optimum"][key])
            rows[f"Gatys optimum, style weight {weight:g}"] = tuple(np.mean(values, 0))
        box = Box.from_optima({w: rows[f"Gatys optimum, style weight {w:g}"] for w in GATYS_WEIGHTS})
        style_limit, content_limit = box.style, box.content
        networks = dict(family.get(style, {}))
        networks.update({str(p): p for p in extras.get(style, [])})
        verdicts = {}
        for network in sorted(networks):
            net, _ = load_style(str(networks[network]))  # the exact file: a bare name would pick by device
            with torch.no_grad():
                rows[network] = tuple(np.mean([output_losses(loss, net.eval()(x), x) for x in tensors.values()], 0))
            slack = FAST_SLACK if json.loads(read_metadata(networks[network])["arch"])["name"] == "fast_net" else 1.0
            c, s = rows[network]
            verdicts[network] = box.inside(c, s, slack)
            all_inside &= verdicts[network]
        print(f"\n{style} ({painting_name}), {len(photos)} held-out photos: box = style <= {style_limit:.3f}, "
              f"content <= {content_limit:.3f} (fast networks x{FAST_SLACK})")
        print("| | content loss | style loss | in the box |\n|---|---|---|---|")
        for name, (c, s) in rows.items():
            mark = "" if name not in verdicts else ("yes" if verdicts[name] else "no")
            print(f"| {name} | {c:.3f} | {s:.3f} | {mark} |")
        report["styles"][style] = {"painting": painting_name, "rows": {k: list(v) for k, v in rows.items()}, "inside": verdicts,
                                   "box": {"style": style_limit, "content": content_limit}}
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return 0 if all_inside else 1


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("STYLECAM_THREADS", "1")))
    sys.exit(main())
