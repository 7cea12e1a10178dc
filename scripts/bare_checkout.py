"""Make `import stylecam.*` work from a checkout that was never installed (a lent GPU machine gets the
working tree only, and nothing can be installed there from the network): map the design card's folders
to stylecam.pipeline, .stages, .models and .train, as setup.cfg does for an install."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_importable() -> None:
    try:
        import stylecam.pipeline  # noqa: F401  (installed, or already mapped)
        return
    except ImportError:
        pass
    alias = Path(tempfile.mkdtemp(prefix="stylecam-checkout-")) / "stylecam"
    alias.mkdir()
    for folder in ("pipeline", "stages", "models", "train"):
        (alias / folder).symlink_to(ROOT / folder, target_is_directory=True)
    sys.path.insert(0, str(alias.parent))
