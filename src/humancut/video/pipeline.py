"""remove_video: decode -> temporal matting -> encode, streamed; the output written
atomically (a temporary file beside the destination, renamed into place at the end; on any
failure it is deleted and nothing is left under the destination's name)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import onnxruntime as ort

from ..errors import HumancutError
from ..settings import Settings
from . import chunks, decode, encode
from .matting import TemporalMatter, video_session
from .probe import ClipInfo, Source, VideoLimits, check_bytes, check_limits, header_info, open_input

Progress = Callable[[int, int], None]
# Who makes the alphas of a clip (a path) when not this process: the local chunks, or Ray
# tasks across a cluster (rayvideo.py); None from it: matte here.
AlphaSource = Callable[[Path, ClipInfo, Settings], "Iterator[Any] | None"]


@dataclass
class VideoSummary:
    frames: int
    duration: float  # seconds, of the input (and so of the output)
    width: int  # of the output
    height: int
    fps: float  # the input's (and the output's) average frame rate
    form: str
    seconds: float = 0.0  # wall time, end to end
    fps_achieved: float = 0.0  # frames / seconds
    stages: dict[str, float] = field(default_factory=dict)  # decode, matting, encode (s)
    cuts: list[int] = field(default_factory=list)  # frames where a new scene started

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_form(dst: Source, form: str | None, bg_color: str | None
                 ) -> tuple[str, tuple[int, int, int] | None]:
    """The form and the background colour from the arguments and dst's ending: .webm, .mov,
    .zip name their form, .mp4 whiteBK (or `bg_color`); a file object: webm."""
    suffix = Path(dst).suffix.lower() if isinstance(dst, (str, Path)) else ""
    named = encode.FORM_OF_SUFFIX.get(suffix) or (
        ("mask" if form == "mask" else "whiteBK") if suffix in (".mp4", ".m4v") else None)
    if form is None:
        form = named or ("whiteBK" if bg_color else "webm")
    if form not in encode.FORMS:
        raise HumancutError("invalid_parameter", f"form must be one of "
                            f"{', '.join(encode.FORMS)}, not {form!r}.")
    if suffix and named != form:
        raise HumancutError("invalid_parameter", f"{Path(str(dst)).name} does not fit the "
                            f"{form} form: its file ends in {encode.SUFFIXES[form]}.")
    if bg_color is not None and form != "whiteBK":
        raise HumancutError("invalid_parameter", "bg_color goes with the whiteBK form "
                            "(an opaque clip on that colour).")
    colour = encode.parse_colour(bg_color or "ffffff") if form == "whiteBK" else None
    return form, colour


class _Clock:
    """Seconds per stage; a stage's time excludes the stages it pulls from."""

    def __init__(self) -> None:
        self.stages = {"decode": 0.0, "matting": 0.0, "encode": 0.0}

    def timed(self, it: Iterator[Any], stage: str) -> Iterator[Any]:
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.stages[stage] += time.perf_counter() - t
                return
            self.stages[stage] += time.perf_counter() - t
            yield item


def remove_video(src: Source, dst: str | Path | IO[bytes], *, form: str | None = None,
                 bg_color: str | None = None, settings: Settings | None = None,
                 progress: Progress | None = None, limits: VideoLimits | None = None,
                 session: ort.InferenceSession | None = None,
                 alphas_from: AlphaSource | None = None) -> VideoSummary:
    """Cut the people out of the clip `src` (a path or a binary file) into `dst` (a path or
    a writable binary file) in `form` (encode.FORMS; None: from dst's ending, else webm).
    `progress(frames_done, frames_total)` after each frame; `session`: an RVM session to
    reuse; `alphas_from`: where a clip's chunks run (default: processes of this machine,
    when settings.workers > 1). Raises HumancutError; nothing is left at dst then."""
    settings = settings or Settings.from_env()
    limits = limits or VideoLimits.of(settings)
    form, colour = resolve_form(dst, form, bg_color)
    check_bytes(src, limits)
    start = time.perf_counter()
    with open_input(src) as container:
        info = header_info(container)
        check_limits(info, limits)  # before the model is loaded or a frame decoded
        tmp, final = _temporary(dst, form)
        try:
            alphas = (chunks.chunked_alphas if alphas_from is None else alphas_from)(
                Path(src), info, settings) if isinstance(src, (str, Path)) else None
            if alphas is None:  # this process mattes: the model is loaded here, once
                session = session or video_session(settings)
            summary = _run(container, info, tmp, form, colour, session, settings, limits,
                           progress, alphas)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _publish(tmp, final, dst)
    summary.seconds = time.perf_counter() - start
    summary.fps_achieved = summary.frames / summary.seconds if summary.seconds else 0.0
    return summary


def _temporary(dst: str | Path | IO[bytes], form: str) -> tuple[Path, Path | None]:
    """A temporary file for the output: beside dst (same file system: the rename is atomic)
    or, for a file object, in the system's temporary folder."""
    folder = Path(dst).parent if isinstance(dst, (str, Path)) else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    name = Path(folder or tempfile.gettempdir()) / (
        f".humancut-{uuid.uuid4().hex[:12]}{encode.SUFFIXES[form]}.part")
    # O_EXCL: a name of our own; mode 0666 less the umask, as any new file (mkstemp's 0600
    # would carry over to the result)
    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return name, Path(dst) if isinstance(dst, (str, Path)) else None


def _publish(tmp: Path, final: Path | None, dst: str | Path | IO[bytes]) -> None:
    try:
        if final is not None:
            tmp.replace(final)
            return
        with open(tmp, "rb") as f:
            shutil.copyfileobj(f, dst)  # type: ignore[arg-type]
    finally:
        tmp.unlink(missing_ok=True)


def _writer(tmp: Path, form: str, colour: tuple[int, int, int] | None, width: int,
            height: int, info: ClipInfo, container: Any, settings: Settings) -> encode.Writer:
    if form == "png_zip":
        return encode.ZipWriter(tmp, compress_level=settings.png_compress_level,
                                encoder=settings.png_encoder)
    stream = container.streams.video[0]
    rate = stream.average_rate or Fraction(info.fps).limit_denominator(1001) or Fraction(25)
    audio = container.streams.audio[0] if container.streams.audio else None
    return encode.ContainerWriter(tmp, form, width=width, height=height, rate=rate,
                                  time_base=stream.time_base or Fraction(1, 90000),
                                  audio=audio, colour=colour)


def paired(frames: Iterator[decode.Frame], matter: TemporalMatter | None,
           alphas: Iterator[Any] | None = None) -> Iterator[tuple[decode.Frame, Any]]:
    """Each decoded frame with its alpha: from `matter` (this process), or from `alphas`
    when another stage made them (video.chunks: the same frames, in the same order)."""
    if alphas is not None:
        yield from zip(frames, alphas, strict=True)
        return
    assert matter is not None
    waiting: deque[decode.Frame] = deque()  # decoded, waiting for their alpha

    def rgbs() -> Iterator[Any]:
        for frame in frames:
            waiting.append(frame)
            yield frame.rgb

    for alpha in matter.frames(rgbs()):
        yield waiting.popleft(), alpha


class _Encoder:
    """The writer on its own thread, fed in order (video frames and audio alike) through a
    short queue: encoding overlaps decoding and the model (PyAV and onnxruntime release the
    GIL), and at most QUEUE frames wait."""

    QUEUE = 4

    def __init__(self, make: Callable[[decode.Frame], encode.Writer]) -> None:
        self.make = make
        self.writer: encode.Writer | None = None
        self.early: list[Any] = []  # audio demuxed before the first frame made the writer
        self.seconds = 0.0
        self.pool = ThreadPoolExecutor(1, "humancut-encode")
        self.pending: deque[Future[None]] = deque()

    def _do(self, job: Callable[[], None]) -> None:
        while len(self.pending) >= self.QUEUE:
            self.pending.popleft().result()  # raises the writer's error here
        self.pending.append(self.pool.submit(self._timed, job))

    def _timed(self, job: Callable[[], None]) -> None:
        t = time.perf_counter()
        job()
        self.seconds += time.perf_counter() - t

    def audio(self, frame: Any) -> None:
        if self.writer is None and not self.pending:
            self.early.append(frame)
        else:
            self._do(lambda: self.writer.audio(frame))  # type: ignore[union-attr]

    def video(self, frame: decode.Frame, alpha: Any) -> None:
        if self.writer is None:
            self.writer = self.make(frame)
            for early in self.early:
                self.writer.audio(early)
            self.early.clear()
        writer = self.writer
        self._do(lambda: writer.video(frame.rgb, alpha, frame.pts, frame.time))

    def close(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
            if self.writer is None:
                raise HumancutError("undecodable", "The video has no frame that can be decoded.")
            self._timed(self.writer.close)
        finally:
            self.pool.shutdown()

    def abort(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        if self.writer is not None:
            self.writer.abort()


def _run(container: Any, info: ClipInfo, tmp: Path, form: str,
         colour: tuple[int, int, int] | None, session: ort.InferenceSession | None,
         settings: Settings, limits: VideoLimits, progress: Progress | None,
         alphas: Iterator[Any] | None = None) -> VideoSummary:
    clock = _Clock()

    def make(frame: decode.Frame) -> encode.Writer:
        h, w = frame.rgb.shape[:2]
        return _writer(tmp, form, colour, w, h, info, container, settings)

    encoder = _Encoder(make)
    frames = decode.frames(container, on_audio=encoder.audio, max_seconds=(
        None if info.duration else limits.max_seconds))
    matter = None if session is None else TemporalMatter(
        session, size=settings.video_size,
        warmup=TemporalMatter.warmup_for(info.fps, info.width * info.height))
    done, first_time, last_time = 0, None, 0.0
    try:
        for frame, alpha in clock.timed(paired(clock.timed(frames, "decode"), matter, alphas),
                                        "matting"):
            encoder.video(frame, alpha)
            done += 1
            first_time = frame.time if first_time is None else first_time
            last_time = frame.time
            if progress is not None:
                progress(done, max(done, info.frames))
        encoder.close()
    except BaseException:
        encoder.abort()
        raise
    clock.stages["matting"] -= clock.stages["decode"]  # matting pulled the decoder
    clock.stages["encode"] = encoder.seconds  # on its own thread, overlapping the others
    writer = encoder.writer
    out_w, out_h = getattr(writer, "width", info.width), getattr(writer, "height", info.height)
    fps = info.fps or (done - 1) / max(last_time - (first_time or 0.0), 1e-9)
    duration = info.duration or done / fps
    return VideoSummary(frames=done, duration=duration, width=out_w, height=out_h, fps=fps,
                        form=form, stages=clock.stages, cuts=matter.cuts if matter else [])
