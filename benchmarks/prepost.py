"""Pre/post-processing cost per frame: the project's stages against the PyTorch example's conversions,
side by side in one run (interleaved rounds, median; compare ratios, the machine is shared and noisy).

    .venv/bin/python benchmarks/prepost.py --size 640x480 --image-size 240

Each stage is timed alone on one thread: the per-stage times `stylecam bench` reports inside the
pipeline also include waiting for a core while inference runs, so they are not the stage's cost.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylecam.pipeline.item import Frame  # noqa: E402
from stylecam.pipeline.stage import Context  # noqa: E402
from stylecam.stages.transforms import Postprocess, Preprocess  # noqa: E402


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1000 * (time.perf_counter() - t0) / repeat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--image-size", type=int, default=0, help="inference short side (0: the frame's size)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    w, h = map(int, args.size.split("x"))
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    pre, post = Preprocess(image_size=args.image_size or None), Postprocess()
    pre.open(Context())
    post.open(Context())
    tensor_u8 = pre.process(Frame(data=rgb, seq=0, original=rgb)).data
    network_out = torch.rand(tensor_u8.shape)  # what the network hands on: contiguous 3xhxw float in [0, 1]

    from PIL import Image
    from torchvision import transforms

    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda x: x.mul(255))])

    def example_pre() -> torch.Tensor:  # fast_neural_style/neural_style.py: PIL image -> ToTensor -> *255
        return to_tensor(Image.fromarray(rgb)).unsqueeze(0)

    def example_post() -> np.ndarray:  # its save_image: clamp, numpy, transpose, astype
        return (network_out * 255).clamp(0, 255).numpy().transpose(1, 2, 0).astype("uint8")

    cases = {
        "stylecam preprocess (+ u8 -> float in inference)": lambda: pre.process(Frame(data=rgb, seq=0, original=rgb)).data.float().div_(255),
        "stylecam postprocess": lambda: post.process(Frame(data=network_out, seq=0, original=rgb)),
        "pytorch example preprocess": example_pre,
        "pytorch example postprocess": example_post,
    }
    rounds: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            rounds[name].append(timed(fn, args.repeat))
    ms = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"{args.size}, inference short side {args.image_size or 'full'}, 1 thread, median of {args.rounds} rounds")
    for name, v in ms.items():
        print(f"  {name:<52} {v:7.2f} ms")
    ours = ms["stylecam preprocess (+ u8 -> float in inference)"] + ms["stylecam postprocess"]
    theirs = ms["pytorch example preprocess"] + ms["pytorch example postprocess"]
    print(f"  pre + post: stylecam {ours:.2f} ms, pytorch example {theirs:.2f} ms ({theirs / ours:.1f}x)")


if __name__ == "__main__":
    main()
