"""The temporal engine: Robust Video Matting run as the video model it is.

- Recurrent state (r1..r4) carried from frame to frame: what the model learnt in one frame
  helps the next, and the matte does not flicker as a still-per-frame matte does.
- Downsample ratio from the frame size: the encoder sees the frame with its long side about
  `size` px (RVM's authors: 256-512), the deep guided filter brings alpha back to full size.
- Cold start: the state starts at zero, and RVM's first frames are worse than the rest. So a
  segment's first `warmup` frames (about one second, at most 64 MiB of them) are run once
  to warm the state, their output dropped, and then again from the warm state; the warming
  pass runs on the frames already downscaled to the encoder's size (ratio 1: the state has
  the same shapes), so it costs a fraction of a full pass.
- Hard scene cuts: the mean absolute difference of small colour thumbnails of consecutive
  frames jumps (measured: 0.15-0.18 across cuts between the DAVIS clips and bedroom.mp4,
  at most 0.06 within them, fast dancing and camera pans included), and stands out from the
  clip's recent differences (a long fast pan is no cut). The state of the old scene would
  smear into the new one, so a cut starts a new segment (state reset, warmed again).
- The stills pipeline's clean-up steps are not used: each works on one frame alone and
  adds flicker (docs/video.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..engine import locate
from ..engine.onnx import create_session
from ..engine.rvm import RVM_MOBILENETV3
from ..settings import Settings

VIDEO_SIZE = 512  # default long side (px) the encoder sees (Settings.video_size)
THUMB = (32, 18)  # the scene-cut thumbnail (w, h)
CUT_THRESHOLD = 0.12  # mean |RGB difference| (0..1) of two thumbnails that is a hard cut
CUT_CONTRAST = 2.5  # ... and that many times the recent mean difference
WARMUP_SECONDS = 1.0
MAX_WARMUP = 30  # frames buffered at most for the warming pass (memory: full-size frames)
WARMUP_BYTES = 64 * 2**20  # ... and at most this much of them (1080p: 10 frames, 720p: 23)


def video_session(settings: Settings) -> ort.InferenceSession:
    """An onnxruntime session of RVM (the video path is RVM's own recurrent use)."""
    path = locate(RVM_MOBILENETV3, settings.model_dir, settings.model_path)
    return create_session(path, device=settings.device, threads=settings.threads)


def ratio_for(height: int, width: int, size: int) -> float:
    """The downsample ratio that makes the long side about `size` px (never above 1)."""
    return min(1.0, size / max(height, width))


def thumbnail(small: np.ndarray) -> np.ndarray:
    thumb = Image.fromarray(small).resize(THUMB, Image.Resampling.BILINEAR)
    return np.asarray(thumb, dtype=np.float32) * (1 / 255)


@dataclass
class _Pending:
    rgb: np.ndarray
    small: np.ndarray


class TemporalMatter:
    """Alpha for a stream of frames of one clip (all the same size), state carried along.

    >>> matter = TemporalMatter(session)
    >>> for alpha in matter.frames(rgb_frames):   # uint8 HxW each, in order
    ...     ...

    `session` is an onnxruntime session of RVM (engine.rvm). `warmup`: frames in a warming
    pass (0 = none); `cut_threshold`: None turns scene-cut detection off.
    """

    def __init__(self, session: ort.InferenceSession, *, size: int = VIDEO_SIZE,
                 warmup: int = 15, cut_threshold: float | None = CUT_THRESHOLD) -> None:
        self.session = session
        self.size = size
        self.warmup = max(0, min(warmup, MAX_WARMUP))
        self.cut_threshold = cut_threshold
        self.cuts: list[int] = []  # frame indices where a new scene was found (for reports)
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros((1, 1, 1, 1), np.float32)] * 4

    @staticmethod
    def warmup_for(fps: float, pixels: int = 0) -> int:
        """About WARMUP_SECONDS of frames, at most MAX_WARMUP and WARMUP_BYTES of frames of
        `pixels` each (the warming pass holds them; memory stays bounded at 1080p)."""
        most = min(MAX_WARMUP, WARMUP_BYTES // (3 * pixels)) if pixels else MAX_WARMUP
        return max(1, min(most, round((fps or 25.0) * WARMUP_SECONDS)))

    def _run(self, rgb: np.ndarray, ratio: float) -> np.ndarray:
        src = np.empty((1, 3, *rgb.shape[:2]), np.float32)
        np.multiply(rgb.transpose(2, 0, 1), np.float32(1 / 255), out=src[0])
        _, pha, *self.state = self.session.run(None, {
            "src": src, "r1i": self.state[0], "r2i": self.state[1], "r3i": self.state[2],
            "r4i": self.state[3], "downsample_ratio": np.array([ratio], np.float32)})
        return pha[0, 0]

    def step(self, rgb: np.ndarray) -> np.ndarray:
        """One frame, state carried: alpha uint8 HxW."""
        h, w = rgb.shape[:2]
        pha = self._run(rgb, ratio_for(h, w, self.size))
        out = np.empty(pha.shape, np.uint8)
        np.clip(pha * 255 + 0.5, 0, 255, out=pha)
        np.copyto(out, pha, casting="unsafe")
        return out

    def small(self, rgb: np.ndarray) -> np.ndarray:
        """The frame at the encoder's size (what the model itself downsamples it to)."""
        h, w = rgb.shape[:2]
        r = ratio_for(h, w, self.size)
        if r >= 1:
            return rgb
        size = (max(1, int(w * r)), max(1, int(h * r)))
        return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))

    def warm(self, smalls: Iterable[np.ndarray]) -> None:
        """Run frames (at the encoder's size) to warm the state; their alpha is dropped."""
        for small in smalls:
            self._run(small, 1.0)

    def frames(self, rgbs: Iterable[np.ndarray], *, lead: Iterable[np.ndarray] = (),
               ) -> Iterator[np.ndarray]:
        """Alpha (uint8 HxW) for each frame of `rgbs`, in order. `lead`: frames just before
        the first (a chunk's warm-up frames): run to warm the state, output dropped; then no
        warming pass at the start. The state is reset on a hard cut and warmed again."""
        self.reset()
        self.cuts = []
        prev: np.ndarray | None = None
        recent = 0.0  # moving mean of the frame-to-frame differences
        pending: list[_Pending] = []
        for rgb in lead:
            small = self.small(rgb)
            self.warm([small])
            prev = thumbnail(small)
        collecting = prev is None and self.warmup > 0
        for index, rgb in enumerate(rgbs):
            small = self.small(rgb)
            thumb = thumbnail(small)
            diff = float(np.abs(thumb - prev).mean()) if prev is not None else 0.0
            cut = self.cut_threshold is not None and diff > self.cut_threshold and \
                diff > CUT_CONTRAST * recent
            recent = diff if cut else 0.8 * recent + 0.2 * diff
            if cut:
                yield from self._flush(pending)
                self.cuts.append(index)
                self.reset()
                collecting = self.warmup > 0
            prev = thumb
            if not collecting:
                yield self.step(rgb)
                continue
            pending.append(_Pending(rgb, small))
            if len(pending) >= self.warmup:
                yield from self._flush(pending)
                collecting = False
        yield from self._flush(pending)

    def _flush(self, pending: list[_Pending]) -> Iterator[np.ndarray]:
        """A new segment's first frames: warm the state on them, then matte them."""
        if not pending:
            return
        self.warm(p.small for p in pending)
        for p in pending:
            yield self.step(p.rgb)
        pending.clear()
