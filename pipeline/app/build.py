"""pipeline.yaml -> a runnable Pipeline, with errors that name the offending key.

Shape:
    source: {type: file, path: in.mp4}
    stages: [{type: preprocess, ...}, {type: inference, style: ..., ...}, {type: postprocess, ...}]
    sinks:  [{type: file, path: out.mp4, ...}, ...]
    queues: {size: 8, policy: auto}        # auto: block behind files, leaky behind live sources

Each entry's keys besides `type` are the stage class's constructor parameters; their types come from
its annotations, so a new stage needs no schema of its own.
"""
from __future__ import annotations

import copy
import inspect
import types
import typing
from pathlib import Path
from typing import Any

import yaml

import stylecam.stages  # noqa: F401  (registers stylecam's own stages)
from stylecam.pipeline import registry
from stylecam.pipeline.engine import Pipeline
from stylecam.pipeline.stage import KIND_NAMES, Context

# An installed wheel carries pipeline.yaml inside this package (setup.py copies it there); a source
# checkout (or an editable install) has it at the repository root.
_PACKAGED_PIPELINE = Path(__file__).resolve().parent.parent / "pipeline.yaml"
DEFAULT_PIPELINE = _PACKAGED_PIPELINE if _PACKAGED_PIPELINE.is_file() else Path(__file__).resolve().parents[2] / "pipeline.yaml"
TOP_LEVEL_KEYS = {"source", "stages", "sinks", "queues"}
QUEUE_KEYS = {"size", "policy"}


class ConfigError(Exception):
    """An invalid pipeline description; the message names the key."""


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with source, stages and sinks")
    return data


def _accepts(annotation: Any, value: Any) -> bool:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def stage_class(role: str, kind: str, where: str = "") -> type:
    """The registered class of a `type:` name (pipeline/registry.py), or a ConfigError naming the key."""
    if registry.find(role, kind) is None:
        raise ConfigError(f"{where or role}.type: unknown {role} {kind!r} (one of {', '.join(registry.names(role))})")
    try:
        return registry.lookup(role, kind)
    except registry.RegistryError as exc:
        raise ConfigError(f"{where or role}.type: {exc}") from None


def instantiate(where: str, entry: Any, role: str) -> Any:
    """Build one stage from its mapping, checking every key against the constructor."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'type' key, got {type(entry).__name__}")
    params = dict(entry)
    kind = params.pop("type", None)
    if kind is None:
        raise ConfigError(f"{where}.type: missing (one of {', '.join(registry.names(role))})")
    if not isinstance(kind, str):
        raise ConfigError(f"{where}.type: expected a name (one of {', '.join(registry.names(role))}), got {kind!r}")
    cls = stage_class(role, kind, where)
    sig = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    # (*args/**kwargs, as object.__init__ of a stage without a constructor has, take no yaml keys)
    allowed = {n: p for n, p in sig.parameters.items()
               if n != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown parameter for {kind} (known: {', '.join(allowed)})")
        annotation = hints.get(key, inspect.Parameter.empty)
        if not _accepts(annotation, value):
            raise ConfigError(f"{where}.{key}: expected {_type_name(annotation)}, got {value!r}")
    for name, p in allowed.items():
        if p.default is inspect.Parameter.empty and name not in params:
            raise ConfigError(f"{where}.{name}: missing value (required by {kind})")
    try:
        return cls(**params)
    except Exception as exc:  # constructors validate values (ranges, formats) and say why
        raise ConfigError(f"{where}: {exc}") from None


def validate_top(spec: dict) -> None:
    for key in spec:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{key}: unknown top-level key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    if "source" not in spec:
        raise ConfigError("source: missing value")
    if not isinstance(spec.get("stages", []), list):
        raise ConfigError("stages: expected a list")
    sinks = spec.get("sinks")
    if not isinstance(sinks, list) or not sinks:
        raise ConfigError("sinks: expected a list with at least one sink")
    queues = spec.get("queues", {}) or {}
    if not isinstance(queues, dict):
        raise ConfigError("queues: expected a mapping")
    for key, value in queues.items():
        if key not in QUEUE_KEYS:
            raise ConfigError(f"queues.{key}: unknown parameter (known: size, policy)")
    if "size" in queues and (not isinstance(queues["size"], int) or isinstance(queues["size"], bool) or queues["size"] < 1):
        raise ConfigError(f"queues.size: expected a positive integer, got {queues['size']!r}")
    if queues.get("policy", "auto") not in ("auto", "block", "leaky"):
        raise ConfigError(f"queues.policy: expected auto, block or leaky, got {queues['policy']!r}")


_FIXES = {"tensor": "put a preprocess stage before it", "styled": "put an inference stage before it",
          "rgb": "end the stages with a postprocess stage"}


def check_chain(spec: dict, source: Any, stages: list[Any], sinks: list[Any]) -> None:
    """Every stage takes what the one before it gives (see `takes`/`gives` in pipeline/stage.py)."""
    entries = spec.get("stages") or []
    kind, before = getattr(source, "gives", None), f"source ({spec['source'].get('type')})"
    for where, entry, stage in [*((f"stages[{i}]", entries[i], st) for i, st in enumerate(stages)),
                                *((f"sinks[{i}]", spec["sinks"][i], sk) for i, sk in enumerate(sinks))]:
        takes = getattr(stage, "takes", None)
        if kind and takes and kind not in takes:
            wanted = " or ".join(KIND_NAMES[t] for t in takes)
            raise ConfigError(f"{where} ({entry.get('type')}) takes {wanted}, but {before} gives {KIND_NAMES[kind]}: "
                              f"{_FIXES[takes[0]]}")
        if where.startswith("stages"):
            kind, before = getattr(stage, "gives", None), f"{where} ({entry.get('type')})"


def build_pipeline(spec: dict, device: str = "auto", **pipeline_kwargs: Any) -> Pipeline:
    """Validate the whole description, then build the stages and the engine."""
    from stylecam.models.devices import pick_device

    spec = copy.deepcopy(spec)
    validate_top(spec)
    source = instantiate("source", spec["source"], "source")
    stages = [instantiate(f"stages[{i}]", e, "stage") for i, e in enumerate(spec.get("stages") or [])]
    sinks = [instantiate(f"sinks[{i}]", e, "sink") for i, e in enumerate(spec["sinks"])]
    check_chain(spec, source, stages, sinks)
    # One device for the whole pipeline: the caller's if named, else the inference stage's yaml value.
    if device == "auto":
        device = next((s.device_name for s in stages if hasattr(s, "device_name") and s.device_name != "auto"), "auto")
    try:
        resolved = str(pick_device(device))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for stage in stages:
        if hasattr(stage, "device_name"):
            stage.device_name = resolved
    queues = spec.get("queues") or {}
    ctx = Context(device=str(resolved))
    for stage in stages:  # what the network takes, for preprocess, which opens before inference
        if hasattr(stage, "network_geometry"):
            ctx.extras["network_geometry"] = stage.network_geometry(resolved.split(":")[0])
    return Pipeline(source, stages, sinks, ctx, queue_size=queues.get("size", 8), policy=queues.get("policy", "auto"), **pipeline_kwargs)


def source_entry(path: str, base: dict | None = None) -> dict:
    """A source mapping for an INPUT given on the command line."""
    from stylecam.pipeline.images import IMAGE_SUFFIXES

    base = base or {}
    if path == "testsrc":
        return base if base.get("type") == "testsrc" else {"type": "testsrc"}
    p = Path(path)
    if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES:
        return {"type": "images", "path": path}
    keep = {k: v for k, v in base.items() if k == "max_frames"} if base.get("type") == "file" else {}
    return {"type": "file", "path": path, **keep}


def sink_entry(path: str, base_sinks: list | None = None) -> dict:
    """A sink mapping for an OUTPUT given on the command line (keeps the yaml's options for that type)."""
    from stylecam.stages.sinks import CONTAINER_FORMATS
    from stylecam.pipeline.images import IMAGE_SUFFIXES

    if path == "null":
        return {"type": "null"}
    suffix = Path(path).suffix.lower()
    if suffix in CONTAINER_FORMATS:
        kind = "file"
    elif suffix in IMAGE_SUFFIXES or suffix == "":
        kind = "images"
    else:
        raise ConfigError(f"output {path!r}: unknown type {suffix!r} (a video file such as .mp4, an image, a folder, or null)")
    base = next((dict(s) for s in base_sinks or [] if isinstance(s, dict) and s.get("type") == kind), {"type": kind})
    base["path"] = path
    return base


def override(spec: dict, *, input: str | None = None, output: str | None = None, sink_params: dict | None = None,
             **stage_params: Any) -> dict:
    """Apply command-line options to a pipeline description. stage_params go to whichever stage
    accepts them (style/batch_size -> inference, size/image_size -> preprocess, strength -> postprocess);
    sink_params (crf, codec, audio) to the file sinks."""
    spec = copy.deepcopy(spec)
    if input is not None:
        spec["source"] = source_entry(input, spec.get("source"))
    if output is not None:
        spec["sinks"] = [sink_entry(output, spec.get("sinks"))]
    for sink in spec.get("sinks") or []:
        if isinstance(sink, dict) and sink.get("type") == "file":
            sink.update(sink_params or {})
    for key, value in stage_params.items():
        if value is None:
            continue
        targets = [e for e in spec.get("stages") or [] if isinstance(e, dict) and isinstance(e.get("type"), str) and registry.find("stage", e["type"]) is not None
                   and key in inspect.signature(stage_class("stage", e["type"]).__init__).parameters]
        if not targets:
            raise ConfigError(f"--{key.replace('_', '-')}: no stage in this pipeline takes it")
        for entry in targets:
            entry[key] = value
    return spec
