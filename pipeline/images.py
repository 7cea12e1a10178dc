"""Still-image files: which suffixes count as images, and reading one as RGB. Shared by the image source
and sink, the command line's checks and the trainer; cv2 is imported only to read, so the checks made
before anything heavy loads can use the suffixes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_rgb(path: str | Path) -> np.ndarray | None:
    """RGB uint8 HxWx3, or None if the file is not a readable image (cv2 does not raise)."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
