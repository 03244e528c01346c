"""Before/after crops of soft edges on white: the photo's own colours under the alpha
(before: the old background bleeds in as a halo) and humancut's foreground estimate (after).

    .venv/bin/python scripts/edge_crops.py [photo] [--out docs/edges.png]

Shows the three windows where the two differ most; prints, over all soft pixels, the mean
brightness on white of both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from humancut import Remover, imageops
from humancut.bench.photos import ASTRONAUT

ROOT = Path(__file__).resolve().parents[1]


def windows(weight: np.ndarray, size: int, count: int) -> list[tuple[int, int]]:
    """Top-left corners of the `count` non-overlapping windows with the most weight."""
    sums = np.pad(weight.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    scores = sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]
    corners: list[tuple[int, int]] = []
    for _ in range(count):
        y, x = np.unravel_index(np.argmax(scores), scores.shape)
        corners.append((int(y), int(x)))
        scores[max(0, y - size):y + size, max(0, x - size):x + size] = -1
    return corners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=Path(str(ASTRONAUT)))
    parser.add_argument("--out", type=Path, default=ROOT / "docs/edges.png")
    parser.add_argument("--size", type=int, default=48, help="crop side, px")
    parser.add_argument("--scale", type=int, default=4, help="enlargement, nearest neighbour")
    args = parser.parse_args()

    remover = Remover()
    rgb = remover.load(args.photo)
    matte = remover.matte(rgb)
    alpha8 = imageops.alpha_to_u8(matte.alpha)
    before = np.asarray(imageops.on_white(rgb, alpha8, None))
    after = np.asarray(imageops.on_white(rgb, alpha8, matte.foreground))

    # Show where the estimate changes the picture most: soft pixels whose colour on white
    # differs most between the two.
    soft = (alpha8 > 0) & (alpha8 < 255)
    change = np.abs(before.astype(np.int64) - after).sum(axis=2) * soft
    rows = []
    s = args.size
    for y, x in windows(change, s, 3):
        window = (slice(y, y + s), slice(x, x + s))
        tiles = [rgb[window], before[window], after[window]]
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=128)
                                    for t in tiles], axis=1))
    grid = np.concatenate(rows, axis=0).repeat(args.scale, 0).repeat(args.scale, 1)
    header = 18
    canvas = Image.new("RGB", (grid.shape[1], grid.shape[0] + header), "white")
    canvas.paste(Image.fromarray(grid), (0, header))
    draw = ImageDraw.Draw(canvas)
    third = grid.shape[1] // 3
    for i, label in enumerate(["photo", "before: photo colours", "after: foreground estimate"]):
        draw.text((i * third + 4, 3), label, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out)
    grey = np.array([0.299, 0.587, 0.114])
    print(f"{args.out}: {soft.sum()} soft pixels; on white, mean brightness before "
          f"{(before[soft] @ grey).mean():.1f}, after {(after[soft] @ grey).mean():.1f}; "
          f"mean colour change {change[soft].mean() / 3:.1f} / 255 per channel")


if __name__ == "__main__":
    main()
