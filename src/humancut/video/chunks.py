"""Parallel chunks on one machine (issue 27, item 5).

A clip is split at keyframes into one chunk per worker process. Each worker (a `spawn`
process with its own onnxruntime session, cores/workers threads) seeks to the keyframe at or
before its chunk's warm-up frames, decodes from there, runs the `lead` frames before its
chunk through TemporalMatter only to warm the recurrent state (their alpha dropped: the
state at the chunk's first frame is close to the one a single pass would have there, so the
seam does not show), then mattes its chunk.

Order and memory: each worker appends its alpha frames (zlib, level 1: a matte is mostly 0
and 255 and compresses ~30x) to a file of its own in a temporary folder; the calling process
(remove_video, which still decodes the clip itself for the colours, audio and timestamps)
reads chunk 0's file as it grows, then chunk 1's... So the encoder gets every alpha in
presentation order, one frame at a time, while the workers run ahead; nothing but one frame
per process is held in memory, the rest waits on disk.

Where chunks do not pay (one worker, a short clip, fewer keyframes than workers, packets
without timestamps; with `video_chunks` auto, no more cores than workers) `chunked_alphas`
answers None and remove_video mattes in-process.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..settings import Settings
from .decode import upright
from .matting import TemporalMatter, video_session
from .probe import ClipInfo

MIN_SECONDS = 4.0  # shorter clips: the workers' start-up (a session each) costs more
MIN_CHUNK = 24  # frames: no chunk shorter than this
_LEN = struct.Struct("<I")


@dataclass(frozen=True)
class Chunk:
    start: int  # first frame (index, presentation order) whose alpha this chunk gives
    stop: int  # one past its last
    lead: int  # frames before `start` run to warm the state (output dropped)
    seek_pts: int | None  # the keyframe to seek to (None: the clip's start)


def frame_index(path: Path) -> tuple[list[int], list[int]] | None:
    """Every video packet's pts in presentation order, and the indices (in that order) of
    the keyframes; from the packets alone, nothing decoded. None when a packet has no pts."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        pts, keys = [], []
        for packet in c.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's final flush packet
            if packet.pts is None:
                return None
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
    order = sorted(pts)
    where = {p: i for i, p in enumerate(order)}
    return order, sorted(where[k] for k in keys)


def plan(keys: list[int], frames: int, workers: int, lead: int) -> list[Chunk]:
    """One chunk per worker, each starting at the keyframe nearest its even share."""
    starts = [0]
    for k in range(1, workers):
        ideal = k * frames / workers
        options = [i for i in keys if i >= starts[-1] + MIN_CHUNK and frames - i >= MIN_CHUNK]
        if not options:
            break
        best = min(options, key=lambda i: abs(i - ideal))
        if best not in starts:
            starts.append(best)
    starts.append(frames)
    chunks = []
    for start, stop in zip(starts, starts[1:], strict=False):
        warm = min(lead, start)
        seek = max((i for i in keys if i <= start - warm), default=None) if start else None
        chunks.append(Chunk(start, stop, warm, seek))
    return chunks


def chunked_alphas(path: Path, info: ClipInfo, settings: Settings) -> Iterator[np.ndarray] | None:
    """uint8 HxW alpha per frame of `path` made by `settings.workers` processes, or None
    when chunks do not pay for this clip (then the caller mattes in-process)."""
    workers = settings.workers
    if settings.video_chunks == "auto" and (os.cpu_count() or 1) <= workers:
        return None  # no spare core for the calling process's decode and encode
    planned = plan_for(path, info, settings, workers)
    return None if planned is None else alphas_in_chunks(path, info, settings, *planned)


def plan_for(path: Path, info: ClipInfo, settings: Settings, workers: int
             ) -> tuple[list[Chunk], list[int]] | None:
    """The chunks of `path` for `workers` and every frame's pts (frame_index), or None
    where chunks do not pay: turned off, one worker, a short clip, packets without
    timestamps, too few keyframes. Here and for Ray tasks (rayvideo.py) alike."""
    if settings.video_chunks == "off" or workers <= 1 or info.duration < MIN_SECONDS:
        return None
    index = frame_index(path)
    if index is None:
        return None
    order, keys = index
    chunks = plan(keys, len(order), workers, TemporalMatter.warmup_for(info.fps))
    return (chunks, order) if len(chunks) >= 2 else None


def alphas_in_chunks(path: Path, info: ClipInfo, settings: Settings, chunks: list[Chunk],
                     order: list[int]) -> Iterator[np.ndarray]:
    """Run `chunks` on one process each (at most settings.workers at once) and yield their
    alpha in order. `order`: every frame's pts (frame_index)."""
    threads = settings.threads or max(1, (os.cpu_count() or 1) // len(chunks))
    work = Path(tempfile.mkdtemp(prefix="humancut-chunks-"))
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(min(settings.workers, len(chunks)), _init,
                    (replace(settings, threads=threads),))
    ok = False
    try:
        jobs = [pool.apply_async(_run_chunk, (str(path), c, order, str(work / f"{i}.z")))
                for i, c in enumerate(chunks)]
        pool.close()
        for i, (chunk, job) in enumerate(zip(chunks, jobs, strict=True)):
            n = 0
            for alpha in _follow(work / f"{i}.z", job):
                n += 1
                yield alpha
            if n != chunk.stop - chunk.start:
                raise RuntimeError(f"chunk {i} gave {n} frames, not {chunk.stop - chunk.start}")
        ok = True
    finally:
        if ok:
            pool.join()
        else:
            pool.terminate()  # the caller gave up (an error, or the consumer stopped)
        shutil.rmtree(work, ignore_errors=True)


def _follow(path: Path, job: Any) -> Iterator[np.ndarray]:
    """The alpha frames of a file a worker is still writing, until its job has finished
    and the file is read to its end."""
    while not path.exists():
        if job.ready():
            job.get()  # raises the worker's error
            return
        time.sleep(0.005)
    with open(path, "rb") as f:
        while True:
            at = f.tell()
            head = f.read(_LEN.size)
            if len(head) == _LEN.size:
                (size,) = _LEN.unpack(head)
                body = f.read(size)
                if len(body) == size:
                    yield unpack(body)
                    continue
            f.seek(at)  # a frame not fully written yet
            if job.ready():
                job.get()
                if f.read(1) == b"":
                    return
                f.seek(at)
            time.sleep(0.005)


_session: Any = None
_settings: Settings | None = None
_parent = 0


def _init(settings: Settings) -> None:
    """A worker: its own session, made once."""
    global _session, _settings, _parent
    _parent = os.getppid()
    _settings = settings
    _session = video_session(settings)


def _decoded(path: str, chunk: Chunk, order: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, upright RGB) from the chunk's first warm-up frame to its last frame."""
    where = {p: i for i, p in enumerate(order)}
    first = chunk.start - chunk.lead
    with av.open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        if chunk.seek_pts is not None:
            c.seek(chunk.seek_pts, stream=stream, backward=True, any_frame=False)
        for frame in c.decode(stream):
            i = where.get(frame.pts) if frame.pts is not None else None
            if i is None or i < first:
                continue
            if i >= chunk.stop:
                return
            yield i, upright(frame.to_ndarray(format="rgb24"), frame.rotation or 0)


def _run_chunk(path: str, chunk: Chunk, order: list[int], out: str) -> int:
    assert _settings is not None
    n = 0
    with open(out, "wb") as f:  # the reader follows it as it grows (partial frames wait)
        for alpha in matte_chunk(path, chunk, order, _settings, _session):
            body = pack(alpha)
            f.write(_LEN.pack(len(body)) + body)
            f.flush()
            n += 1
            if os.getppid() != _parent:  # the caller was killed: nobody will read this
                raise SystemExit(1)
    return n


def matte_chunk(path: str, chunk: Chunk, order: list[int], settings: Settings,
                session: Any) -> Iterator[np.ndarray]:
    """The alpha of each frame of `chunk`, the state warmed on its `lead` frames first.
    Here (a spawn worker) and in a Ray task (rayvideo.py) alike."""
    fps, pixels = _rate_and_pixels(path)
    matter = TemporalMatter(session, size=settings.video_size,
                            warmup=TemporalMatter.warmup_for(fps, pixels))
    frames = _decoded(path, chunk, order)

    def lead() -> Iterator[np.ndarray]:
        for _ in range(chunk.lead):
            yield next(frames)[1]

    def rest() -> Iterator[np.ndarray]:
        for _, rgb in frames:
            yield rgb

    yield from matter.frames(rest(), lead=lead() if chunk.lead else ())


def pack(alpha: np.ndarray) -> bytes:
    """An alpha frame as bytes: its height, width, then its pixels deflated (level 1)."""
    h, w = alpha.shape
    return _LEN.pack(h) + _LEN.pack(w) + zlib.compress(np.ascontiguousarray(alpha).tobytes(), 1)


def unpack(body: bytes) -> np.ndarray:
    h, w = _LEN.unpack(body[:4])[0], _LEN.unpack(body[4:8])[0]
    return np.frombuffer(zlib.decompress(body[8:]), np.uint8).reshape(h, w)


def _rate_and_pixels(path: str) -> tuple[float, int]:
    with av.open(path) as c:
        s = c.streams.video[0]
        rate, pixels = s.average_rate, s.codec_context.width * s.codec_context.height
    return (float(rate) if rate else 25.0), pixels
