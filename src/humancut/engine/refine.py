"""Small pure functions that refine a model's alpha: clean-up, zoom boxes, resizing.

Alpha is float32 HxW in [0, 1]; "person" means alpha >= 0.5. Everything is numpy/scipy and
costs a few distance transforms of the image, no model calls.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

Box = tuple[int, int, int, int]  # top, bottom, left, right (bottom/right exclusive)


def _distance(mask: np.ndarray) -> np.ndarray:
    """Chessboard distance (px) of each True pixel to the nearest False one; a chamfer
    transform is ~20x faster than the Euclidean one and close enough for thresholds."""
    return ndimage.distance_transform_cdt(mask, metric="chessboard").astype(np.float32)


def drop_far_blobs(alpha: np.ndarray, min_rel: float = 0.2, near: float = 0.1) -> np.ndarray:
    """Zero person blobs that are specks or bystanders far from the subject.

    A blob (connected alpha >= 0.5) is kept when its area is at least `min_rel` of the
    largest one (other people in a group) or it lies within `near` x image diagonal of such
    a blob (a hand, a held object, someone beside them). Soft pixels are left to
    settle_far_pixels.
    """
    labels, count = ndimage.label(alpha >= 0.5)
    if count < 2:
        return alpha
    index = np.arange(1, count + 1)
    areas = ndimage.sum_labels(labels > 0, labels, index)
    big = np.concatenate([[False], areas >= min_rel * areas.max()])
    if big[1:].all():
        return alpha
    to_big = _distance(~big[labels])
    reach = near * np.hypot(*alpha.shape)
    kept = big.copy()
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if not kept[i] and box is not None:
            kept[i] = to_big[box][labels[box] == i].min() <= reach
    kept[0] = True
    dropped = ~kept[labels]
    return np.where(dropped, 0.0, alpha).astype(np.float32)


def fill_small_holes(alpha: np.ndarray, max_rel: float = 0.05) -> np.ndarray:
    """Make opaque the enclosed holes in the person smaller than `max_rel` of its area.

    Holes touching the image border are not enclosed and stay (a gap under an arm that
    reaches the frame edge); big enclosed holes (between arm and body) stay too.
    """
    person = alpha >= 0.5
    holes = ndimage.binary_fill_holes(person) & ~person
    labels, count = ndimage.label(holes)
    if count == 0:
        return alpha
    areas = ndimage.sum_labels(holes, labels, np.arange(1, count + 1))
    small = (areas <= max_rel * np.count_nonzero(person))[labels - 1] & holes
    return np.where(small, 1.0, alpha).astype(np.float32)


def settle_far_pixels(alpha: np.ndarray, inner: float = 3.0, outer: float = 10.0) -> np.ndarray:
    """Opaque deeper than `inner` px inside the person, clear farther than `outer` px
    outside it: removes faint haze and translucent patches, keeps the soft edge band."""
    person = alpha >= 0.5
    out = alpha.copy()
    if not person.any():
        return out
    out[_distance(person) > inner] = 1.0
    out[_distance(~person) > outer] = 0.0
    return out


def clean_up(alpha: np.ndarray, bystander_share: float = 0.2) -> np.ndarray:
    """The default clean-up: far specks and bystanders (blobs under `bystander_share` of the
    largest one's area), small enclosed holes, far haze."""
    return settle_far_pixels(fill_small_holes(drop_far_blobs(alpha, bystander_share)))


def subject_extent(alpha: np.ndarray) -> float:
    """The long side of the largest person blob's bounding box (alpha >= 0.5), as a share
    of the image's long side: about 1 for a portrait, small for distant people, 0 for none."""
    labels, count = ndimage.label(alpha >= 0.5)
    if count == 0:
        return 0.0
    sides = [max(rows.stop - rows.start, cols.stop - cols.start)
             for rows, cols in ndimage.find_objects(labels)]
    return max(sides) / max(alpha.shape)


def uncertain_share(alpha: np.ndarray, low: float = 0.05, high: float = 0.95) -> float:
    """Soft pixels (between `low` and `high`) per person pixel (alpha >= 0.5): how unsure
    a view is of its matte; 0 for a crisp one."""
    soft = int(np.count_nonzero((alpha > low) & (alpha < high)))
    return soft / max(int(np.count_nonzero(alpha >= 0.5)), 1)


def zoom_box(alpha: np.ndarray, threshold: float = 0.25, margin: float = 0.25,
             max_share: float = 0.6) -> Box | None:
    """Where to look again, closer: the box around every pixel with alpha >= `threshold`,
    grown by `margin` x its long side, or None when there is nothing or when the grown box's
    long side exceeds `max_share` of the image's (a zoom would gain little)."""
    found = alpha >= threshold
    if not found.any():
        return None
    rows = np.flatnonzero(found.any(axis=1))
    cols = np.flatnonzero(found.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = margin * max(bottom - top, right - left)
    h, w = alpha.shape
    box = (int(max(0, top - pad)), int(min(h, bottom + pad)),
           int(max(0, left - pad)), int(min(w, right + pad)))
    if max(box[1] - box[0], box[3] - box[2]) > max_share * max(h, w):
        return None
    return box


def resize_rgb(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """uint8 RGB scaled so its long side is `long_side` (bicubic)."""
    h, w = rgb.shape[:2]
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))


def resize_colours(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 RGB resized to (h, w): box filter down, bilinear up."""
    h, w = shape
    method = Image.Resampling.BILINEAR if h > rgb.shape[0] else Image.Resampling.BOX
    return np.asarray(Image.fromarray(rgb).resize((w, h), method))


def resize_alpha(alpha: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 alpha resized to (h, w): box filter down, bilinear up."""
    h, w = shape
    up = h > alpha.shape[0]
    img = Image.fromarray(alpha.astype(np.float32), "F")
    out = img.resize((w, h), Image.Resampling.BILINEAR if up else Image.Resampling.BOX)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
