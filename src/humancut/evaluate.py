"""The quality report: run the pipeline over labelled pairs and average the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import imageops
from .metrics import METRICS, score
from .remover import Remover


@dataclass
class Report:
    images: int = 0
    seconds: float = 0.0
    means: dict[str, float] = field(default_factory=dict)
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"images": self.images, "seconds": round(self.seconds, 3),
                "images_per_second": round(self.images_per_second, 3),
                "means": self.means, "per_image": self.per_image}


def pairs(images_dir: Path, alpha_dir: Path) -> Iterator[tuple[Path, Path]]:
    """(image, label) pairs with the same base name; the label is a PNG."""
    for image in sorted(Path(images_dir).iterdir()):
        if image.suffix.lower() in imageops.IMAGE_SUFFIXES:
            label = Path(alpha_dir) / (image.stem + ".png")
            if label.is_file():
                yield image, label


def read_label(path: Path) -> np.ndarray:
    """A label PNG as float32 alpha in [0, 1]."""
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255


def delivered(alpha: np.ndarray) -> np.ndarray:
    """The alpha as users receive it (8-bit), back in [0, 1]: what is scored."""
    return imageops.alpha_to_u8(alpha).astype(np.float32) / 255


def evaluate(remover: Remover, images_dir: Path, alpha_dir: Path,
             progress: Callable[[int], None] | None = None) -> Report:
    """Score every pair. Time counts decode + model + refinement, not metric maths."""
    report = Report()
    found = list(pairs(images_dir, alpha_dir))
    if not found:
        raise FileNotFoundError(f"no image/label pairs in {images_dir} and {alpha_dir}")
    for image_path, label_path in found:
        start = time.perf_counter()
        rgb = remover.load(image_path)
        alpha = remover.matte(rgb, require_person=False).alpha
        report.seconds += time.perf_counter() - start
        report.per_image[image_path.name] = score(delivered(alpha), read_label(label_path))
        report.images += 1
        if progress:
            progress(1)
    report.means = {name: float(np.mean([s[name] for s in report.per_image.values()]))
                    for name in METRICS}
    return report
