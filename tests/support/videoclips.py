"""Small clips for the video API tests, made with PyAV (humancut.bench.videoclips): the
astronaut (a real person, so the real model runs) moving over a plain background, a few
seconds at a small size so a task ends in seconds; and helpers that decode a result back
(WebM's alpha with libvpx-vp9)."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from humancut.bench.videoclips import Scene, write_scene
from tests.support.images import ASTRONAUT

BACKGROUND = (40, 120, 200)  # a blue wall: far from skin and hair


def scene(width: int = 128, height: int = 96, seconds: float = 2.0,
          fps: int = 10) -> Scene:
    """What clip(...) shows: the astronaut's head and shoulders sliding left to right over
    BACKGROUND."""
    return Scene(width, height, max(1, round(seconds * fps)), share=Fraction(9, 10),
                 crop=(100, 0, 420, 320), wall=BACKGROUND)


def clip(width: int = 128, height: int = 96, seconds: float = 2.0, fps: int = 10) -> bytes:
    """An H.264 MP4 of scene(...)."""
    return write_scene(io.BytesIO(), scene(width, height, seconds, fps), fps=fps).getvalue()


def person_box(width: int = 128, height: int = 96, seconds: float = 2.0, fps: int = 10,
               index: int = 0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the astronaut in frame `index` of clip(...)."""
    left, top, side = scene(width, height, seconds, fps).box(index)  # type: ignore[misc]
    return left, top, left + side, top + side


def face(width: int = 128, height: int = 96, seconds: float = 2.0, fps: int = 10,
         index: int = 0) -> tuple[int, int]:
    """(row, column) of a point on the astronaut's face in frame `index` of clip(...)."""
    left, top, right, bottom = person_box(width, height, seconds, fps, index)
    return top + (bottom - top) * 30 // 100, left + (right - left) * 40 // 100


def webm_alpha_frames(data: bytes) -> list[np.ndarray]:
    """The RGBA frames of a WebM with VP9 alpha (decoded with libvpx-vp9, which reads the
    alpha side data; FFmpeg's own vp9 decoder drops it)."""
    frames = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        codec = av.CodecContext.create("libvpx-vp9", "r")
        for packet in container.demux(stream):  # the last, empty packet flushes
            for frame in codec.decode(packet):
                frames.append(frame.to_ndarray(format="rgba"))
    return frames


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def broken_midway(corrupt_frame: int = 10, frames: int = 20, width: int = 128,
                  height: int = 96) -> bytes:
    """A QuickTime clip of PNG frames (every frame a picture of its own) whose header and
    first frames are sound and whose frame `corrupt_frame` (0-based) has its PNG header
    zeroed: accepted at submission, it fails when decoding reaches that frame."""
    buf = io.BytesIO()
    person = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((height, height)))
    with av.open(buf, "w", format="mov") as out:
        stream = out.add_stream("png", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for _ in range(frames):
            frame = np.empty((height, width, 3), np.uint8)
            frame[:] = BACKGROUND
            frame[:, :height] = person
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(buf.getvalue())
    signature = b"\x89PNG\r\n\x1a\n"
    at = -1
    for _ in range(corrupt_frame + 1):
        at = data.index(signature, at + 1)
    data[at + 8:at + 40] = bytes(32)
    return bytes(data)
