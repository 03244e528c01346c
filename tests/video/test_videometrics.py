"""The video metrics against values worked out by hand on tiny synthetic clips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from humancut.videometrics import VideoScore, mean_of


def clip(score: VideoScore, pairs: list[tuple[list[float], list[float]]]) -> dict:
    for pred, truth in pairs:
        score.add(np.array(pred, np.float32).reshape(2, 2),
                  np.array(truth, np.float32).reshape(2, 2))
    return score.result()


def test_a_perfect_prediction_scores_zero_error_and_full_overlap():
    frames = [([0, 1, 0.5, 0.2], [0, 1, 0.5, 0.2]), ([1, 1, 0.3, 0], [1, 1, 0.3, 0])]
    r = clip(VideoScore(), frames)
    assert r["mad"] == 0 and r["mse"] == 0 and r["dtssd"] == 0 and r["mad_first"] == 0
    assert r["j"] == 1 and r["frames"] == 2 and r["empty_above"] is None


def test_mad_mse_and_dtssd_by_hand():
    # frame 0: errors 0.5, 0, 0, 0 -> |e| sum 0.5, e^2 sum 0.25
    # frame 1: errors 0, 0, 0.2, 0 -> |e| sum 0.2, e^2 sum 0.04
    # flicker = e1 - e0 = (-0.5, 0, 0.2, 0): sqrt((0.25 + 0.04) / 4)
    frames = [([0.5, 1, 1, 0], [0, 1, 1, 0]), ([1, 1, 0.2, 0], [1, 1, 0, 0])]
    r = clip(VideoScore(), frames)
    assert r["mad"] == pytest.approx(0.7 / 8 * 1e3)
    assert r["mse"] == pytest.approx(0.29 / 8 * 1e3)
    assert r["dtssd"] == pytest.approx(math.sqrt(0.29 / 4) * 1e2)
    # IoU at 0.5: frame 0 pred {0,1,2} truth {1,2} -> 2/3; frame 1 pred {0,1} truth {0,1} -> 1
    assert r["j"] == pytest.approx((2 / 3 + 1) / 2)


def test_a_steady_error_does_not_count_as_flicker_but_a_changing_one_does():
    steady = [([0.1, 0.1, 0.1, 0.1], [0, 0, 0, 0])] * 3
    assert clip(VideoScore(), steady)["dtssd"] == pytest.approx(0)
    # truth moves, prediction stays: flicker each step is the truth's change (1 on one pixel)
    moving = [([1, 0, 0, 0], [1, 0, 0, 0]), ([1, 0, 0, 0], [0, 1, 0, 0]),
              ([1, 0, 0, 0], [0, 0, 1, 0])]
    # step 1: e = (1,-1,0,0) - (0,0,0,0) -> sqrt(2/4); step 2: (1,0,-1,0) - (1,-1,0,0) -> sqrt(2/4)
    score = VideoScore()
    assert clip(score, moving)["dtssd"] == pytest.approx(math.sqrt(0.5) * 1e2)
    assert score.dtssd_per_frame == pytest.approx([math.sqrt(0.5)] * 2)


def test_first_frames_mad_is_kept_apart():
    frames = [([1, 1, 1, 1], [0, 0, 0, 0])] + [([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5])] * 3
    r = clip(VideoScore(first=2), frames)
    assert r["mad_first"] == pytest.approx(4 / 8 * 1e3)  # frames 0-1: 4 of 8 pixels off by 1
    assert r["mad"] == pytest.approx(4 / 16 * 1e3)


def test_empty_frames_count_pixels_above_one_half_and_both_empty_scores_one():
    frames = [([0.6, 0.5, 0, 0.9], [0, 0, 0, 0]),   # empty truth: 2 of 4 above 0.5
              ([0, 0, 0, 0], [0, 0, 0, 0]),         # empty, nothing predicted: IoU 1
              ([1, 0, 0, 0], [0.4, 0, 0, 0])]       # a person pixel (soft): not empty
    r = clip(VideoScore(), frames)
    assert r["empty_frames"] == 2
    assert r["empty_above"] == pytest.approx(2 / 8 * 100)
    assert r["j"] == pytest.approx((0 + 1 + 0) / 3)


def test_one_frame_has_no_dtssd_and_sizes_must_agree():
    assert clip(VideoScore(), [([0, 0, 0, 0], [0, 0, 0, 0])])["dtssd"] is None
    with pytest.raises(ValueError, match="differ in size"):
        VideoScore().add(np.zeros((2, 2)), np.zeros((2, 3)))


def test_the_mean_over_clips_skips_undefined_values():
    a = {"mad": 2.0, "mse": 1.0, "dtssd": None, "j": 1.0, "mad_first": 3.0,
         "empty_above": None, "frames": 1}
    b = {"mad": 4.0, "mse": 3.0, "dtssd": 5.0, "j": 0.5, "mad_first": 1.0,
         "empty_above": 0.2, "frames": 9}
    m = mean_of([a, b])
    assert m["mad"] == 3.0 and m["dtssd"] == 5.0 and m["j"] == 0.75 and m["empty_above"] == 0.2
    assert m["frames"] == 10
