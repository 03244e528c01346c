"""Quality through a running server: every labelled photo of the shared sets sent as a
request, the returned PNG's alpha scored against its label (the same metrics as `humancut
eval`). Measured over HTTP, so humancut's presets and rembg are scored the same way."""

from __future__ import annotations

import asyncio
import io
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..evaluate import pairs, read_label
from ..metrics import score
from .photos import EVAL_SETS
from .servers import BenchServer

SHOWN = ("iou", "sad", "mse", "edge_mad")


def alpha_of(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    return np.asarray(img.getchannel("A") if "A" in img.getbands() else img.convert("L"),
                      dtype=np.float32) / 255


async def _score_set(server: BenchServer, root: Path) -> dict[str, float]:
    import httpx

    scores = []
    async with httpx.AsyncClient(timeout=300) as client:
        for image, label in pairs(root / "images", root / "alpha"):
            truth = read_label(label)
            try:
                _, _, png = await server.call(client, image.name, image.read_bytes())
                alpha = alpha_of(png)
            except RuntimeError:  # e.g. "no person": scored as an empty cut-out
                alpha = np.zeros_like(truth)
            scores.append(score(alpha, truth))
    return {k: statistics.fmean(s[k] for s in scores) for k in SHOWN} | {"images": len(scores)}


def score_server(server: BenchServer, eval_dir: Path) -> dict[str, Any]:
    """Mean scores per labelled set found under `eval_dir` (<set>/images, <set>/alpha)."""
    return {name: asyncio.run(_score_set(server, eval_dir / name)) for name in EVAL_SETS
            if (eval_dir / name / "alpha").is_dir()}
