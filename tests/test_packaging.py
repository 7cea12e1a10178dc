"""The built wheel: what it contains, and that it runs installed (no -e) from a folder outside the repo."""
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.media import decode_video

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools would pack stale files left there
    # --no-build-isolation: the test venv's setuptools builds it, so no index is needed
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("stylecam-*.whl")
    return path


def test_wheel_installs_one_top_level_name_with_its_data(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {n.split("/")[0] for n in names} == {"stylecam", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {n.split("/")[1] for n in names if n.startswith("stylecam/")} == {"pipeline", "stages", "models", "train"}
    assert "stylecam/pipeline/pipeline.yaml" in names
    assert "stylecam/models/zoo/starry_night-fast.safetensors" in names and "stylecam/models/zoo/starry_night-fast.md" in names
    assert not any(n.startswith("stylecam/__init__") for n in names)  # a namespace package
    assert not any("-plain" in n for n in names)  # evaluation-only twins stay in the repository
    assert wheel.stat().st_size <= 60 * 2**20
    assert "stylecam = stylecam.pipeline.app.cli:main" in entry_points
    assert "Requires-Dist: av>=15.0" in metadata and "Requires-Dist: torch>=2.5" in metadata


def test_installed_wheel_transcodes_from_any_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    # The dependencies (torch and the rest, ~1 GB) come from this test run's environment through a .pth
    # file instead of a second download: a .pth adds the folder to sys.path but runs none of the .pth
    # files inside it, so the editable stylecam installed there stays out of sight.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert install.returncode == 0, install.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import stylecam.pipeline.app.cli as m; print(m.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True)
    assert where.stdout.strip().startswith(site), where  # the wheel's copy, not the repository
    for generic in ("models", "pipeline", "stages", "train"):
        probe = subprocess.run([str(python), "-c", f"import {generic}"], cwd=elsewhere, capture_output=True, text=True)
        assert probe.returncode != 0 and "No module named" in probe.stderr, (generic, probe.stderr)

    run = subprocess.run([str(venv / "bin" / "stylecam"), "transcode", "testsrc", "out.mp4", "--style", "starry_night",
                          "--image-size", "64", "--no-progress"], cwd=elsewhere, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(decode_video(elsewhere / "out.mp4")) == 120  # pipeline.yaml's test source: 4 s at 30 fps
