"""The engine: one thread per stage, bounded queues between them, EOS, errors, Ctrl-C and timing.

    source ──q──▶ stage ──q──▶ stage ... ──q──▶ sink
                                        └──q──▶ sink      (fan-out: every sink gets every frame)

Rules:
  * End of stream (EOS) follows the last frame through every queue; run() returns once every sink
    has seen it and every stage's close() has run (file trailers are written there).
  * An exception in any thread records (stage, exception), closes every queue (which wakes every
    waiting thread at once) and run() raises PipelineError naming the stage. No thread outlives run().
  * Ctrl-C (SIGINT), SIGTERM and SIGHUP (docker stop, systemd, a closed terminal) while run() is in the
    main thread become end of stream: the source stops, the frames already inside drain to the sinks
    and the output is finalised. A second signal aborts: ctx.error is set at once, also while the sinks
    finish their files, and a sink's close() checks it between steps (an encoder flush, say) and leaves
    nothing half-written. Only a third signal during close() raises KeyboardInterrupt there, for a
    stage that does not look: an exception landing at a random line of close() can skip its clean-up.
  * open() goes source, sinks, stages (a sink's failure costs no model load); every stage whose open()
    was tried gets close(), in the chain's order, even when open() failed half way or a signal arrives
    during the shutdown.
  * A stage with `workers` = N > 1 (its process() must then be thread-safe) gets N threads on one input
    queue: several frames in flight at once, emitted in the order they were taken (a turnstile), so
    frame order is kept. On a 2-core CPU two one-thread inference workers beat one two-thread worker
    (docs/benchmarks.md, "Inference workers").
"""
from __future__ import annotations

import signal
import threading
import time
import traceback
from typing import Any, Callable

from stylecam.pipeline.item import EOS, Frame
from stylecam.pipeline.metrics import WARMUP_FRAMES, Recorder, Report
from stylecam.pipeline.queues import FrameQueue, QueueClosed
from stylecam.pipeline.stage import Context

JOIN_TIMEOUT_S = 1.0


class PipelineError(Exception):
    """A stage failed; `stage` names it and `cause` is the original exception."""

    def __init__(self, stage: str, cause: BaseException, trace: str = "") -> None:
        self.stage, self.cause, self.trace = stage, cause, trace
        super().__init__(f"{stage}: {cause}")


class _Workers:
    """What the threads of one stage share: a lock to take input in turn and a turnstile to emit in turn."""

    def __init__(self, count: int) -> None:
        self.take = threading.Lock()
        self.turn = threading.Condition()
        self.taken = 0  # tickets given out, under `take`
        self.emitted = 0  # tickets whose frames went downstream, under `turn`
        self.running = count


class Pipeline:
    def __init__(
        self,
        source: Any,
        stages: list[Any],
        sinks: list[Any],
        ctx: Context | None = None,
        queue_size: int = 8,
        policy: str = "auto",
        progress: Callable[[int], None] | None = None,
        duration_s: float | None = None,
        warmup: int = WARMUP_FRAMES,
    ) -> None:
        if not sinks:
            raise ValueError("a pipeline needs at least one sink")
        self.source, self.stages, self.sinks = source, list(stages), list(sinks)
        self.ctx = ctx or Context()
        self.queue_size, self.policy = queue_size, policy
        self.progress = progress
        self.duration_s = duration_s
        self.recorder = Recorder(warmup)
        self.queues: list[FrameQueue] = []
        self._stop = threading.Event()  # graceful: source stops, EOS drains
        self._abort = threading.Event()  # hard: queues closed, threads return
        self._error: tuple[str, BaseException, str] | None = None
        self._error_lock = threading.Lock()
        self._sink_counts = [0] * len(self.sinks)
        self.interrupted = False
        self.stop_signal: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM, SIGHUP)
        self._closing = False
        self._aborted_by_signal = False
        self._unique_names()

    def _unique_names(self) -> None:
        seen: dict[str, int] = {}
        for stage in [self.source, *self.stages, *self.sinks]:
            base = getattr(stage, "name", type(stage).__name__.lower())
            seen[base] = seen.get(base, 0) + 1
            stage.name = base if seen[base] == 1 else f"{base}#{seen[base]}"

    # -- public -----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Graceful end of stream, as Ctrl-C does (usable from any thread, e.g. a preview window)."""
        self._stop.set()

    def run(self) -> Report:
        t_start = time.perf_counter()
        opened: list[Any] = []
        threads: list[threading.Thread] = []
        restore = self._install_stop_signals()
        self.ctx.extras["request_stop"] = self.request_stop  # e.g. the preview window's quit key
        try:
            try:
                # The sinks open right after the source (they need only its size and rate) and before the
                # stages: a missing virtual camera or an unwritable output then fails in a moment, not after
                # the networks have loaded (seconds). Close runs in the order of the chain all the same.
                for stage in [self.source, *self.sinks, *self.stages]:
                    opened.append(stage)  # before open(): a half-opened stage still gets close()
                    stage.open(self.ctx)
                threads = self._start_threads()
                self._wait(threads, t_start)
            except BaseException as exc:  # open() failed, or KeyboardInterrupt outside our handler
                self._fail(self._name_of_failing_open(opened), exc)
            finally:
                self._shutdown(threads)
                self._closing = True
                self._close_all(opened)
        finally:
            restore()
            # Not kept past run(): the bound method would tie ctx and the stages into a reference
            # cycle, left to the cyclic GC, which frees PyAV containers and their streams in any order.
            self.ctx.extras.pop("request_stop", None)
        if self._error:
            name, exc, trace = self._error
            raise PipelineError(name, exc, trace)
        names = [s.name for s in [self.source, *self.stages, *self.sinks]]
        report = self.recorder.report(names, self.queues, time.perf_counter() - t_start, self.interrupted)
        report.frames_out = min(self._sink_counts)  # frames that reached every sink
        return report

    # -- threads ----------------------------------------------------------------------------------

    def _make_queue(self, upstream: Any, downstream: Any) -> FrameQueue:
        policy = self.policy if self.policy != "auto" else ("leaky" if self.ctx.live else "block")
        q = FrameQueue(f"{upstream.name}->{downstream.name}", self.queue_size, policy)
        self.queues.append(q)
        return q

    def _start_threads(self) -> list[threading.Thread]:
        chain = [self.source, *self.stages]
        inputs = [self._make_queue(a, b) for a, b in zip(chain, chain[1:])]
        last = chain[-1]
        sink_queues = [self._make_queue(last, sink) for sink in self.sinks]
        outputs = [[q] for q in inputs] + [sink_queues]  # outputs[i] belongs to chain[i]
        # (stage name for errors, thread name, target, args)
        specs: list[tuple[str, str, Callable, tuple]] = [(self.source.name, self.source.name, self._run_source, (outputs[0],))]
        for i, stage in enumerate(self.stages):
            count = max(1, int(getattr(stage, "workers", 1) or 1))  # read after open(): "auto" is resolved there
            group = _Workers(count)
            for w in range(count):
                thread_name = stage.name + (f"/{w}" if count > 1 else "")
                specs.append((stage.name, thread_name, self._run_stage, (stage, inputs[i], outputs[i + 1], group)))
        for i, sink in enumerate(self.sinks):
            specs.append((sink.name, sink.name, self._run_sink, (i, sink, sink_queues[i])))
        threads = []
        for stage_name, thread_name, target, args in specs:
            t = threading.Thread(target=self._guard, args=(stage_name, target, args), name=f"stylecam:{thread_name}", daemon=True)
            t.start()
            threads.append(t)
        return threads

    def _guard(self, name: str, target: Callable, args: tuple) -> None:
        try:
            target(*args)
        except QueueClosed:
            pass  # the pipeline is shutting down because of someone else's error
        except BaseException as exc:
            self._fail(name, exc)

    def _emit(self, queues: list[FrameQueue], item: Any) -> None:
        for q in queues:
            q.put(item)

    def _run_source(self, outputs: list[FrameQueue]) -> None:
        frames = iter(self.source.frames())
        while not (self._stop.is_set() or self._abort.is_set()):
            t0 = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                break
            t1 = time.perf_counter()
            # A live source times its own work (not its wait for the camera clock) in frame.timings.
            enter, leave = frame.timings.setdefault(self.source.name, (t0, t1))
            self.recorder.frame_in(frame.t_capture)
            self.recorder.stage_time(self.source.name, leave - enter)
            self._emit(outputs, frame)
        self._emit(outputs, EOS)

    def _call(self, stage: Any, item: Any, n_in: int) -> list[Frame]:
        t0 = time.perf_counter()
        result = stage.process(item)
        t1 = time.perf_counter()
        out = [] if result is None else result if isinstance(result, list) else [result]
        for frame in out:
            frame.timings[stage.name] = (t0, t1)
        self.recorder.stage_time(stage.name, t1 - t0, max(n_in, 1))
        if len(out) < n_in:
            self.recorder.frames_consumed(n_in - len(out))
        return out

    def _next_batch(self, stage: Any, q_in: FrameQueue, first: Frame) -> tuple[list[Frame], bool]:
        """Up to batch_size frames, or fewer once batch_timeout_ms has passed since the first one."""
        batch, deadline = [first], time.perf_counter() + float(getattr(stage, "batch_timeout_ms", 0.0)) / 1000.0
        while len(batch) < stage.batch_size:
            remaining = deadline - time.perf_counter()
            try:
                item = q_in.get(timeout=max(remaining, 0.0)) if remaining > 0 or len(q_in) else None
            except TimeoutError:
                item = None
            if item is None:
                break
            if item is EOS:
                return batch, True
            batch.append(item)
        return batch, False

    def _run_stage(self, stage: Any, q_in: FrameQueue, outputs: list[FrameQueue], group: _Workers) -> None:
        batched = getattr(stage, "batch_size", 1) > 1
        eos = False
        while not eos:
            with group.take:  # one worker takes (a whole batch) at a time, so tickets follow frame order
                item = q_in.get()
                if item is EOS:
                    q_in.put(EOS)  # the stage's other workers stop on it too
                    break
                if batched:
                    batch, eos = self._next_batch(stage, q_in, item)
                    if eos:
                        q_in.put(EOS)
                ticket, group.taken = group.taken, group.taken + 1
            out = self._call(stage, batch, len(batch)) if batched else self._call(stage, item, 1)
            self._wait_turn(group, ticket)
            try:
                for frame in out:
                    self._emit(outputs, frame)
            finally:
                with group.turn:
                    group.emitted += 1
                    group.turn.notify_all()
        with group.turn:
            group.running -= 1
            last = group.running == 0
        if last:  # every worker has emitted all it took: EOS goes after the last frame
            self._emit(outputs, EOS)

    def _wait_turn(self, group: _Workers, ticket: int) -> None:
        with group.turn:
            while group.emitted != ticket:
                if self._abort.is_set():
                    raise QueueClosed("aborted")
                group.turn.wait(0.1)

    def _run_sink(self, index: int, sink: Any, q_in: FrameQueue) -> None:
        # A sink with `resend_interval_s` (a virtual camera) gets its last frame again whenever no new
        # one came for that long: consumers see a steady camera rate even when inference falls behind.
        resend = getattr(sink, "resend_interval_s", None)
        last = None
        while True:
            try:
                item = q_in.get(timeout=resend if resend and last is not None else None)
            except TimeoutError:
                sink.process(last)
                continue
            if item is EOS:
                self._end_of_stream(sink)
                return
            last = item
            self._call(sink, item, 0)
            self._sink_counts[index] += 1
            if index == 0:
                self.recorder.frame_out(item.t_capture, time.perf_counter())
                if self.progress:
                    self.progress(1)

    @staticmethod
    def _end_of_stream(stage: Any) -> None:
        """Optional hook, called in the stage's own thread after its last frame (e.g. a window that
        must be destroyed by the thread that created it)."""
        hook = getattr(stage, "end_of_stream", None)
        if hook is not None:
            hook()

    # -- supervision ------------------------------------------------------------------------------

    def _fail(self, name: str, exc: BaseException) -> None:
        with self._error_lock:
            if self._error is None:
                trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                self._error = (name, exc, trace)
            if self._closing:  # close() is under way: the stages being closed see the failure now
                self.ctx.error = self._error[1]
        self._abort.set()
        for q in self.queues:
            q.close()

    def _name_of_failing_open(self, opened: list[Any]) -> str:
        chain = [self.source, *self.stages, *self.sinks]
        return opened[-1].name if opened and len(opened) <= len(chain) and not self.queues else "pipeline"

    def _wait(self, threads: list[threading.Thread], t_start: float) -> None:
        # Joining with a timeout keeps the main thread responsive to signals.
        while any(t.is_alive() for t in threads) and not self._abort.is_set():
            for t in threads:
                t.join(0.05)
            if self.duration_s is not None and time.perf_counter() - t_start > self.duration_s:
                self._stop.set()

    def _shutdown(self, threads: list[threading.Thread]) -> None:
        deadline = time.perf_counter() + JOIN_TIMEOUT_S
        for t in threads:
            try:
                t.join(max(0.0, deadline - time.perf_counter()))
            except KeyboardInterrupt:  # a signal outside our handler: still join the rest, then close
                self._fail("interrupt", KeyboardInterrupt("interrupted twice: aborted"))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:  # a stage is stuck inside process(); it is a daemon thread and cannot block exit
            self.ctx.bus.warning("engine", f"stage threads still busy after {JOIN_TIMEOUT_S:.0f} s: {', '.join(stuck)}")

    def _close_all(self, opened: list[Any]) -> None:
        self.ctx.error = self._error[1] if self._error else None
        self.ctx.extras["stopped_early"] = self._stop.is_set()  # Ctrl-C, --duration or request_stop()
        chain = [self.source, *self.stages, *self.sinks]
        for stage in sorted(opened, key=chain.index):
            try:
                stage.close()
            except BaseException as exc:
                self._fail(stage.name, exc)
                self.ctx.error = self._error[1] if self._error else exc

    def _install_stop_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        numbers = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
        previous = {n: signal.getsignal(n) for n in numbers}

        def on_signal(signum: int, frame: Any) -> None:
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            if self.interrupted or self._abort.is_set():
                forced = self._closing and self._abort.is_set() and self._aborted_by_signal
                self._aborted_by_signal = True
                self._fail("interrupt", KeyboardInterrupt("interrupted twice: aborted"))
                if forced:  # a stage's close() ignored the abort: interrupt it where it is
                    raise KeyboardInterrupt("interrupted three times: aborted")
                if self._closing:
                    self.ctx.bus.notice("engine", f"aborting ({name}): the unfinished output is removed "
                                                  "(again to force)")
                return
            self.interrupted, self.stop_signal = True, signum
            self._stop.set()
            self.ctx.bus.notice("engine", f"stopping ({name}): finishing the output (Ctrl-C again to abort)")

        for n in numbers:
            signal.signal(n, on_signal)

        def restore() -> None:
            for n, handler in previous.items():
                signal.signal(n, handler)

        return restore
