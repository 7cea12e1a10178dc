"""The temporal-consistency and fast-network tables: every shipped style's six networks (temporal and -plain,
each at full width, half width and as fast_net), on the real clips of ../shared/data/video and on synthetic-motion clips (exact flow) made over
frames that were not in the training set. Writes one JSON per clip and style and prints markdown tables.

    .venv/bin/python benchmarks/temporal.py --vgg-weights vgg16_hed.safetensors --out eval_results/

E_warp ratios compare each temporal style with its -plain twin (target <= 0.6, style loss <= 1.1x);
the fast-network columns compare fast_net with Johnson's network of the same style (style loss <= 1.25x).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stylecam.models.styles import ZOO, StyleError, all_styles, find_style  # noqa: E402
from stylecam.pipeline.app.evaluate import clip_flows, evaluate, load_clip, save_strip  # noqa: E402
from stylecam.pipeline.machine_load import busy_note  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
# the shipped styles (not their -plain twins) and the painting each records, in the zoo's order
STYLES = {s.name: s.painting.get("file", "") for s in all_styles()
          if not s.reference and any(n.path.parent == ZOO for n in s.networks.values())}
# Stills for the synthetic clips: frames of clips whose frames are not in the training photos.
STILLS = [("imageio_cockatoo_handheld_camera_motion_1280x720_20fps.mp4", 5.0),
          ("intel_webcam_office_people_signing_asl_640x480_30fps.mkv", 10.0)]


def still(video: Path, seconds: float, folder: Path) -> Path:
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                path = folder / f"{video.stem}_{seconds:g}s.png"
                cv2.imwrite(str(path), cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2BGR))
                return path
    raise ValueError(f"{video} is shorter than {seconds} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vgg-weights", help="VGG16 file (stylecam vgg import-hed); default: torchvision's, downloaded")
    ap.add_argument("--out", type=Path, default=Path("eval_results"))
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--image-size", type=int, default=256, help="inference short side")
    ap.add_argument("--styles", nargs="*", default=list(STYLES))
    ap.add_argument("--strip", type=Path, help="also draw the side-by-side strip of the first style on the first real clip")
    ap.add_argument("--tables-from", type=Path, help="only print the tables from the JSON files of an earlier run in this folder")
    ap.add_argument("--networks", nargs="*", choices=["fast", "half", "full"], default=["fast", "half", "full"],
                    help="which of each style's networks to measure (each with its -plain twin)")
    ap.add_argument("--keep", action="store_true", help="keep the networks already in --out's JSON files; evaluate only the ones they lack")
    args = ap.parse_args()
    if args.tables_from:
        rows = [json.loads(p.read_text()) for p in sorted(args.tables_from.glob("*__*.json"))]
        table(rows)
        compact_table(rows)
        fast_vs_full(rows)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [str(p) for p in sorted((SHARED / "video").iterdir())]
        inputs += [str(still(SHARED / "video" / name, t, Path(tmp))) for name, t in STILLS]
        rows = []
        for i, path in enumerate(inputs):
            clip = load_clip(path, args.frames)
            flows = clip_flows(clip, "dis")
            for style in args.styles:
                suffixes = [suffix for suffix, kind in (("", "half"), ("-fast", "fast"), ("-full", "full")) if kind in args.networks]
                names = [f"{style}{variant}{net}" for net in suffixes for variant in ("", "-plain")]
                names = [n for n in names if installed(n)]
                json_path = args.out / f"{Path(path).stem}__{style}.json"
                kept = json.loads(json_path.read_text())["styles"] if args.keep and json_path.is_file() else {}
                result, outputs = evaluate(clip, [n for n in names if n not in kept], args.image_size, "torch", "cpu", "dis",
                                           str(SHARED / "styles" / STYLES[style]), args.vgg_weights, True, "half", flows)
                merged = {**kept, **result["styles"]}  # the style's own name first (base_style), then its twins
                order = [f"{style}{variant}{net}" for net in ("", "-fast", "-full") for variant in ("", "-plain")]
                result["styles"] = {n: merged[n] for n in order if n in merged}
                json_path.write_text(json.dumps(result, indent=2) + "\n")
                rows.append(result)
                if args.strip and i == 0 and style == args.styles[0] and not kept:
                    save_strip(str(args.strip), clip, {n: outputs[n] for n in (f"{style}-plain", style)}, start=10)
                print(f"{result['input'][:60]:<60} {style}: " + ", ".join(
                    f"{n} E_warp {r['e_warp']:.5f} style {r['style_loss']:.3f}" for n, r in result["styles"].items()), flush=True)
                for n, r in result["styles"].items():  # the model cards take their fps from these files
                    busy = busy_note(r.get("others_cpu"))
                    if busy:
                        print(f"  {n}: fps measured on a {busy}", flush=True)
    table(rows)
    compact_table(rows)
    fast_vs_full(rows)


def installed(name: str) -> bool:
    """Whether this exact network is installed (network "half": a bare NAME means NAME, not NAME-full)."""
    try:
        return find_style(name, "half").stem == name
    except StyleError:
        return False


def base_style(row: dict) -> str:
    """A result's first network is the style's own name (NAME, then NAME-plain, NAME-fast, ...)."""
    return next(iter(row["styles"]))


def styles_in(rows: list[dict]) -> list[str]:
    """The styles these results cover, in the order of STYLES."""
    found = {base_style(r) for r in rows}
    return [st for st in STYLES if st in found] + sorted(found - set(STYLES))


def fast_vs_full(rows: list[dict]) -> None:
    """#6's quality target per style: fast_net's style and content loss over Johnson's network's, on the
    held-out clips (geometric mean over the clips, and the worst clip)."""
    print("\n| style | pair | style loss: geometric mean (worst) | content loss: geometric mean (worst) |")
    print("|---|---|---|---|")
    for style in styles_in(rows):
        mine = [r["styles"] for r in rows if base_style(r) == style]
        for fast, full in ((f"{style}-fast", style), (f"{style}-plain-fast", f"{style}-plain")):
            if not all(fast in s and full in s for s in mine):
                continue
            cells = []
            for metric in ("style_loss", "content_loss"):
                ratios = [s[fast][metric] / s[full][metric] for s in mine]
                cells.append(f"{float(np.exp(np.mean(np.log(ratios)))):.2f}× ({max(ratios):.2f}×)")
            print(f"| {style} | `{fast}` / `{full}` | " + " | ".join(cells) + " |")


CLIP_LABELS = {
    "imageio_cockatoo_handheld_camera_motion_1280x720_20fps_5s": "synthetic pan/zoom/rotate over a cockatoo frame (exact flow)",
    "imageio_cockatoo_handheld_camera_motion_1280x720_20fps": "cockatoo, hand-held camera (1280×720)",
    "intel_office_people_walking_static_camera_768x432_10fps": "office, static camera (768×432)",
    "intel_talking_head_man_head_pose_480x270_12fps": "talking head, static camera (480×270)",
    "intel_webcam_office_people_signing_asl_640x480_30fps_10s": "synthetic pan/zoom/rotate over an ASL-clip frame (exact flow)",
    "intel_webcam_office_people_signing_asl_640x480_30fps": "ASL signing, webcam (640×480)",
}


NET_SUFFIXES = ("-full", "", "-fast")  # full width, half width, fast_net


def compact_table(rows: list[dict]) -> None:
    """The README's table: E_warp ratio (style-loss ratio) of NAME-full, NAME and NAME-fast against their
    -plain twins ("–" where a run lacks that network)."""
    cells: dict[str, dict[str, str]] = {}
    met = total = 0
    for r in rows:
        base, s = base_style(r), r["styles"]
        parts = []
        for net in NET_SUFFIXES:
            temporal, plain = f"{base}{net}", f"{base}-plain{net}"
            if temporal not in s or plain not in s:
                parts.append("–")
                continue
            ew, sl = s[temporal]["e_warp"] / s[plain]["e_warp"], s[temporal]["style_loss"] / s[plain]["style_loss"]
            ok = ew <= 0.6 and sl <= 1.1
            met, total = met + ok, total + 1
            parts.append(f"{ew:.2f} ({sl:.2f})" + ("" if ok else " ✗"))
        clip = Path(r["input"].split(" over ")[-1]).stem  # synthetic clips are named after their still
        cells.setdefault(CLIP_LABELS.get(clip, clip), {})[base] = " · ".join(parts)
    styles = styles_in(rows)
    print("\n| clip | " + " | ".join(f"{st}-full · {st} · -fast" for st in styles) + " |")
    print("|---|" + "---|" * len(styles))
    for label in [v for v in CLIP_LABELS.values() if v in cells] + [k for k in cells if k not in CLIP_LABELS.values()]:
        print(f"| {label} | " + " | ".join(cells[label].get(st, "") for st in styles) + " |")
    print(f"\n{met} of {total} network × clip pairs meet both targets (E_warp ≤ 0.6×, style loss ≤ 1.1×).")


def table(rows: list[dict]) -> None:
    print("\n| clip | style | E_warp full: temporal / plain | style loss full: temporal / plain | E_warp fast: temporal / plain "
          "| style loss fast: temporal / plain | style loss fast-plain / full-plain | content fast-plain / full-plain |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = {k: [] for k in ("ew_full", "sl_full", "ew_fast", "sl_fast", "sl_ff", "cl_ff")}
    for r in rows:
        s = r["styles"]
        base = next(iter(s))
        if not all(n in s for n in (base, f"{base}-plain", f"{base}-fast", f"{base}-plain-fast")):
            continue  # a style without the fast twins: compact_table has its half-width pair
        full, plain, fast, fast_plain = (s[n] for n in (base, f"{base}-plain", f"{base}-fast", f"{base}-plain-fast"))
        vals = {"ew_full": full["e_warp"] / plain["e_warp"], "sl_full": full["style_loss"] / plain["style_loss"],
                "ew_fast": fast["e_warp"] / fast_plain["e_warp"], "sl_fast": fast["style_loss"] / fast_plain["style_loss"],
                "sl_ff": fast_plain["style_loss"] / plain["style_loss"], "cl_ff": fast_plain["content_loss"] / plain["content_loss"]}
        for k, v in vals.items():
            ratios[k].append(v)
        print(f"| {r['input'][:48]} | {base} | {full['e_warp']:.5f} / {plain['e_warp']:.5f} = **{vals['ew_full']:.2f}** | "
              f"{full['style_loss']:.3f} / {plain['style_loss']:.3f} = **{vals['sl_full']:.2f}** | "
              f"{fast['e_warp']:.5f} / {fast_plain['e_warp']:.5f} = **{vals['ew_fast']:.2f}** | "
              f"{fast['style_loss']:.3f} / {fast_plain['style_loss']:.3f} = **{vals['sl_fast']:.2f}** | "
              f"**{vals['sl_ff']:.2f}** | {vals['cl_ff']:.2f} |")
    if not ratios["ew_full"]:
        return
    print("| **worst** | | **{:.2f}** | **{:.2f}** | **{:.2f}** | **{:.2f}** | **{:.2f}** | {:.2f} |".format(
        *(max(ratios[k]) for k in ("ew_full", "sl_full", "ew_fast", "sl_fast", "sl_ff", "cl_ff"))))
    print("| geometric mean | | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |".format(
        *(float(np.exp(np.mean(np.log(ratios[k])))) for k in ("ew_full", "sl_full", "ew_fast", "sl_fast", "sl_ff", "cl_ff"))))


if __name__ == "__main__":
    main()
