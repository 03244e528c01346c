"""Parallel chunks (video/chunks.py): keyframes read from the packets, the plan, and a clip
cut in two worker processes giving the same frames, timestamps and (nearly) the same alpha
as one process."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from humancut import Settings, remove_video
from humancut.bench.videoclips import Scene
from humancut.video import chunks, probe
from tests.support.clips import make_gop_clip

GOP = 12
SCENE = Scene(160, 120, 64)  # 64 frames at 15 fps: over chunks.MIN_SECONDS


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gop_clip(tmp_path_factory.mktemp("chunks") / "walk.mp4", SCENE, GOP)


def read_zip(path: Path) -> tuple[list[np.ndarray], list[str]]:
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png"))
        alphas = []
        for n in names:
            with z.open(n) as f:
                alphas.append(np.asarray(Image.open(f).getchannel("A"), np.int16))
        return alphas, z.read("timestamps.txt").decode().split()


def test_keyframes_from_packets(clip: Path) -> None:
    index = chunks.frame_index(clip)
    assert index is not None
    order, keys = index
    assert len(order) == SCENE.frames
    assert order == sorted(set(order))
    assert keys == list(range(0, SCENE.frames, GOP))


def test_plan_covers_the_clip_at_keyframes() -> None:
    keys = list(range(0, 300, 30))
    plan = chunks.plan(keys, 300, 3, lead=15)
    assert [c.start for c in plan] == [0, 90, 210]  # the keyframes nearest 100 and 200
    assert plan[0].start == 0 and plan[-1].stop == 300
    for a, b in zip(plan, plan[1:], strict=False):
        assert a.stop == b.start  # contiguous: every frame in exactly one chunk
    for c in plan[1:]:
        assert c.start in keys and c.lead == 15
        assert c.seek_pts is not None and c.seek_pts in keys and c.seek_pts <= c.start - c.lead
    assert plan[0].lead == 0 and plan[0].seek_pts is None
    assert len(chunks.plan([0], 300, 4, lead=15)) == 1  # no keyframe to split at


def test_short_or_single_worker_clips_stay_in_process(clip: Path, settings: Settings) -> None:
    info = probe(clip)
    assert chunks.chunked_alphas(clip, info, Settings.from_env(workers=1)) is None
    assert chunks.chunked_alphas(clip, info, Settings.from_env(workers=2, video_chunks="off")
                                 ) is None
    # auto: chunks only with a core to spare beside the workers
    cores = os.cpu_count() or 1
    assert chunks.chunked_alphas(clip, info, Settings.from_env(workers=cores)) is None


def test_chunked_output_matches_one_process(clip: Path, tmp_path: Path,
                                            settings: Settings) -> None:
    info = probe(clip)
    two = Settings.from_env(workers=2, video_chunks="on")
    alphas = chunks.chunked_alphas(clip, info, two)
    assert alphas is not None  # this clip is split
    assert sum(1 for _ in alphas) == SCENE.frames

    remove_video(clip, tmp_path / "one.zip", settings=Settings.from_env(workers=1))
    remove_video(clip, tmp_path / "two.zip", settings=two)
    one, one_times = read_zip(tmp_path / "one.zip")
    par, par_times = read_zip(tmp_path / "two.zip")
    assert len(par) == len(one) == SCENE.frames
    assert par_times == one_times
    diffs = [float(np.abs(a - b).mean()) for a, b in zip(one, par, strict=True)]
    # The chunk after the seam starts from a state warmed on the frames before it: close
    # to one pass's state, not equal (a cold start differs by far more on its first frames).
    assert max(diffs) < 4.0, diffs
    assert float(np.mean(diffs)) < 1.5, diffs
    for i, a in enumerate(par):
        left, top, right, bottom = SCENE.body(i)
        assert a[top:bottom, left:right].mean() > 200, i
