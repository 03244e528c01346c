"""Reading the video tests' outputs back. Their clips (the astronaut moving over a
landscape, or the landscape alone, with options for odd sizes, audio, a rotation in the
display matrix, a variable frame rate and a hard scene cut) are humancut.bench.videoclips'
Scene and write_scene."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from humancut.bench.videoclips import Scene, write_scene


@dataclass
class Decoded:
    frames: list[np.ndarray]  # RGBA (alpha 255 where the file has none) or grey
    times: list[float]
    fps: float
    pix_fmt: str
    codec: str
    audio: str | None  # the audio codec, if any
    audio_seconds: float


def read_clip(path: Path, *, fmt: str = "rgba") -> Decoded:
    """Every frame of `path`'s video, decoded; VP9 with libvpx (FFmpeg's own vp9 decoder
    drops the alpha plane)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        name = s.codec_context.name
        ctx: Any = av.CodecContext.create("libvpx-vp9" if name == "vp9" else name, "r")
        if name != "vp9":
            ctx = s.codec_context
        frames, times, pix = [], [], ""
        for packet in c.demux(s):
            for f in ctx.decode(packet) if name == "vp9" else packet.decode():
                pix = f.format.name
                frames.append(f.to_ndarray(format=fmt))
                times.append(float(f.pts * s.time_base))
        fps = float(s.average_rate or 0)
    audio, seconds = None, 0.0
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            audio = a.codec_context.name
            samples = sum(f.samples for f in c.decode(a))
            seconds = samples / a.codec_context.sample_rate
    return Decoded(frames, times, fps, pix, name, audio, seconds)


def make_gop_clip(path: Path, scene: Scene, gop: int, fps: int = 15) -> Path:
    """H.264 with a keyframe forced every `gop` frames (and none elsewhere): the cuts
    parallel chunks may start at (video/chunks.py)."""
    return write_scene(path, scene, fps=fps, options={"g": str(gop), "keyint_min": str(gop),
                                                      "sc_threshold": "0"})
