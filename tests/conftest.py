import sys
import threading
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_style(tmp_path_factory) -> Path:
    """A small network (made here, untrained) saved in the project's checkpoint format."""
    from stylecam.models.checkpoint import save_checkpoint
    from stylecam.models.transformer_net import TransformerNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("styles") / "tiny.safetensors"
    save_checkpoint(path, TransformerNet(width=4, blocks=1), style="tiny", training={"steps": 0})
    return path


@pytest.fixture(autouse=True)
def no_thread_outlives_the_test():
    """Every pipeline thread is named stylecam:*; none may be alive after a test."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("stylecam:")]
    assert not left, f"threads outlived run(): {left}"
