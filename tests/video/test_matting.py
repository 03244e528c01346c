"""The temporal engine on its own: one alpha per frame in order, the warming pass, lead
frames, scene cuts, and the ratio chosen from the frame size."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from humancut.bench.videoclips import Scene
from humancut.video.matting import TemporalMatter, ratio_for
from humancut.video.pipeline import paired


def test_ratio_from_the_frame_size() -> None:
    assert ratio_for(720, 1280, 384) == pytest.approx(0.3)
    assert ratio_for(1080, 1920, 384) == pytest.approx(0.2)
    assert ratio_for(120, 160, 384) == 1.0  # never upscaled
    assert TemporalMatter.warmup_for(30) == 30
    assert TemporalMatter.warmup_for(60, 1920 * 1080) == 10  # bounded by memory
    assert TemporalMatter.warmup_for(0) == 25


def test_the_warming_pass_starts_warm(session: Any) -> None:
    """On a still scene, the first frame's alpha after the warming pass is nearer the settled
    alpha than a cold start's."""
    frame = Scene(192, 144, 2).frame(0)
    cold = list(TemporalMatter(session, warmup=0).frames([frame] * 12))
    warm = list(TemporalMatter(session, warmup=8).frames([frame] * 12))
    assert len(cold) == len(warm) == 12
    settled = cold[-1].astype(float)
    assert np.abs(warm[0] - settled).mean() < 0.5 * np.abs(cold[0] - settled).mean()


def test_cuts_and_lead_frames(session: Any) -> None:
    scene = Scene(192, 144, 20, cut_at=9)
    frames = [scene.frame(i) for i in range(20)]
    matter = TemporalMatter(session, warmup=4)
    alphas = list(matter.frames(frames))
    assert len(alphas) == 20 and matter.cuts == [9]
    assert all(a.shape == (144, 192) and a.dtype == np.uint8 for a in alphas)
    # a chunk from frame 12, warmed on the 3 frames before it: the same alphas, nearly
    chunk = list(matter.frames(frames[12:], lead=frames[9:12]))
    assert len(chunk) == 8 and matter.cuts == []  # indices of this call's frames
    diff = np.abs(np.stack(chunk).astype(int) - np.stack(alphas[12:])).mean()
    assert diff < 2.0


def test_paired_refuses_alphas_of_another_length(session: Any) -> None:
    from humancut.video.decode import Frame
    frames = [Frame(np.zeros((4, 4, 3), np.uint8), i, i / 10, i) for i in range(3)]
    with pytest.raises(ValueError):
        list(paired(iter(frames), None, iter([np.zeros((4, 4), np.uint8)] * 2)))
