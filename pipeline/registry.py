"""Stage factories: pipeline.yaml's `type:` names -> stage classes, like GStreamer's element factories.

A factory is registered under a role (source, stage or sink: the yaml section it may appear in) and a
name, with either the class or a "module:Class" string that is imported only when the factory is first
used, so listing or checking a pipeline loads no torch. The engine core never imports a stage module:
stylecam's own stages register from `stylecam.stages` (the application imports it), and any installed
distribution can add stages through the entry-point group `stylecam.stages`, named ROLE.NAME:

    [options.entry_points]
    stylecam.stages =
        sink.ascii = my_package.ascii:AsciiSink
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

ROLES = ("source", "stage", "sink")
ENTRY_POINT_GROUP = "stylecam.stages"


class RegistryError(Exception):
    """A name no factory has, or a plugin that cannot be loaded; the message is fit for users."""


@dataclass
class Factory:
    role: str
    name: str
    target: Any  # a class, or "module:Class" until first use
    origin: str = "stylecam"  # the distribution that registered it

    def load(self) -> type:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            try:
                self.target = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise RegistryError(f"{self.role} {self.name!r} ({self.target}, from {self.origin}) cannot be loaded: {exc}") from None
        return self.target


_factories: dict[tuple[str, str], Factory] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register(role: str, name: str, target: Any, origin: str = "stylecam") -> None:
    """Add a factory; a later registration of the same role and name replaces the earlier one."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    with _lock:
        _factories[(role, name)] = Factory(role, name, target, origin)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        role, _, name = ep.name.partition(".")
        if role not in ROLES or not name:
            continue  # not ROLE.NAME: ignored rather than breaking every pipeline
        origin = ep.dist.name if getattr(ep, "dist", None) else "an entry point"
        with _lock:
            _factories.setdefault((role, name), Factory(role, name, ep.value, origin))


def names(role: str) -> list[str]:
    _load_entry_points()
    return sorted(name for (r, name) in _factories if r == role)


def find(role: str, name: str) -> Factory | None:
    _load_entry_points()
    return _factories.get((role, name))


def lookup(role: str, name: str) -> type:
    """The class registered as `name` for `role`, imported now if it was registered by path."""
    factory = find(role, name)
    if factory is None:
        raise RegistryError(f"unknown {role} {name!r} (one of {', '.join(names(role))})")
    return factory.load()
