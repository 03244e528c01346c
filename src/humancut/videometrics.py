"""Video matting metrics, streamed frame by frame (../shared/spec/video.md, "Measuring
quality"; the definitions of Robust Video Matting's evaluation). Alpha in [0, 1].

A `VideoScore` keeps running sums and the previous frame only, so a clip is never held
whole. Reported scales: MAD and MSE x1e3, dtSSD x1e2, J as a fraction (1 = perfect),
`empty_above` as a percentage of pixels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics import iou

FIRST_FRAMES = 15  # a recurrent model starts cold: the first frames' MAD is kept apart

# Printed order, with each metric's scale and what a better value is.
VIDEO_METRICS = ("mad", "mse", "dtssd", "j", "mad_first", "empty_above")


@dataclass
class VideoScore:
    """Accumulates one clip's metrics: `add(pred, truth)` per frame, in order, then
    `result()`. A frame whose truth has no person pixel at all (every value 0) is "empty":
    the share of its pixels that the prediction puts above 0.5 is counted apart."""

    first: int = FIRST_FRAMES
    frames: int = 0
    _pixels: int = 0
    _abs: float = 0.0
    _sq: float = 0.0
    _first_abs: float = 0.0
    _first_pixels: int = 0
    # dtSSD of each step t >= 1 (unscaled), in order: to find where flicker is (a seam).
    dtssd_per_frame: list[float] = field(default_factory=list)
    _ious: float = 0.0
    _empty_frames: int = 0
    _empty_pixels: int = 0
    _empty_above: int = 0
    _prev: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        if pred.shape != truth.shape:
            raise ValueError(f"frame {self.frames}: prediction {pred.shape} and label "
                             f"{truth.shape} differ in size")
        a = np.asarray(pred, dtype=np.float64)
        g = np.asarray(truth, dtype=np.float64)
        diff = a - g
        absum = float(np.abs(diff).sum())
        self._abs += absum
        self._sq += float((diff * diff).sum())
        self._pixels += diff.size
        if self.frames < self.first:
            self._first_abs += absum
            self._first_pixels += diff.size
        if self._prev is not None:
            # The change the prediction makes from frame to frame that the truth does not.
            flicker = diff - (self._prev[0] - self._prev[1])
            self.dtssd_per_frame.append(float(np.sqrt(np.mean(flicker * flicker))))
        self._ious += iou(a, g)
        if not (g > 0).any():
            self._empty_frames += 1
            self._empty_pixels += g.size
            self._empty_above += int(np.count_nonzero(a > 0.5))
        self._prev = (a, g)
        self.frames += 1

    def result(self) -> dict[str, float | None]:
        """The clip's metrics; None where undefined (no frame; dtSSD of one frame; no
        empty frame)."""
        if not self.frames:
            return dict.fromkeys(VIDEO_METRICS) | {"frames": 0, "empty_frames": 0}
        return {
            "mad": self._abs / self._pixels * 1e3,
            "mse": self._sq / self._pixels * 1e3,
            "dtssd": float(np.mean(self.dtssd_per_frame)) * 1e2 if self.dtssd_per_frame else None,
            "j": self._ious / self.frames,
            "mad_first": self._first_abs / self._first_pixels * 1e3,
            "empty_above": (self._empty_above / self._empty_pixels * 100
                            if self._empty_pixels else None),
            "frames": self.frames,
            "empty_frames": self._empty_frames,
        }


def mean_of(results: list[dict[str, float | None]]) -> dict[str, float | None]:
    """The mean over clips of each metric (clips where it is undefined left out), as RVM's
    evaluation averages per clip; frames summed."""
    out: dict[str, float | None] = {}
    for name in VIDEO_METRICS:
        values = [r[name] for r in results if r.get(name) is not None]
        out[name] = float(np.mean(values)) if values else None  # type: ignore[arg-type]
    out["frames"] = sum(int(r.get("frames") or 0) for r in results)
    return out
