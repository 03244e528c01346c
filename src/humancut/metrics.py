"""Matting quality metrics, as defined in the evaluation sets' README. Alpha in [0, 1]."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def iou(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    p, g = pred >= threshold, gt >= threshold
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


def sad(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.abs(pred - gt).sum()) / 1000


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean((pred - gt) ** 2))


def mad(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - gt)))


def grad(pred: np.ndarray, gt: np.ndarray, sigma: float = 1.4) -> float:
    gp = ndimage.gaussian_gradient_magnitude(pred.astype(np.float64), sigma)
    gg = ndimage.gaussian_gradient_magnitude(gt.astype(np.float64), sigma)
    return float(((gp - gg) ** 2).sum()) / 1000


def edge_band(gt: np.ndarray, width: int = 10) -> np.ndarray:
    """Pixels within `width` px of the label's boundary, plus its fractional pixels."""
    binary = gt >= 0.5
    boundary = binary ^ ndimage.binary_erosion(binary, border_value=1)
    if boundary.any():
        near = ndimage.distance_transform_edt(~boundary) <= width
    else:
        near = np.zeros_like(binary)
    return near | ((gt > 0) & (gt < 1))


def edge_mad(pred: np.ndarray, gt: np.ndarray, width: int = 10) -> float:
    band = edge_band(gt, width)
    return float(np.abs(pred - gt)[band].mean()) if band.any() else 0.0


def false_partial(pred: np.ndarray, gt: np.ndarray, low: float = 0.15, high: float = 0.85,
                  sure: float = 0.02, far: float = 10.0) -> float:
    """Of the pixels where the label is sure (below `sure` or above 1 - `sure`) and more than
    `far` px from its 0.5 edge, the share that come out half-transparent (`low` < alpha <
    `high`): grey blocks and smears where the photo is clear, which SAD and IoU barely see;
    soft hair and blur at the edge do not count. 0 when no pixel is sure and far."""
    binary = gt >= 0.5
    boundary = binary ^ ndimage.binary_erosion(binary, border_value=1)
    if boundary.any():
        away = ndimage.distance_transform_edt(~boundary) > far
    else:
        away = np.ones_like(binary)
    judged = away & ((gt < sure) | (gt > 1 - sure))
    total = np.count_nonzero(judged)
    if total == 0:
        return 0.0
    return float(np.count_nonzero(judged & (pred > low) & (pred < high))) / total


METRICS = {"iou": iou, "sad": sad, "mse": mse, "mad": mad, "grad": grad, "edge_mad": edge_mad,
           "false_partial": false_partial}


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Every metric for one image."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and label {gt.shape} differ in size")
    return {name: fn(pred, gt) for name, fn in METRICS.items()}
