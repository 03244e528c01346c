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
