"""Training images from a folder: random resized crop + horizontal flip; unreadable files skipped and counted."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from stylecam.pipeline.images import IMAGE_SUFFIXES, read_rgb


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float 3xHxW in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255)


class ImageFolder(Dataset):
    """Decodes every image once up front (the sets here are small) and keeps only readable ones."""

    def __init__(self, root: str | Path, size: int, seed: int = 0) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"content folder not found: {root}")
        self.size = size
        self.images: list[np.ndarray] = []
        self.skipped: list[str] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            img = read_rgb(path) if path.suffix.lower() in IMAGE_SUFFIXES else None
            if img is None or min(img.shape[:2]) < 8:
                self.skipped.append(path.name)
            else:
                self.images.append(img)
        if not self.images:
            raise ValueError(f"no readable images in {root} ({len(self.skipped)} files skipped)")
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self.images[index]
        h, w = img.shape[:2]
        # Random resized crop: 30-100% of the area, aspect 3/4..4/3 (torchvision's defaults, minus extremes).
        for _ in range(10):
            area = h * w * self.rng.uniform(0.3, 1.0)
            aspect = np.exp(self.rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            cw, ch = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                break
        else:
            cw = ch = min(h, w)
        y, x = self.rng.integers(0, h - ch + 1), self.rng.integers(0, w - cw + 1)
        crop = cv2.resize(img[y:y + ch, x:x + cw], (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.rng.random() < 0.5:
            crop = crop[:, ::-1]
        return to_tensor(crop)
