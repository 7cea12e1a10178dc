"""How much of the machine other processes took while something was timed.

An fps figure taken beside a training run or another evaluation can be half of a quiet machine's, and nothing in
the figure says so. `OtherLoad` reads the kernel's CPU counters (/proc/stat, Linux) around a timed block and
subtracts this process's own CPU time: what is left is the share of every core's time that went to others.
Elsewhere (no /proc/stat) the share is None: unknown, not zero.
"""
from __future__ import annotations

import os
from pathlib import Path

PROC_STAT = Path("/proc/stat")
# Above this share of the machine going to other processes, a timing is flagged as taken on a busy machine
# (on 2 cores: another process using half a core or more).
BUSY_SHARE = 0.25


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, or None where the kernel does not say."""
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest time is already inside user and nice); steal, the
    # time a virtual machine's host gave to other guests, was not ours either
    ticks = [int(v) for v in fields[1:9]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def _own_ticks() -> float:
    t = os.times()
    return (t.user + t.system) * os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """with OtherLoad() as load: ...timed block...; then load.share: the fraction of all cores' time that other
    processes used during the block (0 = the machine was ours alone), or None where it cannot be read."""

    def __init__(self) -> None:
        self.share: float | None = None
        self._start: tuple[int, int] | None = None
        self._own = 0.0

    def __enter__(self) -> OtherLoad:
        self._start = _cpu_ticks()
        if self._start is not None:  # only where /proc/stat is (os.sysconf is not everywhere)
            self._own = _own_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_ticks()
        if self._start is None or end is None:
            return
        total = end[1] - self._start[1]
        if total <= 0:  # a block shorter than one tick
            return
        others = (end[0] - self._start[0]) - (_own_ticks() - self._own)
        self.share = min(1.0, max(0.0, others / total))

    @property
    def busy(self) -> bool:
        return bool(busy_note(self.share))


def busy_note(share: float | None) -> str:
    """The words that go beside a figure timed while others used `share` of the machine ("" when quiet or unknown)."""
    if share is None or share <= BUSY_SHARE:
        return ""
    return f"busy machine: other processes used {share:.0%} of the CPU"
