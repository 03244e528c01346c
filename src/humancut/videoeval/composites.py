"""Composite clips with known soft alpha: a portrait of ../shared/eval/portrait-mattes
(photo + human-made matte) moving over a panning background, as RVM's own evaluation
composes VideoMatte240K foregrounds. The frames are encoded as H.264 `yuv420p` (as a phone
uploads), the true alpha kept per frame as a lossless PNG: the DAVIS layout of
`clips.labelled_clips`, so the same scorer reads them.

Backgrounds are procedural (seeded blurred shapes and texture): no photo, so certainly no
person in them. Everything is seeded: the same arguments build the same clips."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..evaluate import pairs
from .clips import H264Writer

VERSION = 1  # bump when the clips change: the cache folder is named after it
FPS = 30
EMPTY_SECONDS = 1.0  # "enter": nobody in the frame for this long first


@dataclass(frozen=True)
class Pose:
    centre: float  # portrait centre, as a share of the frame width (may be off-frame)
    height: float  # portrait height, as a share of the frame height (bottom on the frame's)
    lift: float = 0.0  # px down (a walker's bob; the body goes on below the frame)


def _walk(t: float) -> Pose:  # across the frame, bobbing
    return Pose(0.2 + 0.6 * t, 0.85, 4 * abs(math.sin(t * 6 * math.pi)))


def _sway(t: float) -> Pose:  # side to side in place
    return Pose(0.5 + 0.07 * math.sin(t * 4 * math.pi), 0.9)


def _zoom(t: float) -> Pose:  # the camera closes in
    return Pose(0.5, 0.75 + 0.4 * t)


def _still(t: float) -> Pose:
    return Pose(0.45, 0.9)


# name -> (pose at t in [0, 1] of the clip, background pan in px per frame)
MOTIONS: dict[str, tuple[Callable[[float], Pose], int]] = {
    "walk": (_walk, 2), "sway": (_sway, 1), "zoom": (_zoom, 1), "enter": (_still, 2),
    "still": (_still, 1),
}


@dataclass(frozen=True)
class Plan:
    width: int = 854
    height: int = 480
    frames: int = 60
    seed: int = 27

    def folder(self, cache: Path) -> Path:
        size = f"{self.width}x{self.height}"
        return cache / f"composites-v{VERSION}-{size}-{self.frames}f-s{self.seed}"


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A cluttered, slightly defocused scene of shapes over a colour gradient, with grain."""
    low = rng.uniform(40, 215, size=(4, 8, 3)).astype(np.uint8)
    img = Image.fromarray(low).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(width * height / 6000)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(8, 120), rng.uniform(8, 160)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x, y, x + w, y + h)
        (draw.ellipse if rng.random() < 0.4 else draw.rectangle)(box, fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.6))
    grain = rng.normal(0, 6, size=(height, width, 1))
    return np.clip(np.asarray(img, np.float32) + grain, 0, 255).astype(np.uint8)


def _place(photo: Image.Image, matte: Image.Image, pose: Pose, height: int,
           width: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The portrait and its alpha scaled to the pose, and the top-left of where they go."""
    h = max(2, round(pose.height * height))
    w = max(2, round(photo.width * h / photo.height))
    fg = np.asarray(photo.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    a = np.asarray(matte.resize((w, h), Image.Resampling.BILINEAR), np.uint8)
    return fg, a, (height - h + round(pose.lift), round(pose.centre * width - w / 2))


def frame_at(bg: np.ndarray, photo: Image.Image, matte: Image.Image, pose: Pose | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """One composite frame (RGB uint8) and its true alpha (uint8); `pose` None: nobody."""
    height, width = bg.shape[:2]
    alpha = np.zeros((height, width), np.uint8)
    if pose is None:
        return bg.copy(), alpha
    fg, a, (top, left) = _place(photo, matte, pose, height, width)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + a.shape[0], height), min(left + a.shape[1], width)
    if y1 > y0 and x1 > x0:
        alpha[y0:y1, x0:x1] = a[y0 - top:y1 - top, x0 - left:x1 - left]
        fg_full = np.zeros((height, width, 3), np.float32)
        fg_full[y0:y1, x0:x1] = fg[y0 - top:y1 - top, x0 - left:x1 - left]
    else:
        fg_full = np.zeros((height, width, 3), np.float32)
    # Composed with the stored (8-bit) alpha, so the label is exactly the truth.
    k = alpha[..., None].astype(np.float32) / 255
    rgb = fg_full * k + bg.astype(np.float32) * (1 - k)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8), alpha


def pose_at(motion: str, i: int, frames: int) -> Pose | None:
    move, _ = MOTIONS[motion]
    if motion != "enter":
        return move(i / max(1, frames - 1))
    empty = round(EMPTY_SECONDS * FPS)
    if i < empty:
        return None
    # Slides in from beyond the right edge over half a second, then stands.
    t = min(1.0, (i - empty) / (FPS / 2))
    return Pose(1.35 - 0.85 * t, 0.9)


def build_clip(out: Path, name: str, motion: str, portrait: tuple[Path, Path], plan: Plan,
               rng: np.random.Generator) -> None:
    _, pan = MOTIONS[motion]
    photo = Image.open(portrait[0]).convert("RGB")
    matte = Image.open(portrait[1]).convert("L")
    bg = background(rng, plan.height, plan.width + pan * plan.frames)
    labels = out / name
    labels.mkdir()
    writer = H264Writer(out / f"{name}.mp4", plan.width, plan.height, FPS)
    try:
        for i in range(plan.frames):
            view = bg[:, i * pan:i * pan + plan.width]
            rgb, alpha = frame_at(view, photo, matte, pose_at(motion, i, plan.frames))
            writer.write(rgb)
            Image.fromarray(alpha).save(labels / f"{i:05d}.png")
    finally:
        writer.close()


def build(mattes: Path, cache: Path, plan: Plan = Plan()) -> Path:
    """The composite clips (one per motion) under `cache`, built once: a folder in the DAVIS
    layout, reused while `plan` and VERSION stay the same."""
    folder = plan.folder(cache)
    if (folder / "plan.json").is_file():
        return folder
    portraits = list(pairs(Path(mattes) / "images", Path(mattes) / "alpha"))
    if not portraits:
        raise FileNotFoundError(f"{mattes}: no portrait/matte pairs (images/*.jpg, alpha/*.png)")
    if plan.width % 2 or plan.height % 2:
        raise ValueError("composite frames need an even width and height (yuv420p)")
    rng = np.random.default_rng(plan.seed)
    work = folder.with_name(folder.name + ".part")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    picks = rng.choice(len(portraits), size=len(MOTIONS), replace=False)
    for motion, pick in zip(MOTIONS, picks, strict=True):
        build_clip(work, motion, motion, portraits[pick], plan, rng)
    info = asdict(plan) | {"version": VERSION, "fps": FPS,
                           "portraits": {m: portraits[p][0].name
                                         for m, p in zip(MOTIONS, picks, strict=True)}}
    (work / "plan.json").write_text(json.dumps(info, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    work.rename(folder)
    return folder
