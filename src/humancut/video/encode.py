"""Writers of the output forms (docs/video.md). Each takes the frames in order with their
alpha and the audio frames as they come, and writes one file; the caller renames it into
place (so a failure leaves nothing under the final name).

Every form keeps the input's timestamps: a frame goes out with the pts it came in with, in
the input stream's time base (a variable frame rate stays variable), so the frame count,
the rate and the duration are the input's.

Size: the input's (upright). H.264 in `yuv420p` (mask, whiteBK / bg_color) needs an even
width and height: an odd one loses its last column or row (never padded, never scaled).
VP9 `yuva420p` and ProRes 4444 take odd sizes as they are.
"""

from __future__ import annotations

import io
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from .. import png
from ..errors import HumancutError

FORMS = ("webm", "mov", "png_zip", "mask", "whiteBK")
SUFFIXES = {"webm": ".webm", "mov": ".mov", "png_zip": ".zip", "mask": ".mp4",
            "whiteBK": ".mp4"}
FORM_OF_SUFFIX = {".webm": "webm", ".mov": "mov", ".zip": "png_zip"}

# form -> (container format, video codec, pixel format, codec options, audio codec)
_CODECS: dict[str, tuple[str, str, str, dict[str, str], str]] = {
    # realtime deadline, cpu-used 8, row-mt: VP9 at several times the speed of the default
    # "good" deadline; the alpha plane is a second VP9 stream inside the same frames.
    "webm": ("webm", "libvpx-vp9", "yuva420p",
             {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "32", "b": "0",
              "lag-in-frames": "0", "auto-alt-ref": "0"}, "libopus"),
    # ProRes 4444 with alpha; FFmpeg's prores_aw encoder, not prores_ks: the same profile and
    # alpha, a third of the CPU (measured at 720p: 37 against 125 ms a frame); prores_aw
    # refuses odd sizes, which go to prores_ks
    "mov": ("mov", "prores_aw", "yuva444p10le", {"profile": "4", "vendor": "apl0"}, "aac"),
    "mask": ("mp4", "libx264", "yuv420p", {"preset": "veryfast", "crf": "18"}, "aac"),
    "color": ("mp4", "libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}, "aac"),
}


def parse_colour(text: str) -> tuple[int, int, int]:
    """'ffffff', '#ff8800' or 'f80' as RGB; "invalid_parameter" otherwise."""
    hexa = text.strip().removeprefix("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    try:
        if len(hexa) != 6:
            raise ValueError
        return (int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16))
    except ValueError:
        raise HumancutError("invalid_parameter", f"bg_color must be a hex colour such as "
                            f"ffffff or #00ff00, not {text!r}.") from None


def composite(rgb: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """The frame over a plain colour, in integer arithmetic (no float copy of the frame)."""
    a = alpha[..., None].astype(np.uint16)
    bg = np.array(colour, np.uint16)
    out = rgb.astype(np.uint16) * a + bg * (255 - a) + 127
    return (out // 255).astype(np.uint8)


def plane_array(plane: Any, height: int, width: int, dtype: Any = np.uint8) -> np.ndarray:
    """A frame plane as a writable (height, width) array, its row padding left out."""
    item = np.dtype(dtype).itemsize
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[:height, :width * item].view(dtype)


def with_alpha(rgb: np.ndarray, alpha: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """A yuva420p or yuva444p10le frame: the colour planes converted by swscale from RGB,
    the alpha plane copied in (5x faster than converting an RGBA frame: no 4-channel copy,
    no alpha pass through swscale; 720p: 4 ms instead of 20)."""
    h, w = alpha.shape
    ten = pix_fmt == "yuva444p10le"
    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv444p10le" if ten else "yuv420p")
    frame = av.VideoFrame(w, h, pix_fmt)
    dtype = np.uint16 if ten else np.uint8
    ch, cw = (h, w) if ten else ((h + 1) // 2, (w + 1) // 2)
    for i, (ph, pw) in enumerate(((h, w), (ch, cw), (ch, cw))):
        plane_array(frame.planes[i], ph, pw, dtype)[...] = plane_array(yuv.planes[i], ph, pw,
                                                                       dtype)
    if ten:
        a16 = alpha.astype(np.uint16)
        plane_array(frame.planes[3], h, w, dtype)[...] = (a16 << 2) | (a16 >> 6)  # 8 -> 10 bit
    else:
        plane_array(frame.planes[3], h, w)[...] = alpha
    return frame


class Writer(Protocol):
    def video(self, rgb: np.ndarray, alpha: np.ndarray, pts: int | None, time: float) -> None: ...
    def audio(self, frame: av.AudioFrame) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class ContainerWriter:
    """webm, mov, mask and whiteBK / bg_color: one video stream, and the audio re-encoded
    for the container (Opus in WebM, AAC in MOV and MP4)."""

    def __init__(self, path: Path, form: str, *, width: int, height: int, rate: Fraction,
                 time_base: Fraction, audio: av.audio.stream.AudioStream | None = None,
                 colour: tuple[int, int, int] | None = None, threads: int = 0) -> None:
        kind = "color" if colour is not None else form
        fmt, codec, pix_fmt, options, audio_codec = _CODECS[kind]
        if codec == "prores_aw" and (width % 2 or height % 2):
            codec, options = "prores_ks", {"profile": "4", "vendor": "apl0", "alpha_bits": "16"}
        self.form, self.colour, self.pix_fmt = form, colour, pix_fmt
        even = pix_fmt == "yuv420p"
        self.width, self.height = (width - width % 2, height - height % 2) if even else (
            width, height)
        self.time_base = time_base
        self.out = av.open(str(path), "w", format=fmt)
        try:
            stream: Any = self.out.add_stream(codec, rate=rate, options=dict(options))
            self.stream = stream
            self.stream.width, self.stream.height = self.width, self.height
            self.stream.pix_fmt = pix_fmt
            self.stream.time_base = time_base
            self.stream.codec_context.time_base = time_base
            if threads:
                self.stream.codec_context.thread_count = threads
            if form == "mask":
                self.stream.codec_context.color_range = 2  # full range (JPEG): 0..255 = alpha
            if form == "webm":
                self.stream.metadata["alpha_mode"] = "1"  # Matroska's AlphaMode
            self.astream: Any = self._audio_stream(audio, audio_codec) if audio else None
        except Exception:
            self.out.close()
            raise
        self.last_pts = -1

    def _audio_stream(self, audio: av.audio.stream.AudioStream, codec: str) -> Any:
        rate = audio.codec_context.sample_rate or 48000
        if codec == "libopus":
            rate = 48000  # Opus runs at 48 kHz (8/12/16/24 kHz too; 48 fits all inputs)
        channels = audio.codec_context.channels or 2
        stream: Any = self.out.add_stream(codec, rate=rate)
        stream.layout = "mono" if channels == 1 else "stereo"
        return stream

    def video(self, rgb: np.ndarray, alpha: np.ndarray, pts: int | None, time: float) -> None:
        if rgb.shape[1] != self.width or rgb.shape[0] != self.height:
            rgb, alpha = rgb[:self.height, :self.width], alpha[:self.height, :self.width]
        frame = self._frame(rgb, alpha)
        if pts is None:
            pts = round(time / self.time_base)
        pts = max(pts, self.last_pts + 1)  # encoders refuse a pts that does not grow
        self.last_pts = pts
        frame.pts, frame.time_base = pts, self.time_base
        self.out.mux(self.stream.encode(frame))

    def _frame(self, rgb: np.ndarray, alpha: np.ndarray) -> av.VideoFrame:
        if self.form == "mask":
            h, w = alpha.shape
            yuv = np.empty((h * 3 // 2, w), np.uint8)
            yuv[:h] = alpha
            yuv[h:] = 128  # neutral chroma: grey
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.color_range = 2
            return frame
        if self.colour is not None:
            return av.VideoFrame.from_ndarray(composite(rgb, alpha, self.colour), format="rgb24")
        return with_alpha(rgb, alpha, self.pix_fmt)

    def audio(self, frame: av.AudioFrame) -> None:
        if self.astream is None:
            return
        frame.pts = None  # the encoder counts samples; the audio starts with the video
        self.out.mux(self.astream.encode(frame))

    def close(self) -> None:
        try:
            self.out.mux(self.stream.encode(None))
            if self.astream is not None:
                self.out.mux(self.astream.encode(None))
        finally:
            self.out.close()

    def abort(self) -> None:
        try:
            self.out.close()
        except Exception:  # noqa: BLE001, S110 - the file is deleted next anyway
            pass


class ZipWriter:
    """png_zip: RGBA PNG frames `frame_000001.png`... and `timestamps.txt` (one line per
    frame: its file name and its time in seconds), stored uncompressed (PNGs are)."""

    def __init__(self, path: Path, *, compress_level: int = 1, encoder: str = "isal") -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)
        self.count = 0
        self.times = io.StringIO()
        self.level, self.encoder = compress_level, encoder

    def video(self, rgb: np.ndarray, alpha: np.ndarray, pts: int | None, time: float) -> None:
        self.count += 1
        name = f"frame_{self.count:06d}.png"
        rgba = np.dstack((rgb, alpha))
        if self.encoder == "isal" and png.isal_zlib is not None:
            data = png.encode_array(rgba, "RGBA", min(self.level, 3))
        else:
            from PIL import Image

            data = png.encode(Image.fromarray(rgba, "RGBA"), self.level, "pillow")
        self.zip.writestr(name, data)
        self.times.write(f"{name} {time:.6f}\n")

    def audio(self, frame: av.AudioFrame) -> None:
        pass  # PNG frames carry no sound

    def close(self) -> None:
        try:
            self.zip.writestr("timestamps.txt", self.times.getvalue())
        finally:
            self.zip.close()

    def abort(self) -> None:
        self.zip.close()
