"""The systems a video quality report compares, each a function from a clip file to its
alpha frames (float32 HxW in [0, 1], 8-bit steps as delivered), in frame order:

- `humancut`: the product's own video path, `humancut.video.remove_video`, writing the
  lossless `png_zip` form; the alpha read back from the zip (what a user receives).
- `rvm`: the "RVM reference", Robust Video Matting as its authors recommend: recurrent state
  carried, the encoder's input downsampled so its long side is 512 px (their
  `auto_downsample_ratio`: min(512 / long side, 1)), no warm-up, no extras. Options (for
  experiments): `rvm:size=384,warmup=15,cleanup=1` (warm-up: the first frames run twice,
  the first time's output dropped; clean-up: the stills pipeline's per-frame clean-up).
- `stills`: humancut's stills engine (`Remover.matte`) run on each frame alone.
"""

from __future__ import annotations

import importlib
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ..engine import create_model, refine
from ..evaluate import delivered
from ..remover import Remover
from ..settings import Settings
from .clips import decode

Frames = Iterator[np.ndarray]
System = Callable[[Path, Settings], Frames]
REFERENCE_SIZE = 512  # RVM's auto_downsample_ratio: long side 512 px


def humancut_video(video: Path, settings: Settings) -> Frames:
    try:  # imported by name: the evaluation also runs (the references) in a build without it
        remove_video = importlib.import_module("humancut.video").remove_video
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"humancut's video path is not available: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="humancut-eval-") as tmp:
        out = Path(tmp) / "out.zip"
        remove_video(video, out, form="png_zip", settings=settings)
        with zipfile.ZipFile(out) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".png"))
            for name in names:
                with zf.open(name) as f:
                    img = Image.open(f)
                    img.load()
                yield np.asarray(img.getchannel("A"), np.float32) / 255


def _session(settings: Settings):  # noqa: ANN202 - an onnxruntime session
    model = create_model(settings)
    session = getattr(model, "session", None)
    if session is None:
        raise RuntimeError(f"the RVM reference needs the RVM model, not {settings.model}")
    return session


def rvm_reference(video: Path, settings: Settings, *, size: int = REFERENCE_SIZE,
                  warmup: int = 0, cleanup: bool = False) -> Frames:
    session = _session(settings)
    state = [np.zeros((1, 1, 1, 1), np.float32)] * 4

    def run(rgb: np.ndarray) -> np.ndarray:
        nonlocal state
        h, w = rgb.shape[:2]
        ratio = np.array([min(1.0, size / max(h, w))], np.float32)
        src = (rgb.astype(np.float32) / 255).transpose(2, 0, 1)[None]
        _, pha, *state = session.run(None, {"src": src, "r1i": state[0], "r2i": state[1],
                                            "r3i": state[2], "r4i": state[3],
                                            "downsample_ratio": ratio})
        alpha = np.clip(pha[0, 0], 0, 1)
        if cleanup:
            alpha = refine.clean_up(alpha, settings.bystander_share)
        return delivered(alpha)

    if warmup:
        for rgb in decode(video, warmup):
            run(rgb)  # the state warms; this output is dropped
    for rgb in decode(video):
        yield run(rgb)


def stills_per_frame(video: Path, settings: Settings) -> Frames:
    remover = Remover(settings)
    for rgb in decode(video):
        yield delivered(remover.matte(rgb, require_person=False).alpha)


SYSTEMS: dict[str, System] = {"humancut": humancut_video, "rvm": rvm_reference,
                              "stills": stills_per_frame}


def system(spec: str) -> System:
    """A system by name, with options for the RVM reference (`rvm:size=384,warmup=15`)."""
    name, _, opts = spec.partition(":")
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    if not opts:
        return SYSTEMS[name]
    if name != "rvm":
        raise ValueError(f"system {name!r} takes no options ({spec!r})")
    kwargs: dict[str, int] = {}
    for item in opts.split(","):
        key, _, value = item.partition("=")
        if key not in ("size", "warmup", "cleanup") or not value.isdigit():
            raise ValueError(f"bad option {item!r} in {spec!r}: size=N, warmup=N, cleanup=0|1")
        kwargs[key] = int(value)

    def variant(video: Path, settings: Settings) -> Frames:
        return rvm_reference(video, settings, size=kwargs.get("size", REFERENCE_SIZE),
                             warmup=kwargs.get("warmup", 0),
                             cleanup=bool(kwargs.get("cleanup", 0)))

    return variant
