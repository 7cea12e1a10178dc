"""Per-stage latency, throughput, queue depths, drops and end-to-end latency; as a table or JSON.

JSON schema (`--stats-json FILE`, documented in docs/metrics.md):
  fps               frames out per second of wall time, first frame in to last frame out
  frames_in         frames the source produced
  frames_out        frames that reached every sink
  dropped           frames dropped by leaky queues or consumed by a stage
  latency_p50_ms    end-to-end (capture -> sink done) latency, median, warm-up excluded
  latency_p95_ms    same, 95th percentile
  latency_max_ms    same, maximum
  wall_s            seconds the run took
  interrupted       true when Ctrl-C ended the stream early
  cpu_cores         process CPU time (user + sys, every thread) per second of wall time, first frame in to
                    last frame out (start-up excluded): 1.0 = one core busy
  warmup_frames     frames left out of the latency figures per stage (model loading, caches, ...)
  stages            [{name, p50_ms, p95_ms, max_ms, mean_ms, frames}] time inside each stage's process()
  queues            [{name, policy, size, mean_depth, max_depth, dropped}]
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

WARMUP_FRAMES = 5


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


@dataclass
class StageStats:
    name: str
    p50_ms: float
    p95_ms: float
    max_ms: float
    mean_ms: float
    frames: int


@dataclass
class QueueStats:
    name: str
    policy: str
    size: int
    mean_depth: float
    max_depth: int
    dropped: int


@dataclass
class Report:
    fps: float
    frames_in: int
    frames_out: int
    dropped: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    wall_s: float
    interrupted: bool
    warmup_frames: int
    cpu_cores: float = 0.0
    stages: list[StageStats] = field(default_factory=list)
    queues: list[QueueStats] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def write_json(self, path: str | Path) -> None:
        from stylecam.pipeline.files import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def table(self) -> str:
        rows = [f"{'stage':<16}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'frames':>8}"]
        for s in self.stages:
            rows.append(f"{s.name:<16}{s.p50_ms:>9.1f}{s.p95_ms:>9.1f}{s.max_ms:>9.1f}{s.frames:>8}")
        rows.append(f"{'end-to-end':<16}{self.latency_p50_ms:>9.1f}{self.latency_p95_ms:>9.1f}{self.latency_max_ms:>9.1f}{self.frames_out:>8}")
        queues = "  ".join(f"{q.name} {q.mean_depth:.1f}/{q.size}" + (f" ({q.dropped} dropped)" if q.dropped else "") for q in self.queues)
        rows.append(f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped}; "
                    f"{self.fps:.2f} fps over {self.wall_s:.2f} s, process CPU {self.cpu_cores:.2f} cores"
                    + ("; interrupted" if self.interrupted else ""))
        rows.append(f"queue depth (mean/size): {queues}")
        return "\n".join(rows)


class Recorder:
    """Thread-safe collection of timings while the pipeline runs."""

    def __init__(self, warmup: int = WARMUP_FRAMES) -> None:
        self.warmup = warmup
        self._lock = threading.Lock()
        self._stage_ms: dict[str, list[float]] = {}
        self._stage_seen: dict[str, int] = {}
        self._e2e_ms: list[float] = []
        self.frames_in = 0
        self.frames_out = 0
        self.consumed = 0
        self.t_first_in: float | None = None
        self.t_last_out: float | None = None
        self.cpu_first_in: float | None = None  # process CPU seconds (all threads) at those moments
        self.cpu_last_out: float | None = None
        self.out_times: list[float] = []  # when each frame reached the first sink (fps over time)

    def stage_time(self, name: str, seconds: float, frames: int = 1) -> None:
        with self._lock:
            seen = self._stage_seen.get(name, 0)
            self._stage_seen[name] = seen + frames
            if seen >= self.warmup:
                self._stage_ms.setdefault(name, []).extend([seconds * 1000.0] * frames)

    def frame_in(self, t: float) -> None:
        with self._lock:
            self.frames_in += 1
            if self.t_first_in is None:
                self.t_first_in, self.cpu_first_in = t, time.process_time()

    def frames_consumed(self, n: int) -> None:
        with self._lock:
            self.consumed += n

    def frame_out(self, t_capture: float, t_done: float) -> None:
        with self._lock:
            self.frames_out += 1
            self.t_last_out, self.cpu_last_out = t_done, time.process_time()
            self.out_times.append(t_done)
            if self.frames_out > self.warmup:
                self._e2e_ms.append((t_done - t_capture) * 1000.0)

    def report(self, stage_names: list[str], queues: list, wall_s: float, interrupted: bool) -> Report:
        with self._lock:
            stages = []
            for name in stage_names:
                ms = self._stage_ms.get(name, [])
                stages.append(StageStats(name, _pct(ms, 50), _pct(ms, 95), max(ms, default=0.0),
                                         float(np.mean(ms)) if ms else 0.0, self._stage_seen.get(name, 0)))
            span = (self.t_last_out - self.t_first_in) if self.t_first_in is not None and self.t_last_out else 0.0
            qstats = [QueueStats(q.name, q.policy, q.maxsize, round(q.mean_depth, 2), q.max_depth, q.dropped) for q in queues]
            cpu = (self.cpu_last_out - self.cpu_first_in) if self.cpu_first_in is not None and self.cpu_last_out else 0.0
            return Report(
                fps=self.frames_out / span if span > 0 else 0.0,
                cpu_cores=cpu / span if span > 0 else 0.0,
                frames_in=self.frames_in,
                frames_out=self.frames_out,
                dropped=sum(q.dropped for q in queues) + self.consumed,
                latency_p50_ms=_pct(self._e2e_ms, 50),
                latency_p95_ms=_pct(self._e2e_ms, 95),
                latency_max_ms=max(self._e2e_ms, default=0.0),
                wall_s=wall_s,
                interrupted=interrupted,
                warmup_frames=self.warmup,
                stages=stages,
                queues=qstats,
            )
