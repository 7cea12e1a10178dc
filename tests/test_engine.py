"""The engine with real threads and queues: EOS, errors, drops, batching, fan-out, metrics."""
import os
import signal
import threading
import time

import pytest

from stylecam.pipeline.engine import Pipeline, PipelineError
from stylecam.stages.sinks import NullSink
from stylecam.stages.sources import TestPatternSource


class CollectSink:
    """Keeps the sequence numbers it receives; optionally slow, like a heavy encoder."""

    name = "collect"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.seqs, self.closed = delay, [], False

    def open(self, ctx):
        pass

    def process(self, frame):
        if self.delay:
            time.sleep(self.delay)
        self.seqs.append(frame.seq)

    def close(self):
        self.closed = True


class FailAt:
    name = "boom"

    def __init__(self, at: int) -> None:
        self.at = at

    def open(self, ctx):
        pass

    def process(self, frame):
        if frame.seq == self.at:
            raise ValueError(f"bad frame {frame.seq}")
        return frame

    def close(self):
        pass


class BatchRecorder:
    name = "batcher"

    def __init__(self, batch_size: int, timeout_ms: float) -> None:
        self.batch_size, self.batch_timeout_ms, self.sizes = batch_size, timeout_ms, []

    def open(self, ctx):
        pass

    def process(self, frames):
        self.sizes.append(len(frames))
        return frames

    def close(self):
        pass


class DropOdd:
    name = "drop_odd"

    def open(self, ctx):
        pass

    def process(self, frame):
        return frame if frame.seq % 2 == 0 else None

    def close(self):
        pass


def source(n=40, fps=1000.0, live=False, w=32, h=24):
    return TestPatternSource(width=w, height=h, fps=fps, frames=n, live=live)


def test_eos_reaches_every_sink_and_sinks_close_before_run_returns():
    a, b = CollectSink(), CollectSink()
    report = Pipeline(source(30), [], [a, b]).run()
    assert a.seqs == list(range(30)) and b.seqs == list(range(30))  # fan-out: both get every frame
    assert a.closed and b.closed
    assert report.frames_in == report.frames_out == 30 and report.dropped == 0


@pytest.mark.parametrize("where", ["stage", "sink"])
def test_an_exception_stops_everything_and_names_the_stage(where):
    sink = CollectSink()
    failing = FailAt(5)
    if where == "sink":
        failing.process = lambda frame: (_ for _ in ()).throw(ValueError("disk full")) if frame.seq == 5 else None
        pipeline = Pipeline(source(10_000, fps=200, live=True), [], [failing])
    else:
        pipeline = Pipeline(source(10_000, fps=200, live=True), [failing], [sink])
    t0 = time.perf_counter()
    with pytest.raises(PipelineError) as info:
        pipeline.run()
    assert time.perf_counter() - t0 < 10  # frame 5 comes at ~25 ms; without the stop the run lasts 50 s
    assert info.value.stage == "boom"
    assert "boom" in str(info.value)
    assert not [t for t in threading.enumerate() if t.name.startswith("stylecam:")]


def test_error_in_open_names_the_stage_and_closes_what_was_opened():
    class BadOpen(CollectSink):
        name = "badopen"

        def open(self, ctx):
            raise OSError("no such device")

    first = CollectSink()
    with pytest.raises(PipelineError, match="badopen: no such device"):
        Pipeline(source(5), [], [first, BadOpen()]).run()
    assert first.closed



def test_sinks_open_before_the_stages_so_a_missing_device_costs_no_model_load():
    events = []

    class SlowToOpen(FailAt):  # stands for the inference stage, whose open() loads networks for seconds
        name = "inference"

        def open(self, ctx):
            events.append("open inference")

        def close(self):
            events.append("close inference")

    class NoDevice(CollectSink):
        name = "vcam"

        def open(self, ctx):
            assert ctx.width == 32 and ctx.height == 24  # the source has opened: its size is known
            raise OSError("no v4l2 loopback device")

        def close(self):
            events.append("close vcam")

    with pytest.raises(PipelineError, match="vcam: no v4l2 loopback device"):
        Pipeline(source(5), [SlowToOpen(10)], [NoDevice()]).run()
    assert events == ["close vcam"]  # the stage never opened; the sink that failed half way was closed

    events.clear()
    sink = CollectSink()
    sink.close = lambda: events.append("close sink")
    Pipeline(source(5), [SlowToOpen(10)], [sink]).run()
    assert events == ["open inference", "close inference", "close sink"]  # close runs down the chain

def test_leaky_queue_behind_a_live_source_drops_the_oldest_frames():
    sink = CollectSink(delay=0.02)  # 50 fps consumer behind a 400 fps camera
    report = Pipeline(source(200, fps=400, live=True), [], [sink], queue_size=4).run()
    assert report.dropped > 0
    assert report.frames_in == 200 and report.frames_out == len(sink.seqs) < 200
    assert sink.seqs == sorted(sink.seqs)
    assert sink.seqs[-1] == 199  # drop-oldest: the newest frame always gets through
    assert report.queues[0].policy == "leaky"


def test_block_queue_behind_a_file_like_source_loses_nothing():
    sink = CollectSink(delay=0.005)
    report = Pipeline(source(100, live=False), [], [sink], queue_size=2).run()
    assert sink.seqs == list(range(100))
    assert report.dropped == 0 and report.queues[0].policy == "block"


def test_batching_fills_batches_from_a_fast_source():
    batcher = BatchRecorder(4, timeout_ms=500)
    Pipeline(source(18), [batcher], [CollectSink()], queue_size=16).run()
    assert sum(batcher.sizes) == 18
    assert max(batcher.sizes) == 4 and batcher.sizes.count(4) >= 3


def test_batch_timeout_sends_partial_batches_when_frames_come_slowly():
    batcher = BatchRecorder(8, timeout_ms=1)
    sink = CollectSink()
    Pipeline(source(10, fps=50, live=True), [batcher], [sink]).run()
    assert sum(batcher.sizes) == 10 and max(batcher.sizes) < 8
    assert sink.seqs == list(range(10))


def test_frames_consumed_by_a_stage_are_counted_as_dropped():
    sink = CollectSink()
    report = Pipeline(source(10), [DropOdd()], [sink]).run()
    assert sink.seqs == [0, 2, 4, 6, 8] and report.dropped == 5


def test_metrics_cover_every_stage_and_end_to_end():
    report = Pipeline(source(30), [BatchRecorder(2, 5)], [NullSink()]).run()
    data = report.to_dict()
    for key in ("fps", "frames_in", "frames_out", "dropped", "latency_p50_ms", "latency_p95_ms", "stages"):
        assert key in data
    assert [s["name"] for s in data["stages"]] == ["source", "batcher", "null"]
    assert all({"name", "p50_ms", "p95_ms", "max_ms"} <= set(s) for s in data["stages"])
    assert data["latency_p95_ms"] >= data["latency_p50_ms"] > 0
    assert data["fps"] > 0
    assert "end-to-end" in report.table()


def test_sigint_becomes_end_of_stream():
    sink = CollectSink()
    pipeline = Pipeline(source(100_000, fps=200, live=True), [], [sink])
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    report = pipeline.run()  # must return normally, not raise KeyboardInterrupt
    assert report.interrupted
    assert 0 < len(sink.seqs) < 100_000 and sink.seqs == list(range(len(sink.seqs)))
    assert sink.closed


def test_duration_stops_a_live_pipeline():
    sink = CollectSink()
    report = Pipeline(source(100_000, fps=100, live=True), [], [sink], duration_s=0.3).run()
    assert 5 < report.frames_out < 100 and not report.interrupted


def test_stage_names_are_made_unique():
    a, b = CollectSink(), CollectSink()
    Pipeline(source(3), [], [a, b]).run()
    assert (a.name, b.name) == ("collect", "collect#2")


class SlowParallel:
    """A thread-safe stage that takes a random time per frame and records how many run at once."""

    name = "parallel"

    def __init__(self, workers: int, batch_size: int = 1, fail_at: int | None = None) -> None:
        self.workers, self.batch_size, self.batch_timeout_ms, self.fail_at = workers, batch_size, 20.0, fail_at
        self.active = self.most_active = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        self.rng = __import__("random").Random(0)

    def open(self, ctx):
        pass

    def process(self, item):
        frames = item if isinstance(item, list) else [item]
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.threads.add(threading.current_thread().name)
            delay = self.rng.uniform(0.0, 0.01)
        time.sleep(delay)  # later frames often finish first: the engine must restore the order
        with self.lock:
            self.active -= 1
        if self.fail_at is not None and frames[0].seq >= self.fail_at:
            raise ValueError("worker failed")
        return item

    def close(self):
        pass


@pytest.mark.parametrize("batch_size", [1, 3])
def test_workers_run_frames_in_parallel_and_keep_their_order(batch_size):
    stage, sink = SlowParallel(workers=3, batch_size=batch_size), CollectSink()
    report = Pipeline(source(60), [stage], [sink], queue_size=4).run()
    assert sink.seqs == list(range(60))  # every frame, in order, EOS after the last one
    assert stage.most_active >= 2 and len(stage.threads) == 3
    assert report.frames_out == 60 and report.dropped == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("stylecam:")]


def test_a_failing_worker_stops_the_pipeline_and_its_siblings():
    stage = SlowParallel(workers=2, fail_at=10)
    with pytest.raises(PipelineError, match="parallel: worker failed"):
        Pipeline(source(10_000, fps=500, live=True), [stage], [CollectSink()]).run()
    assert not [t for t in threading.enumerate() if t.name.startswith("stylecam:")]


def test_workers_behind_a_live_source_drop_old_frames_and_keep_order():
    stage, sink = SlowParallel(workers=2), CollectSink(delay=0.004)
    report = Pipeline(source(300, fps=1000, live=True), [stage], [sink], queue_size=2).run()
    assert report.dropped > 0 and sink.seqs == sorted(sink.seqs) and sink.seqs[-1] == 299
