"""The GPU path, as far as a CPU can run it: the same autocast graphs and casts a GPU runs (with the
CPU's kernels), the fp32 Gram matrix, and benchmarks/gpu_check.py's CPU part."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylecam.models.styles import network_for
from stylecam.pipeline.item import Frame
from stylecam.pipeline.stage import Context, StageError
from stylecam.models.runtimes import pick_precision
from stylecam.stages.inference import Inference
from stylecam.train.losses import gram, style_loss

ROOT = Path(__file__).resolve().parent.parent


def test_gram_stays_fp32_under_autocast_where_fp16_would_overflow():
    features = torch.full((1, 8, 128, 128), 300.0)  # the HED VGG's activations at 256 px are this large
    assert torch.isinf((features.half().reshape(1, 8, -1) @ features.half().reshape(1, 8, -1).transpose(1, 2))).any()
    for dtype in (torch.float16, torch.bfloat16):
        with torch.autocast("cpu", dtype=dtype):
            g = gram(features.to(dtype))
            loss = style_loss({"relu1_2": features.to(dtype)}, {"relu1_2": g[:1] * 0.5})
        assert g.dtype == torch.float32 and torch.isfinite(g).all() and torch.isfinite(loss)
        torch.testing.assert_close(g, torch.full_like(g, 300.0 ** 2 / 8), rtol=1e-4, atol=0)


def run_inference(style: str, precision: str, frames: list[torch.Tensor]) -> torch.Tensor:
    stage = Inference(style=style, backend="torch", device="cpu", precision=precision)
    stage.open(Context(device="cpu"))
    try:
        return torch.stack([f.data for f in stage.process([Frame(x.clone(), i) for i, x in enumerate(frames)])])
    finally:
        stage.close()


@pytest.mark.parametrize("style", ["starry_night-fast", "starry_night"])
def test_fp16_autocast_matches_fp32_and_stays_finite_on_flat_frames(style):
    generator = torch.Generator().manual_seed(0)
    frames = [torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8, generator=generator),
              torch.full((3, 64, 96), 128, dtype=torch.uint8), torch.zeros((3, 64, 96), dtype=torch.uint8)]
    reference = run_inference(style, "fp32", frames)
    try:
        half = run_inference(style, "fp16", frames)
    except RuntimeError as exc:  # an older torch without CPU fp16 autocast
        pytest.skip(f"fp16 autocast not available on this CPU build: {exc}")
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert (half - reference).abs().max().item() <= 3 / 255
    bf16 = run_inference(style, "bf16", frames)
    assert torch.isfinite(bf16).all() and (bf16 - reference).abs().max().item() <= 12 / 255


def test_precision_and_network_defaults_per_device():
    assert pick_precision("auto", torch.device("cpu")) == "fp32"
    assert pick_precision("auto", torch.device("cuda")) == "fp16" == pick_precision("auto", torch.device("mps"))
    assert pick_precision("bf16", torch.device("cuda")) == "bf16"
    assert (network_for("cpu"), network_for("mps"), network_for("cuda")) == ("fast", "half", "full")
    with pytest.raises(StageError, match="fp32"):
        Inference(backend="onnxruntime", precision="fp16").open(Context(device="cpu"))
    with pytest.raises(StageError, match="precision"):
        Inference(precision="int4")


@pytest.mark.slow
def test_gpu_check_runs_its_cpu_part_and_says_what_it_skips(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--json", str(tmp_path / "g.json")],
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run benchmarks/gpu_check.py itself")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIP (no CUDA): 30-step CUDA training" in result.stdout
    assert "PASS fp16 autocast on cpu vs CPU fp32" in result.stdout and "0 failed" in result.stdout
