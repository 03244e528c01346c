"""`humancut bench video --seams`: does a chunk seam show? (issue 27, item 5)

Each labelled clip (DAVIS, composites) is re-encoded with a keyframe every GOP frames
(lossless), then matted twice by video/chunks.py: as one chunk (one pass, the state carried
through) and cut into `workers` chunks at keyframes (each warmed on the frames before it).
The flicker at a seam is the dtSSD of the step into a chunk's first frame; it is compared
with the dtSSD of every other step of the same chunked run and with the single pass's dtSSD
at the same steps. dtSSD x1e2, as in the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np

from ..settings import Settings
from ..video import probe
from ..video.chunks import Chunk, alphas_in_chunks, frame_index, plan
from ..video.matting import TemporalMatter
from ..videoeval.clips import LabelledClip, decode
from ..videometrics import VideoScore
from .videoclips import Clip

GOP = 12


def _with_keyframes(src: Path, dst: Path) -> Path:
    with av.open(str(src)) as c:
        rate = c.streams.video[0].average_rate or 24
    with av.open(str(dst), "w") as out:
        s: Any = out.add_stream("libx264", rate=rate)
        s.pix_fmt = "yuv420p"
        s.options = {"qp": "0", "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0"}
        for i, rgb in enumerate(decode(src)):
            if i == 0:
                s.width, s.height = rgb.shape[1], rgb.shape[0]
            out.mux(s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(s.encode(None))
    return dst


def _score(alphas: Any, labels: LabelledClip) -> VideoScore:
    score = VideoScore()
    for a, g in zip(alphas, labels.truth(), strict=False):
        score.add(a.astype(np.float32) / 255, g)
    return score


def seams(clips: list[Clip], workers: int, work: Path) -> dict[str, Any]:
    settings = Settings.from_env(workers=workers)
    at_seam, elsewhere, single_at_seam, single_all = [], [], [], []
    per_clip = {}
    for clip in clips:
        assert clip.labelled is not None
        path = _with_keyframes(clip.path, work / (clip.name.replace("/", "-") + ".mp4"))
        info = probe(path)
        index = frame_index(path)
        assert index is not None
        order, keys = index
        parts = plan(keys, len(order), workers, TemporalMatter.warmup_for(info.fps))
        one = _score(alphas_in_chunks(path, info, settings, [Chunk(0, len(order), 0, None)],
                                      order), clip.labelled)
        many = _score(alphas_in_chunks(path, info, settings, parts, order), clip.labelled)
        steps = {c.start - 1 for c in parts[1:]}  # dtssd_per_frame[t-1]: step t-1 -> t
        a, b = list(many.dtssd_per_frame), list(one.dtssd_per_frame)
        at_seam += [a[t] for t in steps]
        single_at_seam += [b[t] for t in steps]
        elsewhere += [v for t, v in enumerate(a) if t not in steps]
        single_all += b
        per_clip[clip.name] = {"seams": [c.start for c in parts[1:]],
                               "chunked": many.result()["dtssd"],
                               "single": one.result()["dtssd"],
                               "j_chunked": many.result()["j"], "j_single": one.result()["j"]}
    mean = (lambda v: float(np.mean(v)) * 100 if v else None)  # noqa: E731
    return {"workers": workers, "gop": GOP, "seams": len(at_seam),
            "dtssd_at_seams": mean(at_seam), "dtssd_elsewhere": mean(elsewhere),
            "single_pass_at_seams": mean(single_at_seam), "single_pass_all": mean(single_all),
            "clips": per_clip}


def render_seams(r: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [f"seams: {r['seams']} (chunks of {r['workers']} workers, keyframe every "
             f"{r['gop']} frames), dtSSD x1e2",
             "| steps | chunked | single pass |", "|---|---|---|",
             f"| into a chunk's first frame (seam) | {f(r['dtssd_at_seams'])} | "
             f"{f(r['single_pass_at_seams'])} |",
             f"| every other step | {f(r['dtssd_elsewhere'])} | {f(r['single_pass_all'])} "
             "(all steps) |", "", "| clip | seams at | dtSSD chunked | dtSSD single | "
             "J chunked | J single |", "|---|---|---|---|---|---|"]
    for name, c in r["clips"].items():
        lines.append(f"| {name} | {c['seams']} | {f(c['chunked'])} | {f(c['single'])} | "
                     f"{c['j_chunked']:.4f} | {c['j_single']:.4f} |")
    return "\n".join(lines)
