"""--mask: only the person (or only the room) stylised, by the real segmentation model on a real frame."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError
from stylecam.stages.controls import LiveControls
from stylecam.stages.mask import Mask, PersonSegmenter, weights

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def person_frame() -> np.ndarray:
    """A webcam frame of a man against a wall: the input tile of a committed gallery row (docs/gallery)."""
    row = cv2.cvtColor(cv2.imread(str(ROOT / "docs" / "gallery" / "starry_night.jpg")), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(cv2.resize(row[:, :356], (640, 360), interpolation=cv2.INTER_CUBIC))


def test_the_model_finds_the_person(person_frame):
    p = PersonSegmenter()(person_frame)
    assert p.shape == (144, 256) and 0.0 <= p.min() and p.max() <= 1.0
    person = p > 0.5
    assert 0.1 < person.mean() < 0.5  # a man in the middle of the frame, a wall around him
    assert not person[:, :40].any() and person[-10:, 110:150].all()  # wall at the left edge; his chest, bottom centre


@pytest.mark.parametrize("target", ["person", "background"])
def test_the_masked_out_region_is_the_input_exactly(person_frame, target):
    styled = np.full_like(person_frame, (200, 40, 90))
    stage = Mask(target=target)
    stage.open(Context())
    try:
        out = stage.process(Frame(styled.copy(), 0, original=person_frame)).data
        mask = stage.segmenter(person_frame)
        w = weights(mask, target, (640, 360), stage.feather)
    finally:
        stage.close()
    kept, stylised = w == 0.0, w == 1.0
    assert kept.mean() > 0.1 and stylised.mean() > 0.1  # both regions are real
    assert np.array_equal(out[kept], person_frame[kept])  # untouched: the original's pixels
    assert np.array_equal(out[stylised], styled[stylised])
    expected = w[..., None] * styled + (1 - w[..., None]) * person_frame
    assert np.abs(out.astype(float) - expected).max() <= 1.0  # the feathered edge: a weighted blend
    # person and background are each other's complement (on one mask: a second segmenter's run may differ in
    # the last bits of its probabilities, with its own thread layout, and so in the pixels at the threshold)
    other = weights(mask, "background" if target == "person" else "person", (640, 360), stage.feather)
    assert np.array_equal(other == 1.0, kept)


def test_the_s_key_cycles_person_background_everything(person_frame):
    controls = LiveControls()
    ctx = Context()
    ctx.extras["controls"] = controls
    stage = Mask(target="person")
    stage.open(ctx)
    styled = np.zeros_like(person_frame)
    results = []
    for _ in range(3):
        results.append(stage.process(Frame(styled.copy(), 0, original=person_frame)).data)
        controls.handle_key("s")
    stage.close()
    assert controls.mask == "person"  # round the cycle
    person, background, everything = results
    assert np.array_equal(everything, styled)  # nothing masked: the stylised frame as it came
    assert (person == 0).mean() < (everything == 0).mean() and (background == 0).mean() < (everything == 0).mean()
    assert not np.array_equal(person, background)


def test_a_pipeline_with_the_mask_keeps_every_frame():
    from stylecam.pipeline.app.build import build_pipeline

    pipeline = build_pipeline({"source": {"type": "testsrc", "width": 128, "height": 72, "frames": 12},
                               "stages": [{"type": "preprocess"}, {"type": "inference", "style": "random", "backend": "torch"},
                                          {"type": "postprocess"}, {"type": "mask", "target": "background"}],
                               "sinks": [{"type": "null"}]}, device="cpu")
    report = pipeline.run()
    assert report.frames_out == 12 and report.dropped == 0


def test_bad_mask_settings_say_what_is_wrong(tmp_path):
    with pytest.raises(StageError, match="person or background"):
        Mask(target="cat")
    with pytest.raises(StageError, match="model not found"):
        Mask(model=str(tmp_path / "none.onnx")).open(Context())


def test_live_adds_the_mask_after_postprocess():
    from stylecam.pipeline.app.live import live_spec

    spec = live_spec(("starry_night",), None, {"type": "testsrc"}, vcam=None, preview=True, size=None, out_size=None,
                     image_size=None, fps=None, strength=1.0, keep_colors=False, mirror=False, network="auto", backend="auto",
                     workers=0, threads=0, queue_size=2, record=None, mask="person")
    assert [s["type"] for s in spec["stages"]] == ["preprocess", "inference", "postprocess", "mask"]


def test_the_mask_reserves_its_cpu_with_the_live_size_controller():
    """Opening after inference has seeded the live size, the mask times one frame at the camera's size and
    takes it off the start (stages/adaptive.py reserve), so the stream does not start too large."""
    from stylecam.stages.adaptive import SizeController

    controller = SizeController(fps=30, workers=2, largest=480, cores=2, max_cores=1)
    controller.seed(0.005, 360)  # inference alone would start at full size
    ctx = Context(width=640, height=480)
    ctx.extras["size_controller"] = controller
    stage = Mask("person")
    stage.open(ctx)
    stage.close()
    assert 0 < controller.reserved_s < 1 / 30  # a few ms: the model at its small size, the blend at 640x480
