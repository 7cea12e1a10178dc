"""What a training run is given: one dataclass, the single place its defaults and help live.

`stylecam train`'s options are generated from these fields (pipeline/app/cli.py), so a new option is one
field here. Imports nothing heavy: the command line reads it before torch loads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

def option(default: Any = None, help: str = "", *, min: float | None = None, max: float | None = None,
           choices: tuple[str, ...] | None = None, multiple: bool = False, required: bool = False,
           kind: str = "", cli: bool = True, min_open: bool = False) -> Any:
    """A TrainConfig field with what its command-line option needs: help, range, choices; `kind` "path"
    (file or folder), "file", "dir" or "" (plain); cli=False keeps it off the command line (library callers only)."""
    meta = {"help": help, "min": min, "max": max, "choices": choices, "multiple": multiple, "required": required,
            "kind": kind, "cli": cli, "min_open": min_open}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    content_dir: str = option(None, "Folder of training photos (searched recursively).", required=True, kind="path")
    style_image: str | tuple[str, ...] = option(
        None, "The painting to learn; repeat it for one multi-style network (conditional instance norm) of several.",
        required=True, multiple=True, kind="path")
    member_names: str = option("", "Multi-style: comma-separated names of its styles (default: the paintings' file names).")
    save_model_dir: str = option("checkpoints", "Checkpoints, log and samples go here.", kind="dir")
    style_name: str = option("", "Name of the style (default: the style image's file name).")
    epochs: int = option(2, "Passes over the content images (when --steps is 0).", min=1)
    steps: int = option(0, "Optimiser steps; 0: derived from --epochs.", min=0)
    batch_size: int = option(4, "", min=1)
    image_size: int = option(256, "Training crop side in pixels.", min=16)
    style_size: int = option(0, "Long side of the style image for the loss; 0: 2 x image size.", min=0)
    lr: float = option(1e-3, "", min=0, min_open=True)
    warmup_steps: int = option(0, "Raise the learning rate linearly over these first steps (fine-tuning from --init: "
                                  "a fresh Adam jumps without it).", min=0)
    decay_steps: int = option(0, "Lower the learning rate over the run's last N steps (cosine, to --decay-to x --lr): "
                                 "resume a constant-rate run with it to end on a checkpoint to ship, and go on at the "
                                 "constant rate from the checkpoint before.", min=0)
    decay_to: float = option(0.1, "The learning rate at the last step of --decay-steps, as a fraction of --lr.", min=0, max=1)
    clip_grad: float = option(0.0, "Clip each step's gradient norm to this many times the run's running mean "
                                    "(e.g. 4; 0: off): a burst of bad steps cannot undo hours of training.", min=0)
    content_weight: float = option(1.0, "")
    style_weight: float = option(0.5, "Losses are relative per layer (train/losses.py), so weights carry over between VGG sources.")
    member_style_weights: str = option("", "Multi-style: comma-separated factors on --style-weight, one per painting "
                                           "(default: 1 each), for paintings whose content loss has room to spare.")
    tv_weight: float = option(0.0, "Total-variation smoothing.")
    temporal_weight: float = option(0.0, "Temporal consistency on synthetic frame pairs (train/motion.py); the shipped "
                                         "styles used 50-1000 (see their model cards).")
    still_fraction: float = option(0.0, "Share of the temporal pairs that mimic a still camera: local motion and sensor "
                                        "noise only.", min=0, max=1)
    still_grain: float = option(0.0, "Still pairs' noise: 0 white; N > 0 like compressed video, spatially correlated "
                                     "over up to N pixels.", min=0, max=8)
    teacher: str | None = option(None, "Distil this style (name or checkpoint): the output is pulled towards the teacher's.")
    distill_weight: float = option(0.0, "Weight of the distillation loss (0 with --teacher: 1).")
    freeze: str = option("", "Comma-separated parameter-name prefixes (e.g. decoder) kept as --init left them; "
                             "the rest trains.")
    init: str | None = option(None, "Start from these weights (fine-tuning); steps count from 0. A narrower network of "
                                    "the same design is widened to --width first, computing the same function "
                                    "(models/widen.py).", kind="file")
    style_layers: tuple[str, ...] = option((), cli=False)  # (): models/vgg.py STYLE_LAYERS, Johnson's four
    vgg_weights: str | None = option(None, "VGG16 weights file from `stylecam vgg import-hed` (default: torchvision's, "
                                           "downloaded).", kind="file")
    arch: str = option("transformer_net", "transformer_net: Johnson's; fast_net: ~80x fewer FLOPs, for CPUs "
                                          "(models/fast_net.py).", choices=("transformer_net", "fast_net"))
    width: int = option(32, "Channels of the first layer (32 = Johnson's network, 16 = half width).", min=1)
    blocks: int = option(5, "Residual blocks.", min=0)
    skips: bool = option(False, "fast_net: add the encoder's features to the decoder's at each resolution "
                                "(models/fast_net.py); --init from a network without them keeps its function.")
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda or mps.")
    precision: str = option("auto", "Mixed precision; auto: fp16 on CUDA, bf16 on a CPU where a quick measurement finds "
                                    "it faster (about 2x with AVX512-BF16), else fp32.", choices=("auto", "fp32", "bf16", "fp16"))
    seed: int = option(42, "")
    resume: str | None = option(None, "Continue from this checkpoint (step count and optimiser state).", kind="file")
    checkpoint_every: int = option(200, "", min=0)
    log_every: int = option(10, "Steps between lines of train_log.csv.", min=1)
    sample_every: int = option(100, "Steps between sample grids (0: none).", min=0)
    progress: bool = option(True, "tqdm progress bar with the losses.")
    max_minutes: float = option(0.0, "Stop after this many minutes of training (at a multiple of 10 steps), saving the "
                                     "result and its optimiser state as at the last step, for --resume; 0: no limit.", min=0)
    extra: dict = option({}, cli=False)
