"""Clips for the video tests, made with PyAV: the astronaut moving over a landscape (or the
landscape alone), with options for odd sizes, audio, a rotation in the display matrix, a
variable frame rate and a hard scene cut; and readers that decode outputs back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from tests.support.images import ASTRONAUT

# Where the astronaut's body is in her photo, as shares of its width and height: her suit
# and face, well inside her outline (the photo's own background is left and right of it).
BODY = (0.28, 0.3, 0.52, 0.9)
CONTAINERS = {"mp4": ("mp4", "libx264"), "webm": ("webm", "libvpx-vp9"),
              "avi": ("avi", "mpeg4"), "mkv": ("matroska", "libx264"), "mov": ("mov", "libx264")}


@dataclass
class Scene:
    """What frame i shows: the photo's box (left, top, side) on the canvas, or None."""

    width: int
    height: int
    frames: int
    person: bool = True
    cut_at: int | None = None  # from this frame on, another background (a hard cut)

    def box(self, i: int) -> tuple[int, int, int] | None:
        if not self.person:
            return None
        side = self.height * 5 // 6
        travel = max(0, self.width - side)
        left = round(travel * i / max(1, self.frames - 1))
        return left, self.height - side, side

    def body(self, i: int) -> tuple[int, int, int, int]:
        left, top, side = self.box(i)  # type: ignore[misc]
        return (left + int(side * BODY[0]), top + int(side * BODY[1]),
                left + int(side * BODY[2]), top + int(side * BODY[3]))

    def frame(self, i: int) -> np.ndarray:
        y = np.linspace(0, 1, self.height)[:, None, None]
        x = np.linspace(0, 1, self.width)[None, :, None]
        if self.cut_at is not None and i >= self.cut_at:
            top, bottom = np.array([200, 60, 40]), np.array([250, 220, 90])
        else:
            top, bottom = np.array([120, 170, 230]), np.array([60, 140, 50])
        canvas = (top * (1 - y) + bottom * y + 25 * np.sin(12 * x + i * 0.05)).clip(0, 255)
        canvas = canvas.astype(np.uint8)
        box = self.box(i)
        if box:
            left, top_, side = box
            photo = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((side, side)))
            canvas[top_:top_ + side, left:left + side] = photo[:, :self.width - left]
        return canvas


def make_clip(path: Path, scene: Scene, *, fps: int = 15, kind: str = "mp4",
              audio: bool = False, rotation: int = 0, pts: Sequence[int] | None = None,
              time_base: Fraction | None = None) -> Path:
    """Encode `scene` into `path`. rotation: degrees counterclockwise written in the display
    matrix (the stored frames are turned the other way, so a player shows them upright);
    pts: each frame's timestamp in `time_base` (a variable frame rate)."""
    fmt, codec = CONTAINERS[kind]
    k = round(rotation / 90) % 4
    with av.open(str(path), "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=fps)
        stored_w, stored_h = (scene.height, scene.width) if k % 2 else (scene.width,
                                                                        scene.height)
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "12"}
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
            _sine(out, astream, scene.frames / fps)
    return path


def _sine(out: Any, stream: Any, seconds: float) -> None:
    rate, n, done = 44100, 1024, 0
    while done < seconds * rate:
        t = (np.arange(done, done + n) / rate).astype(np.float32)
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp",
                                           layout="stereo")
        frame.sample_rate, frame.pts = rate, done
        out.mux(stream.encode(frame))
        done += n
    out.mux(stream.encode(None))


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
    with av.open(str(path), "w") as out:
        stream: Any = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12", "g": str(gop),
                          "keyint_min": str(gop), "sc_threshold": "0"}
        for i in range(scene.frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(scene.frame(i), format="rgb24")))
        out.mux(stream.encode(None))
    return path
