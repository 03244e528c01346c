"""The photos the bench sends: JPEGs of the astronaut at given megapixels, a folder given
with --images, and a few labelled photos from an evaluation folder (--eval-dir)."""

from __future__ import annotations

import io
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image

from ..imageops import IMAGE_SUFFIXES, images_under
from ..settings import MB

# Package data, so an installed humancut (no source checkout) can generate its sizes.
ASTRONAUT = resources.files(__package__) / "data" / "astronaut.jpg"
EVAL_DIR_ENV = "HUMANCUT_EVAL_DIR"
# The sets of ../shared/eval, in the order earlier reports listed their photos.
EVAL_SETS = ("portrait-mattes", "people-masks")
EVAL_LABEL = "eval-mix"
MAX_JPEG_BYTES = 3 * MB


@dataclass
class ImageGroup:
    """Images sent round-robin for one row of the report."""

    label: str
    images: list[tuple[str, bytes]]  # (name, encoded bytes)
    sizes: list[tuple[int, int]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        px = [w * h for w, h in self.sizes]
        return {"count": len(self.images), "names": [n for n, _ in self.images],
                "width": self.sizes[0][0] if len(self.sizes) == 1 else None,
                "height": self.sizes[0][1] if len(self.sizes) == 1 else None,
                "mean_megapixels": round(statistics.fmean(px) / 1e6, 3),
                "mean_bytes": round(statistics.fmean(len(d) for _, d in self.images))}


def size_label(mp: float) -> str:
    return f"{mp:g}MP"


def scaled_jpeg(src: Image.Image, megapixels: float, *, max_side: int = 1999,
                max_bytes: int = MAX_JPEG_BYTES,
                quality: int = 90) -> tuple[bytes, tuple[int, int]]:
    """`src` resized (LANCZOS) to about `megapixels`, each side <= max_side, as a JPEG
    under max_bytes (quality lowered in steps of 5 when needed)."""
    w0, h0 = src.size
    scale = math.sqrt(megapixels * 1e6 / (w0 * h0))
    scale = min(scale, max_side / w0, max_side / h0)
    size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
    img = src.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    while True:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= max_bytes or quality <= 50:
            return buf.getvalue(), size
        quality -= 5


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def spread(items: list[Path], n: int) -> list[Path]:
    """n items evenly spaced through the list (deterministic)."""
    if len(items) <= n:
        return items
    if n <= 1:
        return items[:n]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def file_group(label: str, paths: Sequence[Path]) -> ImageGroup:
    images = [(p.name, p.read_bytes()) for p in paths]
    return ImageGroup(label, images, [image_size(d) for _, d in images])


def astronaut_groups(sizes: Sequence[float]) -> list[ImageGroup]:
    """One group per size: the astronaut portrait as a JPEG of that many megapixels."""
    if not ASTRONAUT.is_file():
        raise ValueError(f"{ASTRONAUT} is missing (a broken install?): pass --sizes '' and "
                         "--images DIR")
    with ASTRONAUT.open("rb") as f, Image.open(f) as src:
        src.load()
        groups = []
        for mp in sizes:
            data, size = scaled_jpeg(src, mp)
            groups.append(ImageGroup(size_label(mp), [(f"astronaut-{mp:g}MP.jpg", data)],
                                     [size]))
    return groups


def eval_dir_from(flag: Path | None) -> Path | None:
    """--eval-dir, else $HUMANCUT_EVAL_DIR, else None (no eval-mix group)."""
    if flag is not None:
        return flag
    env = os.environ.get(EVAL_DIR_ENV)
    return Path(env) if env else None


def eval_sets(eval_dir: Path) -> list[Path]:
    """The image folders of the labelled sets in eval_dir (`<set>/images`, the layout
    `humancut eval` reads), or eval_dir itself when it holds the photos directly."""
    order = {name: i for i, name in enumerate(EVAL_SETS)}
    sets = sorted((d for d in eval_dir.iterdir() if (d / "images").is_dir()),
                  key=lambda d: (order.get(d.name, len(order)), d.name))
    return [d / "images" for d in sets] or [eval_dir]


def eval_group(eval_dir: Path, per_set: int = 4) -> ImageGroup:
    """A few photos spread through each set: the bench's sample of real photos."""
    if not eval_dir.is_dir():
        raise ValueError(f"--eval-dir {eval_dir} is not a folder")
    picked = [p for folder in eval_sets(eval_dir) for p in spread(images_under(folder), per_set)]
    if not picked:
        raise ValueError(f"no images in {eval_dir} (looked for {', '.join(IMAGE_SUFFIXES)})")
    return file_group(EVAL_LABEL, picked)


def build_groups(sizes: Sequence[float], images_dir: Path | None,
                 eval_dir: Path | None = None, per_set: int = 4) -> list[ImageGroup]:
    """The generated sizes, then the --images folder (20 at most), then the eval mix."""
    groups = astronaut_groups(sizes) if sizes else []
    if images_dir is not None:
        found = images_under(images_dir)
        if not found:
            raise ValueError(f"no images in {images_dir} (looked for "
                             f"{', '.join(IMAGE_SUFFIXES)})")
        groups.append(file_group(images_dir.name or "images", found[:20]))
    if eval_dir is not None:
        groups.append(eval_group(eval_dir, per_set))
    if not groups:
        raise ValueError("no images to send: give --sizes, --images or --eval-dir")
    return groups
