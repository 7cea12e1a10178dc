"""The CPU a figure was measured on, in words: speed and kernel numerics differ between CPU models (AMD EPYC of
family 23 and of family 25 run the same network at 2-3x different speeds), so every timing names it."""
from __future__ import annotations

import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """E.g. "AMD EPYC, family 25 model 1" on Linux (the first core's "model name", "cpu family" and "model");
    elsewhere what the platform module says, or "unknown CPU"."""
    try:
        first = cpuinfo.read_text(errors="ignore").split("\n\n", 1)[0]
    except OSError:
        first = ""
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())}
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    if fields.get("cpu family") and fields.get("model"):
        name += f", family {fields['cpu family']} model {fields['model']}"
    return name
