"""--keep-colors: the stylised picture's luminance with the original's chroma."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from stylecam.stages.controls import LiveControls
from stylecam.stages.transforms import keep_colors

ROOT = Path(__file__).resolve().parent.parent


def ycrcb(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(int)


def check_luma_and_chroma(out, styled, original, tolerance, min_inside=0.9):
    # Where the combination leaves the RGB gamut the result is clipped and both drift; compare the rest.
    inside = ((out > 0) & (out < 255)).all(axis=2)
    assert inside.mean() > min_inside
    got, want_luma, want_chroma = ycrcb(out)[inside], ycrcb(styled)[inside], ycrcb(original)[inside]
    assert np.abs(got[:, 0] - want_luma[:, 0]).max() <= tolerance
    assert np.abs(got[:, 1:] - want_chroma[:, 1:]).max() <= tolerance


def test_luminance_from_the_stylised_picture_chroma_from_the_original():
    rng = np.random.default_rng(0)
    styled = rng.integers(40, 216, (48, 64, 3), dtype=np.uint8)
    original = np.clip(rng.normal(128, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
    out = keep_colors(styled, original)
    check_luma_and_chroma(out, styled, original, tolerance=2)  # uint8 rounding of two conversions
    assert np.abs(ycrcb(out)[..., 1:] - ycrcb(styled)[..., 1:]).max() > 20  # the colours really changed


def test_keep_colors_through_the_command_line(tmp_path):
    rng = np.random.default_rng(1)
    photo = np.clip(rng.normal(128, 30, (48, 64, 3)), 0, 255).astype(np.uint8)
    photo = cv2.GaussianBlur(photo, (5, 5), 0)
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    for flag, name in (("--no-keep-colors", "styled.png"), ("--keep-colors", "kept.png")):
        result = subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", "transcode", str(tmp_path / "in.png"),
                                 str(tmp_path / name), "--style", "random", flag, "--no-progress"],
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr
    styled = cv2.cvtColor(cv2.imread(str(tmp_path / "styled.png")), cv2.COLOR_BGR2RGB)
    kept = cv2.cvtColor(cv2.imread(str(tmp_path / "kept.png")), cv2.COLOR_BGR2RGB)
    # the untrained network's output is often near black or white, where most colours leave the gamut
    check_luma_and_chroma(kept, styled, photo, tolerance=2, min_inside=0.2)
    assert np.abs(kept.astype(int) - styled.astype(int)).max() > 20


def test_the_c_key_toggles_it():
    controls = LiveControls()
    assert controls.handle_key("c") == "original colours: on" and controls.keep_colors
    assert controls.handle_key("c") == "original colours: off" and not controls.keep_colors
