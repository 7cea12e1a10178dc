"""The adaptive inference size of live mode: down when frames would drop, up when there is room, steady
on a steady load."""
import random
import time

from stylecam.pipeline.engine import Pipeline
from stylecam.pipeline.stage import Context
from stylecam.stages.adaptive import SizeController
from stylecam.stages.inference import Inference
from stylecam.stages.sources import TestPatternSource
from stylecam.stages.transforms import Postprocess, Preprocess


def feed(controller, frames, ms_at_480, rng):
    """Inference time grows with the pixel count; +-10 % noise, as on a shared machine."""
    for _ in range(frames):
        side = controller.short_side
        controller.observe(ms_at_480 / 1000 * (side / 480) ** 2 * rng.uniform(0.9, 1.1), side)


def test_steps_down_under_a_slow_network_and_back_up_when_it_speeds_up_without_pumping():
    rng = random.Random(0)
    controller = SizeController(fps=30, workers=2, largest=480)  # budget 2 x 0.85 / 30 = 57 ms
    assert controller.short_side == 480
    feed(controller, 300, ms_at_480=80, rng=rng)  # too slow at 480 and at 432 (65 ms); 384 takes 51 ms
    assert controller.short_side == 384
    changes = len(controller.changes)
    feed(controller, 600, ms_at_480=80, rng=rng)  # a steady load: no pumping
    assert len(controller.changes) == changes
    feed(controller, 600, ms_at_480=25, rng=rng)  # the neighbour went away
    assert controller.short_side == 480
    changes = len(controller.changes)
    feed(controller, 600, ms_at_480=25, rng=rng)
    assert len(controller.changes) == changes
    assert [s for _, s in controller.changes] == [480, 384, 432, 480]  # down in one step, up one rung at a time


def test_a_load_at_the_edge_of_the_budget_does_not_oscillate():
    rng = random.Random(1)
    controller = SizeController(fps=30, workers=1, largest=480)  # budget 28 ms
    feed(controller, 2000, ms_at_480=30, rng=rng)  # 480 is just over; 432 (24 ms) fits
    assert [s for _, s in controller.changes] == [480, 432]


def test_a_step_up_that_fails_waits_longer_before_it_is_tried_again():
    """A cost that the pixel count does not predict (the next rung dearer than its area: cache sizes, a mask's
    CPU counted as the rest's) would pump: up, over budget, down, again every few seconds. Each failed try of
    a rung doubles the calm it needs next time."""
    rng = random.Random(2)
    controller = SizeController(fps=30, workers=1, largest=480)  # budget 28 ms; room to go up: 0.7 x 28 ms
    tries = []
    for frame in range(3600):  # two minutes at 30 fps; 432 takes 15 ms, so 480 predicts 18.5 ms, but takes 32
        side = controller.short_side
        ms = 32.0 if side == 480 else 15.0 * (side / 432) ** 2
        controller.observe(ms / 1000 * rng.uniform(0.97, 1.03), side)
        if controller.short_side == 480 and side != 480:
            tries.append(frame)
    assert controller.short_side == 432 and 3 <= len(tries) <= 7, tries  # without backoff: 43 tries
    waits = [b - a for a, b in zip(tries, tries[1:])]
    assert all(later > 1.5 * earlier for earlier, later in zip(waits, waits[1:])), waits  # ever longer


class SlowInference(Inference):
    """The real inference stage with the time of a CPU 1 ms per 1000 pixels slower than this one:
    the adaptive size must not depend on how fast the machine running the test is."""

    def _run(self, net, x):
        time.sleep(x.shape[-1] * x.shape[-2] / 1e6)
        return super()._run(net, x)


def test_live_pipeline_follows_the_controller():
    source = TestPatternSource(320, 240, fps=30, duration=4, live=True)
    pre = Preprocess(adaptive=True)
    seen = []

    class Sizes:
        name = "sizes"

        def open(self, ctx):
            pass

        def process(self, frame):
            seen.append(frame.data.shape[:2])

        def close(self):
            pass

    inference = SlowInference("random", workers=1, threads=1, backend="torch")
    report = Pipeline(source, [pre, inference, Postprocess()], [Sizes()], Context(device="cpu"), queue_size=2).run()
    sides = [s for _, s in pre.controller.changes]
    # timed at open, the slow network starts below the camera's size (no full-size frames dropped first)
    assert sides[0] < 240 and sides == sorted(sides, reverse=True)
    # the added time alone is over the 28 ms budget (one worker at 30 fps) down to a short side of 160
    # (34 ms there, 49 ms at 192): every rung above 160 must have been left
    assert sides[-1] <= 160
    assert all(shape == (240, 320) for shape in seen)  # output keeps the camera's size
    assert report.frames_out > 0


def test_the_rest_of_the_pipelines_cpu_comes_off_the_budget():
    """A 1080p camera's resizes and conversions take CPU the inference workers then lack: the controller
    counts the process's CPU beside inference's own (a clock stands in for the process's CPU time here)."""
    clock = [0.0]
    controller = SizeController(fps=30, workers=2, largest=480, cores=2, cpu_clock=lambda: clock[0])
    assert abs(controller.budget_s - 2 * 0.85 / 30) < 1e-9
    for _ in range(200):  # inference 40 ms of CPU, the rest 10 ms per frame: 57 - 10 ms still fits 40 ms
        clock[0] += 0.040 + 0.010
        controller.observe(0.040, controller.short_side, 0.040)
    assert controller.short_side == 480 and abs(controller.other_cpu_s - 0.010) < 1e-6
    for _ in range(200):  # the rest grows to 30 ms per frame: 57 - 30 = 27 ms, so 40 ms no longer fits
        clock[0] += 0.040 * (controller.short_side / 480) ** 2 + 0.030
        controller.observe(0.040 * (controller.short_side / 480) ** 2, controller.short_side,
                           0.040 * (controller.short_side / 480) ** 2)
    assert controller.short_side < 480
    assert 0.040 * (controller.short_side / 480) ** 2 <= controller.budget_s


def test_seed_starts_at_the_largest_rung_predicted_to_fit():
    controller = SizeController(fps=30, workers=2, largest=1080, cores=2)
    controller.seed(0.020, 360)  # 20 ms at 360: 384 would take 23 ms, 432 29 ms (half the 57 ms budget: 28 ms)
    assert controller.short_side == 384 and [s for _, s in controller.changes] == [384]


def test_a_stage_that_reserves_cpu_at_open_lowers_the_start():
    """The person mask opens after inference has seeded the size; its own CPU per frame comes off the start."""
    controller = SizeController(fps=30, workers=2, largest=480, cores=2, max_cores=1)
    controller.seed(0.010, 360)  # the cap's start budget: 0.7 / 30 = 23 ms; 480 takes 17.8 ms
    assert controller.short_side == 480
    controller.reserve(0.008)  # 15 ms left: 432 takes 14.4 ms
    assert controller.short_side == 432 and [s for _, s in controller.changes] == [432]


def test_the_size_keeps_the_process_within_max_cores():
    """Live mode's default cap is half the machine: on a slower CPU the size steps down rather than take
    the meeting app's core, even when two workers could keep up."""
    clock = [0.0]
    free = SizeController(fps=30, workers=2, largest=480, cores=2, cpu_clock=lambda: clock[0])
    capped = SizeController(fps=30, workers=2, largest=480, cores=2, cpu_clock=lambda: clock[0], max_cores=1)
    for controller in (free, capped):
        for _ in range(400):  # 32 ms of inference CPU + 5 ms for the rest a frame: 1.1 cores at 30 fps
            side = controller.short_side
            ms = 0.032 * (side / 480) ** 2
            clock[0] += ms + 0.005
            controller.observe(ms, side, ms)
    assert free.short_side == 480  # two workers on two cores: 57 ms a frame would do
    assert capped.short_side == 432  # one core: 1 / 30 - 5 ms = 28 ms for inference; 432 takes 26 ms
    assert [s for _, s in capped.changes] == [480, 432]  # and stays there: no pumping at the cap
    assert 30 * (0.032 * (432 / 480) ** 2 + 0.005) <= 1.0
