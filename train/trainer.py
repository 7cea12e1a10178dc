"""The training loop: Adam on content + style (+ TV) perceptual losses, checkpoints, resume, logs, samples.

Two optional terms:
  * temporal (`temporal_weight`): each batch gets a second 'frame' made by a random smooth flow
    (train/motion.py) and the network is asked for T(warp(x)) == warp(T(x)) -- video stability
    learned from still images;
  * distillation (`teacher`, `distill_weight`): the output is pulled towards a trained network's
    output on the same input. This is how the cheap CPU network learns a style from the full one
    without paying for VGG on every step (set the perceptual weights to 0 and VGG is never run).

Runs on cuda (mixed precision), mps or cpu. Under torchrun (WORLD_SIZE set) it trains with
DistributedDataParallel: gloo on CPU, nccl on GPUs; rank 0 writes checkpoints, logs and samples.
"""
from __future__ import annotations

import csv
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, RandomSampler

from stylecam.models.devices import pick_device
from stylecam.models.members import write_members
from stylecam.pipeline.files import atomic_output, same_path
from stylecam.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from stylecam.models.multistyle import MultiStyleNetwork
from stylecam.models.networks import create_network, unmatched_prefix
from stylecam.models.styles import network_kind
from stylecam.models.widen import WidenError, widen_state
from stylecam.models.vgg import CONTENT_LAYER, STYLE_LAYERS, load_vgg
from stylecam.pipeline.images import read_rgb
from stylecam.train.clipping import RelativeGradClipper
from stylecam.train.config import TrainConfig
from stylecam.train.data import ImageFolder, to_tensor
from stylecam.train.losses import content_loss, gram, style_loss, tv_loss
from stylecam.train.motion import synthetic_pair, temporal_loss


class TrainError(Exception):
    """Bad training input; the message is fit for users."""


def _optimizer_path(ckpt: Path) -> Path:
    return ckpt.with_name(ckpt.stem + ".optim.pt")


def load_style_image(path: str, long_side: int) -> torch.Tensor:
    if not Path(path).is_file():
        raise TrainError(f"style image not found: {path}")
    rgb = read_rgb(path)
    if rgb is None:
        raise TrainError(f"style image is not a readable image: {path}")
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return to_tensor(rgb).unsqueeze(0)


def save_sample_grid(path: Path, content: torch.Tensor, output: torch.Tensor) -> None:
    """Top row inputs, bottom row outputs, as one PNG."""
    top = torch.cat(list(content[:4].detach().float().cpu()), dim=2)
    bottom = torch.cat(list(output[:4].detach().float().clamp(0, 1).cpu()), dim=2)
    grid = (torch.cat([top, bottom], dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


def learning_rate(cfg: TrainConfig, step: int, steps: int) -> float:
    """--lr with its linear warm-up over the first --warmup-steps and its cosine decay over the last
    --decay-steps before `steps` (warm-up, stable, decay: a long run at one rate can be resumed with a decay
    whenever a checkpoint is wanted, and then go on at the constant rate from the checkpoint before it)."""
    lr = cfg.lr * (min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps else 1.0)
    start = steps - cfg.decay_steps
    if cfg.decay_steps and step > start:
        t = (step - start) / cfg.decay_steps  # (0, 1]
        lr *= cfg.decay_to + (1 - cfg.decay_to) * 0.5 * (1 + math.cos(math.pi * t))
    return lr


def _read_checkpoint(path: str):
    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None


def _load_frozen(spec: str, device: torch.device) -> torch.nn.Module:
    """The distillation teacher: a style name or checkpoint path, in eval mode, no gradients."""
    from stylecam.models.styles import StyleError, load_style

    try:
        net, _ = load_style(spec)
    except StyleError as exc:
        raise TrainError(f"--teacher: {exc}") from None
    net = net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def trainable(net: torch.nn.Module, freeze: str) -> list[torch.nn.Parameter]:
    """The parameters the optimiser moves: all but those named by a prefix in `freeze` (comma-separated), which
    stop taking gradients."""
    prefixes = [p.strip() for p in freeze.split(",") if p.strip()]
    names = [name for name, _ in net.named_parameters()]
    problem = unmatched_prefix(prefixes, names)
    if problem:
        raise TrainError(f"--freeze: {problem}")
    kept = []
    for name, param in net.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            param.requires_grad_(False)
        else:
            kept.append(param)
    return kept


def cpu_bf16_speedup(repeats: int = 3) -> float:
    """How much faster a VGG-sized convolution runs under bf16 autocast than in fp32 on this CPU, measured
    now: CPUs with native bf16 (AVX512-BF16, AMX) run it ~2x faster, others emulate it and run slower."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.rand(2, 64, 64, 64)
    timings = {}
    with torch.no_grad():
        for name, enabled in (("fp32", False), ("bf16", True), ("fp32", False), ("bf16", True)):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                conv(x)  # warm-up: oneDNN picks its kernel
                t0 = time.perf_counter()
                for _ in range(repeats):
                    conv(x)
                timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - t0)
    return timings["fp32"] / timings["bf16"]


def warn_if_bf16_emulated() -> None:
    """An explicit --precision bf16 is kept, but where this CPU emulates bf16 a step can take tens of times
    longer than in fp32 (a recipe written on a CPU with AVX512-BF16, run on one without): say so, once."""
    speedup = cpu_bf16_speedup()
    if speedup < 0.8:
        print(f"warning: bf16 runs {1 / speedup:.0f}x slower than fp32 on this CPU (no native bf16); "
              "--precision auto picks the faster one", file=sys.stderr)


def pick_train_precision(precision: str, device: torch.device) -> str:
    """auto: fp16 (with GradScaler) on CUDA; on a CPU bf16 where it measures >= 1.3x faster than fp32
    (the VGG passes are nearly all of a step); fp32 otherwise. Gram matrices are fp32 in any case."""
    if precision not in PRECISIONS:
        raise TrainError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        if precision == "fp16" and device.type != "cuda":
            raise TrainError("--precision fp16 is for CUDA GPUs; on this device use bf16 or fp32")
        if precision == "bf16" and device.type == "cpu":
            warn_if_bf16_emulated()
        return precision
    if device.type == "cuda":
        return "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_speedup() >= 1.3 else "fp32"
    return "fp32"


def paintings(cfg: TrainConfig) -> list[str]:
    return [cfg.style_image] if isinstance(cfg.style_image, str) else list(cfg.style_image)


def run_name(cfg: TrainConfig) -> str:
    if cfg.style_name:
        return cfg.style_name
    images = paintings(cfg)
    return Path(images[0]).stem if len(images) == 1 else "multistyle"


def member_names(cfg: TrainConfig) -> list[str]:
    images = paintings(cfg)
    names = [n.strip() for n in cfg.member_names.split(",") if n.strip()] or [Path(p).stem for p in images]
    if len(names) != len(images):
        raise TrainError(f"--member-names gives {len(names)} names for {len(images)} style images")
    if len(set(names)) != len(names):
        raise TrainError("two styles of the multi-style network have the same name")
    return names


def member_style_weights(cfg: TrainConfig) -> list[float]:
    """--style-weight for each painting: times its factor in --member-style-weights."""
    count = len(paintings(cfg))
    text = [w.strip() for w in cfg.member_style_weights.split(",") if w.strip()]
    if not text:
        return [cfg.style_weight] * count
    try:
        factors = [float(w) for w in text]
    except ValueError:
        raise TrainError(f"--member-style-weights must be numbers, got {cfg.member_style_weights!r}") from None
    if len(factors) != count or count < 2 or min(factors) < 0:
        raise TrainError(f"--member-style-weights needs one factor >= 0 for each of the {count} style images")
    return [cfg.style_weight * f for f in factors]


def check_outputs(cfg: TrainConfig) -> None:
    """A run never writes over its own inputs or an earlier run: checked before anything loads."""
    out_dir = Path(cfg.save_model_dir)
    final = out_dir / f"{run_name(cfg)}.safetensors"
    for flag, spec in (("--init", cfg.init), ("--teacher", cfg.teacher)):
        if spec and Path(spec).is_file() and same_path(spec, final):
            raise TrainError(f"{flag} {spec} is where this run would write its result: give another --save-model-dir "
                             f"or --style-name")
    if not cfg.resume and (out_dir / "train_log.csv").exists():
        raise TrainError(f"{out_dir} already holds a training run (train_log.csv): --resume one of its checkpoints to "
                         f"continue it, or give another --save-model-dir")
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainError(f"--save-model-dir {out_dir} is a file, not a folder")


def train(cfg: TrainConfig) -> Path:
    """Train and return the path of the final checkpoint."""
    check_outputs(cfg)
    if 0 < cfg.clip_grad <= 1:
        raise TrainError(f"--clip-grad {cfg.clip_grad:g}: give 0 (off) or a factor above 1, e.g. 4")
    if cfg.skips and cfg.arch != "fast_net":
        raise TrainError("--skips is a fast_net option (--arch fast_net)")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = pick_device(cfg.device)
    rank, world = 0, 1
    if distributed:
        if device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    is_main = rank == 0
    torch.manual_seed(cfg.seed)  # same initial weights on every rank

    try:
        data = ImageFolder(cfg.content_dir, cfg.image_size, seed=cfg.seed + rank)
    except (FileNotFoundError, ValueError) as exc:
        raise TrainError(str(exc)) from None
    images = paintings(cfg)
    members = member_names(cfg) if len(images) > 1 else []
    style_weights = member_style_weights(cfg)
    teacher = _load_frozen(cfg.teacher, device) if cfg.teacher else None
    # a multi-style student learns each style from the same row of a multi-style teacher (a fast CPU network
    # for all the paintings of one bigger network: the two mix between styles alike)
    multi_teacher = isinstance(teacher, MultiStyleNetwork)
    if members and teacher is not None and (not multi_teacher or teacher.styles != len(members)):
        raise TrainError(f"--teacher for {len(members)} style images must be a network of {len(members)} styles "
                         "(conditional instance norm) in the same order")
    if multi_teacher and not members:
        raise TrainError(f"--teacher has {teacher.styles} styles: give as many --style-image, in its order")
    styles = [load_style_image(p, cfg.style_size or 2 * cfg.image_size).to(device) for p in images]
    perceptual = bool(cfg.content_weight or cfg.style_weight)
    if not (perceptual or cfg.teacher):
        raise TrainError("nothing to learn: content and style weights are 0 and there is no --teacher")
    vgg = load_vgg(cfg.vgg_weights, tuple(sorted(set(cfg.style_layers or STYLE_LAYERS) | {CONTENT_LAYER}))).to(device) if perceptual else None
    distill_weight = cfg.distill_weight or (1.0 if teacher is not None else 0.0)

    net = create_network({"name": cfg.arch, "width": cfg.width, "blocks": cfg.blocks, **({"skips": True} if cfg.skips else {})})
    widened_from = None
    if cfg.init:
        init = _read_checkpoint(cfg.init)
        if members and "styles" not in init.arch and init.arch == net.arch():
            net.load_state_dict(init.state)  # every style of the new multi-style network starts as this one
        elif members and init.arch == dict(net.arch(), styles=len(members)):
            net = create_network(init.arch)
            net.load_state_dict(init.state)
        elif init.arch == net.arch():
            net.load_state_dict(init.state)
        elif dict(init.arch, skips=True) == net.arch():
            # the skips' scales stay at their 0: the same function as the network without them
            missing, unexpected = net.load_state_dict(init.state, strict=False)
            assert not unexpected and all(k.startswith("skip") for k in missing), (missing, unexpected)
        elif dict(init.arch, width=cfg.width) == net.arch() and cfg.width > init.arch.get("width", 0):
            # a wider network of the same design starts as an exact copy of the narrow one (models/widen.py)
            try:
                net.load_state_dict(widen_state(init.state, net, seed=cfg.seed))
            except WidenError as exc:
                raise TrainError(f"--init cannot widen to --width {cfg.width}: {exc}") from None
            widened_from = init.arch.get("width")
        else:
            raise TrainError(f"--init checkpoint is a {init.arch}, but this run trains a {net.arch()}")
    if members and not isinstance(net, MultiStyleNetwork):
        net = MultiStyleNetwork(net, len(members))
    net = net.to(device).train()
    optimizer = torch.optim.Adam(trainable(net, cfg.freeze), lr=cfg.lr)
    start_step = 0
    out_dir = Path(cfg.save_model_dir)
    style_name = run_name(cfg)
    if cfg.resume:
        ckpt = _read_checkpoint(cfg.resume)
        if ckpt.arch != net.arch():
            raise TrainError(f"--resume checkpoint is a {ckpt.arch}, but this run trains a {net.arch()}")
        net.load_state_dict(ckpt.state)
        start_step = int(ckpt.training.get("steps", 0))
        opt_path = _optimizer_path(Path(cfg.resume))
        if opt_path.is_file():
            try:
                optimizer.load_state_dict(torch.load(opt_path, map_location=device, weights_only=True))
            except ValueError:  # torch: "loaded state dict contains a parameter group that doesn't match..."
                raise TrainError(f"--resume: {opt_path.name} holds the optimiser of another set of trained parameters "
                                 "(resume with the --freeze the run had)") from None
    model = torch.nn.parallel.DistributedDataParallel(net) if distributed else net
    clipper = RelativeGradClipper(cfg.clip_grad) if cfg.clip_grad else None

    steps = cfg.steps or cfg.epochs * max(1, len(data) // (cfg.batch_size * world))
    style_grams: list[dict[str, torch.Tensor]] = [{} for _ in styles]  # per style: layer -> Gram target
    if vgg is not None:
        with torch.no_grad():
            for grams, style in zip(style_grams, styles):
                feats = vgg(style)
                grams.update({name: gram(feats[name]) for name in cfg.style_layers or STYLE_LAYERS})
    motion_rng = torch.Generator().manual_seed(cfg.seed + 1000 + rank)

    precision = pick_train_precision(cfg.precision, device)
    if distributed:  # one choice for every rank: rank 0's measurement
        choice = [precision]
        dist.broadcast_object_list(choice, src=0)
        precision = choice[0]
    use_amp = device.type == "cuda"  # pinned, asynchronous copies
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16" and device.type == "cuda")
    autocast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    sampler = RandomSampler(data, replacement=True, num_samples=10**9, generator=torch.Generator().manual_seed(cfg.seed + rank))
    loader = iter(DataLoader(data, batch_size=cfg.batch_size, sampler=sampler, num_workers=0, pin_memory=use_amp))

    training_meta = {k: v for k, v in asdict(cfg).items() if k not in ("progress", "resume")}
    training_meta.update(vgg_source=vgg.source if vgg else None, vgg_norm=vgg.norm if vgg else None,
                         distill_weight=distill_weight, loss="relative (see train/losses.py)",
                         content_layer=CONTENT_LAYER, skipped_files=len(data.skipped), world_size=world,
                         widened_from=widened_from, precision=precision, style_image=[Path(p).name for p in images],
                         member_names=members)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if data.skipped:
            print(f"skipped {len(data.skipped)} unreadable or non-image files in {cfg.content_dir}")
    log_path = out_dir / "train_log.csv"
    log_file = None
    if is_main:
        new_log = not log_path.exists() or start_step == 0
        log_file = open(log_path, "w" if start_step == 0 else "a", newline="")
        writer = csv.writer(log_file)
        if new_log:
            writer.writerow(["step", "content", "style", "tv", "temporal", "distill", "total", "seconds"])

    from tqdm import tqdm

    bar = tqdm(total=steps, initial=start_step, disable=not (cfg.progress and is_main), unit="step", dynamic_ncols=True)
    last = {"content": float("nan"), "style": float("nan"), "tv": 0.0, "temporal": 0.0, "distill": 0.0, "total": float("nan")}
    t0 = time.perf_counter()
    final_path = out_dir / f"{style_name}.safetensors"

    def style_cfg(name: str, painting: str | None) -> dict:
        """How models/styles.py files the network: its style, which network, and the painting it learned."""
        cfg_ = {"style": name, "network": network_kind(net.arch()),
                "temporal": bool(cfg.temporal_weight)}
        if painting:
            cfg_["painting"] = {"file": Path(painting).name, "path": str(Path(painting).resolve())}
        return cfg_

    def checkpoint(step: int, path: Path) -> None:
        meta = dict(training_meta, steps=step, date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    final_losses=last, style_image=Path(images[0]).name if not members else [Path(p).name for p in images])
        save_checkpoint(path, net, style=style_name, training=meta, style_cfg=style_cfg(style_name, images[0] if not members else None))
        if members:  # each style as an ordinary network, ready for every command
            write_members(net, meta, path.name, out_dir / "members", images)
        with atomic_output(_optimizer_path(path)) as tmp:
            torch.save(optimizer.state_dict(), tmp)

    def run_step(step: int) -> None:
        nonlocal last
        x = next(loader).to(device, non_blocking=use_amp)  # async only from pinned memory (CUDA)
        current = (step - 1) % len(styles)  # multi-style: the styles take turns, one per batch
        if members:
            net.select(current)
            if multi_teacher:
                teacher.select(current)
        zero = torch.zeros((), device=device)
        lc = ls = lt = ltemp = ld = zero
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            if cfg.temporal_weight:
                x2, flow, inside = synthetic_pair(x, motion_rng, still=cfg.still_fraction, grain_px=cfg.still_grain)
                y, y2 = model(torch.cat([x, x2])).float().chunk(2)
                ltemp = temporal_loss(y, y2, flow, inside)
            else:
                y = model(x).float()
            if vgg is not None:
                feats_y = vgg(y)
                with torch.no_grad():  # the content target: the trunk up to the content layer only
                    feats_x = vgg(x, upto=CONTENT_LAYER)
                lc = content_loss(feats_y[CONTENT_LAYER].float(), feats_x[CONTENT_LAYER].float())
                ls = style_loss({k: v.float() for k, v in feats_y.items()}, style_grams[current])
            if teacher is not None:
                with torch.no_grad():
                    target = teacher(x).float().clamp(0, 1)
                ld = torch.nn.functional.mse_loss(y, target)
        if cfg.tv_weight:
            lt = tv_loss(y)
        loss = (cfg.content_weight * lc + style_weights[current] * ls + cfg.tv_weight * lt
                + cfg.temporal_weight * ltemp + distill_weight * ld)
        if cfg.warmup_steps or cfg.decay_steps:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step, steps)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clipper is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
            clipper(net.parameters())
        scaler.step(optimizer)
        scaler.update()

        last = {"content": lc.item(), "style": ls.item(), "tv": lt.item(), "temporal": ltemp.item(),
                "distill": ld.item(), "total": loss.item()}
        bar.update(1)
        bar.set_postfix({k: f"{v:.4g}" for k, v in last.items() if v and k != "total"})
        if is_main:
            if step % cfg.log_every == 0 or step == steps:
                writer.writerow([step, *(f"{last[k]:.6g}" for k in ("content", "style", "tv", "temporal", "distill", "total")), f"{time.perf_counter() - t0:.1f}"])
                log_file.flush()
            if cfg.sample_every and step % cfg.sample_every == 0:
                save_sample_grid(out_dir / f"sample_{step:06d}.png", x, y)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step != steps:
                checkpoint(step, out_dir / f"{style_name}_step{step:06d}.safetensors")

    def out_of_time(step: int) -> bool:
        """--max-minutes: checked every 10 steps; under DDP every rank stops at the same step."""
        if not cfg.max_minutes or step % 10:
            return False
        over = torch.tensor([float(time.perf_counter() - t0 > 60 * cfg.max_minutes)], device=device)
        if distributed:
            dist.all_reduce(over, op=dist.ReduceOp.MAX)
        return bool(over.item())

    step = start_step
    restore_signals = _stop_signals_interrupt()
    try:
        for step in range(start_step + 1, steps + 1):
            run_step(step)
            if out_of_time(step):
                break
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: keep the work done so far, resumable
        bar.close()
        if is_main and step > start_step:
            saved = out_dir / f"{style_name}_step{step - 1:06d}.safetensors"
            if step - 1 > start_step:
                checkpoint(step - 1, saved)
                print(f"interrupted: saved step {step - 1} to {saved}; continue with --resume {saved}", file=sys.stderr)
            log_file.close()
        raise
    finally:
        restore_signals()
    bar.close()
    if is_main:
        checkpoint(step, final_path)
        log_file.close()
    if distributed:
        rank_dump = os.environ.get("STYLECAM_DDP_DUMP")  # lets the DDP test compare every rank's weights
        if rank_dump:
            save_checkpoint(Path(rank_dump) / f"rank{rank}.safetensors", net, style=style_name)
        dist.barrier()
        dist.destroy_process_group()
    return final_path


def _stop_signals_interrupt() -> Callable[[], None]:
    """SIGTERM and SIGHUP (docker stop, systemd, a closed terminal) stop training as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.getsignal(getattr(signal, n)) for n in names}

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for n in names:
        signal.signal(getattr(signal, n), interrupt)
    return lambda: [signal.signal(getattr(signal, n), h) for n, h in previous.items()] and None
