"""The false-partial-alpha gallery of docs/quality.md: before and after a change.

Cuts every photo of the shared sets and the astronaut with the code of two git revisions
(the working tree's src/ for "after"), ranks the photos by false partial alpha before
(metrics.false_partial), and draws:

- docs/partial.png: the astronaut and the N worst photos, a row each: photo, matte before,
  matte after, with the share of false partial alpha (or, for the astronaut, of its
  helmet region) under each matte;
- docs/helmet.png: the astronaut's helmet region (rows 340-512, columns 270-430) before
  and after, for every preset, at 2x.

It prints the figures as a Markdown table. Each revision runs in its own Python process
with that revision's src/ (exported with `git archive`), so nothing is installed:

    PYTHONPATH=src .venv/bin/python scripts/partial_gallery.py ../shared/eval --before ae0c8d3

Small PNGs: thumbnails 160 px high, quantised.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "src/humancut/bench/data/astronaut.jpg"
SETS = ("portrait-mattes", "people-masks")
HELMET = (slice(340, 512), slice(270, 430))
PRESETS = ("fast", "balanced", "best")


def dump(eval_dir: Path, out: Path, presets: list[str], everything: bool) -> None:
    """Write the delivered alpha of the astronaut (every preset) and, with `everything`,
    of every labelled photo (first preset) as PNGs under `out`: run in a child process
    whose PYTHONPATH is one revision's src/."""
    # Only Remover and Settings: the two revisions' other modules may differ.
    from humancut import Remover, Settings

    for n, preset in enumerate(presets):
        remover = Remover(Settings.from_env(preset=preset))
        jobs = [(ASTRONAUT, out / preset / "astronaut.png")]
        if everything and n == 0:
            for name in SETS:
                for image in sorted((eval_dir / name / "images").iterdir()):
                    if (eval_dir / name / "alpha" / (image.stem + ".png")).is_file():
                        jobs.append((image, out / preset / name / (image.stem + ".png")))
        for image, target in jobs:
            alpha = remover.matte(remover.load(image), require_person=False).alpha
            target.parent.mkdir(parents=True, exist_ok=True)
            # as delivered (imageops.alpha_to_u8), which is what eval scores
            Image.fromarray((np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)).save(target)


def cut_with(revision: str | None, eval_dir: Path, out: Path, preset: str) -> None:
    """Run `dump` with the src/ of `revision` (None: the working tree)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = ROOT / "src"
        if revision is not None:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"],
                                     check=True, capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            src = Path(tmp) / "src"
        presets = [preset] + [p for p in PRESETS if p != preset]
        env = os.environ | {"PYTHONPATH": str(src)}
        subprocess.run([sys.executable, __file__, str(eval_dir), "--dump", str(out),
                        "--presets", ",".join(presets)], check=True, env=env)


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255


def grey_share(alpha: np.ndarray) -> float:
    return float(((alpha > 0.15) & (alpha < 0.85)).mean())


def thumb(img: Image.Image, height: int) -> Image.Image:
    return img.resize((max(1, round(img.width * height / img.height)), height),
                      Image.Resampling.BOX)


def caption(tile: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (tile.width, tile.height + 16), "white")
    out.paste(tile.convert("RGB"), (0, 0))
    ImageDraw.Draw(out).text((3, tile.height + 2), text, fill="black")
    return out


def row(tiles: list[Image.Image], gap: int = 6) -> Image.Image:
    out = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1),
                            max(t.height for t in tiles)), "white")
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + gap
    return out


def column(rows: list[Image.Image], gap: int = 6) -> Image.Image:
    out = Image.new("RGB", (max(r.width for r in rows),
                            sum(r.height for r in rows) + gap * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + gap
    return out


def save_small(img: Image.Image, path: Path) -> None:
    img.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_dir", type=Path, help="the shared sets (<set>/images, <set>/alpha)")
    ap.add_argument("--before", help="git revision for 'before' (e.g. a commit)")
    ap.add_argument("--after", help="git revision for 'after' (default: the working tree)")
    ap.add_argument("--preset", default="balanced", help="the preset of the gallery rows")
    ap.add_argument("--worst", type=int, default=5, help="photos shown besides the astronaut")
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # the child's mode
    ap.add_argument("--presets", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        presets = args.presets.split(",")
        dump(args.eval_dir, args.dump, presets, everything=True)
        return 0
    if not args.before:
        ap.error("--before REVISION is required")

    from humancut.metrics import false_partial

    with tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        cut_with(args.before, args.eval_dir, before, args.preset)
        cut_with(args.after, args.eval_dir, after, args.preset)
        scores = []
        for name in SETS:
            for path in sorted((before / args.preset / name).glob("*.png")):
                label = load(args.eval_dir / name / "alpha" / path.name)
                b = false_partial(load(path), label)
                a = false_partial(load(after / args.preset / name / path.name), label)
                scores.append((b, a, name, path.stem))
        scores.sort(reverse=True)

        height = 160
        rows, table = [], []
        photo = Image.open(ASTRONAUT).convert("RGB")
        hb = grey_share(load(before / args.preset / "astronaut.png")[HELMET])
        ha = grey_share(load(after / args.preset / "astronaut.png")[HELMET])
        rows.append(row([caption(thumb(photo, height), "astronaut"),
                         caption(thumb(Image.open(before / args.preset / "astronaut.png"),
                                       height), f"before: helmet {hb:.1%} grey"),
                         caption(thumb(Image.open(after / args.preset / "astronaut.png"),
                                       height), f"after: helmet {ha:.1%} grey")]))
        for b, a, name, stem in scores[:args.worst]:
            image = next(p for p in (args.eval_dir / name / "images").iterdir()
                         if p.stem == stem)
            rows.append(row([
                caption(thumb(Image.open(image).convert("RGB"), height), f"{name}/{stem}"[:30]),
                caption(thumb(Image.open(before / args.preset / name / f"{stem}.png"), height),
                        f"before: {b:.2%} false partial"),
                caption(thumb(Image.open(after / args.preset / name / f"{stem}.png"), height),
                        f"after: {a:.2%}")]))
            table.append(f"| {name} {stem} | {b:.2%} | {a:.2%} |")
        args.out.mkdir(parents=True, exist_ok=True)
        save_small(column(rows), args.out / "partial.png")

        crops, helmet = [], []
        for preset in PRESETS:
            pb = load(before / preset / "astronaut.png")[HELMET]
            pa = load(after / preset / "astronaut.png")[HELMET]
            helmet.append(f"| `{preset}` | {grey_share(pb):.1%} | {grey_share(pa):.1%} |")
            pair = [caption(Image.fromarray(np.round(x * 255).astype(np.uint8)).resize(
                (320, 344), Image.Resampling.NEAREST), f"{preset} {when}: {grey_share(x):.1%}")
                for x, when in ((pb, "before"), (pa, "after"))]
            crops.append(row(pair, gap=2))
        save_small(row(crops, gap=14), args.out / "helmet.png")

    print("| photo | false partial before | after |\n|---|---|---|")
    print("\n".join(table))
    print("\n| preset | helmet region grey before | after |\n|---|---|---|")
    print("\n".join(helmet))
    print(json.dumps({"worst": [list(s) for s in scores[:args.worst]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
