"""What a clip is, from its container header, and the limits it must meet before any heavy
work: the file's bytes, the frame's long side and the duration are read from the header and
checked before a frame is decoded; then the first frame is decoded (it carries the display
matrix, so the rotation, and it shows that something decodes at all)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import av
import av.error

from ..errors import HumancutError
from ..settings import Settings

Source = str | Path | IO[bytes]

# Container signatures: a video is recognised by its first bytes, never by its name.
HEAD = 192  # bytes looked at
_AT_4 = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")  # MP4, MOV, M4V, 3GP


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes (HEAD of them) start a video container PyAV reads: MP4/MOV,
    Matroska/WebM, AVI, MPEG-TS/PS, FLV, Ogg or ASF. Images are not videos here."""
    if len(head) >= 8 and head[4:8] in _AT_4:
        return True
    return head.startswith((
        b"\x1a\x45\xdf\xa3",  # EBML: Matroska, WebM
        b"FLV",
        b"OggS",
        b"\x00\x00\x01\xba",  # MPEG program stream
        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
    )) or (head[:4] == b"RIFF" and head[8:12] == b"AVI ") or (
        len(head) > 188 and head[0] == head[188] == 0x47)  # MPEG-TS: a sync byte per packet


def is_video_file(path: str | Path) -> bool:
    """A file whose content starts like a video container (see looks_like_video)."""
    try:
        with open(path, "rb") as f:
            return looks_like_video(f.read(HEAD))
    except OSError:
        return False


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int
    max_seconds: float
    max_side: int

    @classmethod
    def of(cls, settings: Settings) -> VideoLimits:
        return cls(settings.video_max_bytes, settings.video_max_seconds,
                   settings.video_max_side)


@dataclass(frozen=True)
class ClipInfo:
    width: int  # upright: after the rotation of the display matrix
    height: int
    rotation: int  # 0, 90, 180 or 270: degrees the stored frames are turned counterclockwise
    fps: float  # average frame rate
    duration: float  # seconds
    frames: int  # from the stream header, else duration * fps
    codec: str
    has_audio: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _size_of(src: Source) -> int:
    if isinstance(src, (str, Path)):
        return os.stat(src).st_size
    here = src.tell()
    end = src.seek(0, os.SEEK_END)
    src.seek(here)
    return end - here


def _head(src: Source) -> bytes:
    if isinstance(src, (str, Path)):
        with open(src, "rb") as f:
            return f.read(HEAD)
    here = src.tell()
    head = src.read(HEAD)
    src.seek(here)
    return head


@contextmanager
def open_input(src: Source) -> Iterator[av.container.InputContainer]:
    """The container, opened after its first bytes were recognised as a video's. A file
    PyAV cannot open is "unsupported_type" when it does not look like a video, else
    "undecodable" (a truncated or corrupt clip)."""
    if not looks_like_video(_head(src)):
        raise HumancutError("unsupported_type",
                            "Not a video: the file is not an MP4/MOV, WebM/MKV, AVI or other "
                            "video container.")
    try:
        container = av.open(src if not isinstance(src, Path) else str(src), "r",
                            metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise HumancutError("undecodable", f"The video could not be read ({exc.strerror or exc})."
                            " It may be truncated or corrupt.") from exc
    try:
        yield container
    finally:
        container.close()


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise HumancutError("unsupported_type", "The file has no video stream.")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or not ctx.codec or stream.codec_context.width <= 0:
        raise HumancutError("unsupported_type",
                            "The video's codec is not supported (no decoder for it).")
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise HumancutError("unsupported_type", "Not a video: the file is a still image.")
    return stream


def header_info(container: av.container.InputContainer) -> ClipInfo:
    """ClipInfo from the header alone (rotation 0: the display matrix comes with a frame)."""
    stream = video_stream(container)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0  # unknown (a live-style WebM): the decoder enforces the limit
    frames = stream.frames or round(duration * fps)
    ctx = stream.codec_context
    return ClipInfo(width=ctx.width, height=ctx.height, rotation=0, fps=fps,
                    duration=duration, frames=frames, codec=ctx.codec.name,
                    has_audio=bool(container.streams.audio))


def check_limits(info: ClipInfo, limits: VideoLimits) -> None:
    side = max(info.width, info.height)
    if side > limits.max_side:
        raise HumancutError("resolution_too_large",
                            f"The video is {info.width}x{info.height}; its long side may be at "
                            f"most {limits.max_side} px.")
    if info.duration > limits.max_seconds:
        raise HumancutError("duration_too_long",
                            f"The video lasts {info.duration:.1f} s; at most "
                            f"{limits.max_seconds:g} s are accepted.")


def check_bytes(src: Source, limits: VideoLimits) -> None:
    size = _size_of(src)
    if size > limits.max_bytes:
        raise HumancutError("file_too_large",
                            f"The video is {size / 2**20:.1f} MiB; at most "
                            f"{limits.max_bytes / 2**20:g} MiB are accepted.")


def upright(info: ClipInfo, rotation: int) -> ClipInfo:
    """`info` with the frame turned by `rotation` (counterclockwise degrees, any sign)."""
    turn = round(rotation / 90) % 4 * 90
    w, h = (info.height, info.width) if turn in (90, 270) else (info.width, info.height)
    return ClipInfo(width=w, height=h, rotation=turn, fps=info.fps, duration=info.duration,
                    frames=info.frames, codec=info.codec, has_audio=info.has_audio)


def first_rotation(container: av.container.InputContainer) -> int:
    """The rotation of the first frame that decodes; "undecodable" when none does."""
    stream = video_stream(container)
    try:
        for frame in container.decode(stream):
            return int(frame.rotation or 0)
    except av.error.FFmpegError as exc:
        raise HumancutError("undecodable", "No frame of the video could be decoded "
                            f"({exc.strerror or exc}).") from exc
    raise HumancutError("undecodable", "The video has no frame that can be decoded.")


def probe(src: Source, limits: VideoLimits | None = None) -> ClipInfo:
    """A clip's ClipInfo; with `limits`, checked against them before any frame is decoded.
    Raises HumancutError (unsupported_type, undecodable, file_too_large,
    resolution_too_large, duration_too_long). A file object is read from where it stands and
    left there."""
    here = None if isinstance(src, (str, Path)) else src.tell()
    if limits is not None:
        check_bytes(src, limits)
    try:
        with open_input(src) as container:
            info = header_info(container)
            if limits is not None:
                check_limits(info, limits)
            return upright(info, first_rotation(container))
    finally:
        if here is not None and not isinstance(src, (str, Path)):
            src.seek(here)
