"""Score systems on labelled clips: per clip and system, the streamed video metrics; the
mean over clips; the quality targets of issue 27 checked against the references."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import Settings
from ..videometrics import VIDEO_METRICS, VideoScore, mean_of
from .clips import LabelledClip, trimmed
from .systems import system

# column, header, format: MAD/MSE x1e3, dtSSD x1e2, J as a fraction, empty-frame share in %.
COLUMNS = (("mad", "MAD", "{:7.2f}"), ("mse", "MSE", "{:7.2f}"), ("dtssd", "dtSSD", "{:6.2f}"),
           ("j", "J", "{:6.4f}"), ("mad_first", "MAD15", "{:7.2f}"),
           ("empty_above", "empty%", "{:7.3f}"), ("fps", "fps", "{:6.2f}"))


@dataclass
class VideoReport:
    folder: str
    systems: list[str]
    per_clip: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # clip->sys
    means: dict[str, dict[str, Any]] = field(default_factory=dict)  # system -> metrics

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "systems": self.systems, "per_clip": self.per_clip,
                "means": self.means, "targets": targets(self.means)}


def score_clip(clip: LabelledClip, spec: str, settings: Settings) -> dict[str, Any]:
    """One system on one clip. The time counts the system's whole path (decode, model,
    and for humancut the png_zip it writes), not the metric maths."""
    score = VideoScore()
    truth = clip.truth()
    seconds = 0.0
    frames = system(spec)(clip.video, settings)
    while True:
        start = time.perf_counter()
        alpha = next(frames, None)
        seconds += time.perf_counter() - start
        gt = next(truth, None)
        if alpha is None or gt is None:
            break  # scored while both last: labels may stop short of the clip
        score.add(alpha, gt)
    result = score.result()
    result["fps"] = score.frames / seconds if seconds else None
    return result


def evaluate_clips(clips: list[LabelledClip], specs: list[str], settings: Settings, *,
                   max_frames: int | None = None, folder: str = "",
                   progress: Callable[[str], None] | None = None) -> VideoReport:
    report = VideoReport(folder, specs)
    with tempfile.TemporaryDirectory(prefix="humancut-eval-clips-") as tmp:
        for clip in clips:
            if max_frames:  # every system on the same first frames
                clip = trimmed(clip, max_frames, Path(tmp))
            report.per_clip[clip.name] = {}
            for spec in specs:
                if progress:
                    progress(f"{clip.name} / {spec}")
                report.per_clip[clip.name][spec] = score_clip(clip, spec, settings)
    for spec in specs:
        results = [per[spec] for per in report.per_clip.values()]
        report.means[spec] = mean_of(results)
        fps = [r["fps"] for r in results if r.get("fps")]
        report.means[spec]["fps"] = sum(fps) / len(fps) if fps else None
    return report


def targets(means: dict[str, dict[str, Any]], ours: str = "humancut", rvm: str = "rvm",
            stills: str = "stills") -> dict[str, bool | None]:
    """Issue 27's quality targets on these clips (None: not measurable here, e.g. a system
    not run, or no empty frame)."""
    us, ref, per_frame = means.get(ours), means.get(rvm), means.get(stills)

    def cmp(a: Any, b: Any, check: Callable[[float, float], bool]) -> bool | None:
        return None if a is None or b is None else check(a, b)

    if us is None:
        return {}
    out = {"mad_le_rvm": cmp(us["mad"], ref and ref["mad"], lambda a, b: a <= b),
           "dtssd_le_rvm": cmp(us["dtssd"], ref and ref["dtssd"], lambda a, b: a <= b),
           "dtssd_le_0.75_stills": cmp(us["dtssd"], per_frame and per_frame["dtssd"],
                                       lambda a, b: a <= 0.75 * b),
           "j_ge_rvm": cmp(us["j"], ref and ref["j"], lambda a, b: a >= b),
           "mad15_le_1.5_mad": cmp(us["mad_first"], us["mad"], lambda a, b: a <= 1.5 * b),
           "empty_le_0.1%": cmp(us["empty_above"], 0.1, lambda a, b: a <= b)}
    return out


def table(report: VideoReport) -> str:
    """The report as a plain-text table: a row per clip and system, then the means."""
    width = max([len(s) for s in report.systems] + [8])
    head = f"{'clip':18} {'system':{width}} {'frames':>6} " + " ".join(
        f"{h:>{len(fmt.format(0))}}" for _, h, fmt in COLUMNS)
    lines = [head]

    def row(clip: str, spec: str, r: dict[str, Any]) -> str:
        cells = [(fmt.format(r[k]) if r.get(k) is not None else f"{'-':>{len(fmt.format(0))}}")
                 for k, _, fmt in COLUMNS]
        return f"{clip:18} {spec:{width}} {r.get('frames', 0):6d} " + " ".join(cells)

    for clip, per in report.per_clip.items():
        lines += [row(clip, spec, per[spec]) for spec in report.systems]
    lines += [row("mean", spec, report.means[spec]) for spec in report.systems]
    marks = targets(report.means)
    if marks:
        lines.append("targets: " + ", ".join(
            f"{k} {'-' if v is None else ('pass' if v else 'FAIL')}" for k, v in marks.items()))
    return "\n".join(lines)


__all__ = ["COLUMNS", "VIDEO_METRICS", "VideoReport", "evaluate_clips", "table", "targets"]
