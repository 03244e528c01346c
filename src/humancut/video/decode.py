"""Frames out of a clip, upright RGB, one at a time, with their own timestamps (a variable
frame rate stays variable); the audio frames met on the way go to a callback, so the clip
is read once and never held whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import av.error
import numpy as np

from ..errors import HumancutError


@dataclass
class Frame:
    rgb: np.ndarray  # uint8 HxWx3, upright
    pts: int | None  # in the stream's time_base, as stored
    time: float  # seconds
    index: int  # 0-based, in decoding (presentation) order


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn stored pixels as the display matrix says (`rotation`: degrees counterclockwise,
    as VideoFrame.rotation gives it). A view, no copy."""
    k = round(rotation / 90) % 4
    return np.rot90(rgb, k) if k else rgb


def frames(container: av.container.InputContainer, *, on_audio: Callable[[av.AudioFrame],
           None] | None = None, max_seconds: float | None = None, start: int = 0,
           stop: int | None = None) -> Iterator[Frame]:
    """The video stream's frames [start, stop) (by index) as upright RGB; audio frames, when
    `on_audio` is given, to it as they are demuxed. Mid-way corruption that FFmpeg reports
    is "undecodable"; a clip longer than `max_seconds` (when its header did not say) is
    "duration_too_long" as soon as a frame shows it."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"  # frame and slice threads: decoding overlaps the model
    audio = container.streams.audio[0] if on_audio and container.streams.audio else None
    streams = [s for s in (video, audio) if s is not None]
    index = 0
    first_time: float | None = None
    last_time = 0.0
    try:
        for packet in container.demux(streams):
            decoded: list[Any] = packet.decode()
            if packet.stream is audio:
                for aframe in decoded:
                    on_audio(aframe)  # type: ignore[misc]
                continue
            for vframe in decoded:
                if stop is not None and index >= stop:
                    return
                time = _time_of(vframe, index, video)
                first_time = time if first_time is None else first_time
                if max_seconds is not None and time - first_time > max_seconds:
                    raise HumancutError("duration_too_long", "The video lasts longer than "
                                        f"{max_seconds:g} s, the most accepted.")
                last_time = time
                if index >= start:
                    rgb = upright(vframe.to_ndarray(format="rgb24"), vframe.rotation or 0)
                    yield Frame(rgb=rgb, pts=vframe.pts, time=time, index=index)
                index += 1
    except av.error.FFmpegError as exc:
        why = exc.strerror or exc
        raise HumancutError("undecodable", f"The video is corrupt or truncated at frame "
                            f"{index + 1} ({why})." if index else
                            f"No frame of the video could be decoded ({why}).") from exc
    if index == 0:
        raise HumancutError("undecodable", "The video has no frame that can be decoded.")
    _check_complete(video, last_time - (first_time or 0.0))


def video_seconds(stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration from the header (not the container's, which may be
    the audio's), when it says one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")  # Matroska / WebM: per track, "00:00:06.666000000"
    try:
        h, m, sec = (tag or "").split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _check_complete(stream: av.video.stream.VideoStream, last: float) -> None:
    """A clip whose frames stop well before the end its header gives is truncated (demuxers
    end quietly at a cut-off file): "undecodable", not half a clip."""
    expected = video_seconds(stream)
    rate = float(stream.average_rate or 0) or 25.0
    if expected and last + 1 / rate < expected - max(0.25, 0.05 * expected):
        raise HumancutError("undecodable", f"The video is truncated: its frames end at "
                            f"{last + 1 / rate:.2f} s, its header says {expected:.2f} s.")


def _time_of(frame: av.VideoFrame, index: int, stream: av.video.stream.VideoStream) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return index / float(rate) if rate else 0.0
