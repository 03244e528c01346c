from __future__ import annotations

import numpy as np
import pytest

from humancut import metrics


def test_metrics_on_known_values():
    gt = np.zeros((20, 20), np.float32)
    gt[5:15, 5:15] = 1.0
    pred = gt.copy()
    pred[5:15, 5:10] = 0.0  # half the square missed
    assert metrics.iou(pred, gt) == pytest.approx(0.5)
    assert metrics.sad(pred, gt) == pytest.approx(50 / 1000)
    assert metrics.mse(pred, gt) == pytest.approx(50 / 400)
    assert metrics.mad(pred, gt) == pytest.approx(50 / 400)
    assert metrics.grad(pred, gt) > 0
    assert metrics.grad(gt, gt) == 0
    assert metrics.edge_mad(gt, gt) == 0
    band = metrics.edge_band(gt)
    assert band[0, 0] and not metrics.edge_band(gt, width=2)[0, 0]
    assert metrics.edge_mad(pred, gt, width=2) > metrics.mad(pred, gt)


def test_soft_label_pixels_are_in_the_band():
    gt = np.zeros((50, 50), np.float32)
    gt[40, 40] = 0.3  # a lone fractional pixel far from any boundary
    assert metrics.edge_band(gt, width=3)[40, 40]


def test_score_refuses_mismatched_sizes():
    with pytest.raises(ValueError):
        metrics.score(np.zeros((2, 2)), np.zeros((3, 3)))


def _disc(size: int = 200, radius: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """A sure binary disc label and each pixel's distance from its centre."""
    yy, xx = np.mgrid[:size, :size]
    dist = np.hypot(yy - size / 2, xx - size / 2)
    return (dist <= radius).astype(np.float32), dist


def test_false_partial_counts_a_grey_block_far_from_the_edge():
    gt, _ = _disc()
    pred = gt.copy()
    pred[10:30, 10:30] = 0.5  # grey in the sure background, > 10 px from the disc
    pred[90:110, 90:110] = 0.6  # grey inside the sure person
    assert metrics.false_partial(gt, gt) == 0.0
    share = metrics.false_partial(pred, gt)
    # 800 grey pixels of the sure, far ones (all but the band of 10 px around the circle)
    _, dist = _disc()
    far = np.count_nonzero(np.abs(dist - 60) > 10.5)
    assert share == pytest.approx(800 / far, rel=0.05)
    # alpha just outside (0.15, 0.85) is decisive enough: not counted
    pred[10:30, 10:30] = 0.1
    pred[90:110, 90:110] = 0.9
    assert metrics.false_partial(pred, gt) == 0.0


def test_false_partial_ignores_hair_like_ramps_at_the_edge():
    gt, dist = _disc()
    # a ramp from 1 to 0 over 16 px across the label's edge, with strand-like stripes
    ramp = np.clip((68 - dist) / 16, 0, 1)
    angle = np.arctan2(*np.mgrid[-100:100, -100:100])
    hair = np.where((dist > 60) & (np.sin(angle * 40) > 0), np.minimum(ramp * 1.5, 1), ramp)
    assert ((hair > 0.15) & (hair < 0.85)).sum() > 1000  # plenty of soft pixels...
    assert metrics.false_partial(hair.astype(np.float32), gt) == 0.0  # ...none counted
    # grey 15-20 px out is counted where the label is sure, not where the label is soft too
    pred = gt.copy()
    pred[(dist > 75) & (dist < 80)] = 0.5
    assert metrics.false_partial(pred, gt) > 0.01
    soft_gt = np.where(dist > 95, 0.0, np.where(dist <= 60, 1.0, 0.3)).astype(np.float32)
    assert metrics.false_partial(pred, soft_gt) == 0.0


def test_false_partial_without_any_sure_far_pixel_is_zero():
    assert metrics.false_partial(np.full((8, 8), 0.5), np.full((8, 8), 0.5)) == 0.0
    assert "false_partial" in metrics.score(np.zeros((4, 4)), np.zeros((4, 4)))
