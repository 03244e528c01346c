"""Small pure functions that refine a model's alpha: clean-up, zoom boxes, resizing.

Alpha is float32 HxW in [0, 1]; "person" means alpha >= 0.5. Everything is numpy/scipy and
costs a few distance transforms of the image, no model calls. Distances that cut the alpha
are Euclidean, so what is cut has round outlines, never the squares a chessboard distance
would draw.
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


def _halve(mask: np.ndarray) -> np.ndarray:
    """2x2 blocks of a boolean mask (padded to even sides): True where all four are."""
    h, w = mask.shape
    if h % 2 or w % 2:
        mask = np.pad(mask, ((0, h % 2), (0, w % 2)), mode="edge")
    return (mask[0::2, 0::2] & mask[1::2, 0::2]) & (mask[0::2, 1::2] & mask[1::2, 1::2])


def _double(half: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A half-resolution array back at `shape`, each value on its 2x2 block."""
    return half.repeat(2, axis=0).repeat(2, axis=1)[:shape[0], :shape[1]]


def _half_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of each True pixel to the nearest False one, measured on the
    grid of 2x2 blocks (a block is True when all its pixels are) and returned at that half
    resolution: a quarter of the work, and at most about 2 px short, which the thresholds
    here (4 px and more) allow."""
    return ndimage.distance_transform_edt(_halve(mask)).astype(np.float32) * 2


def _farther(mask: np.ndarray, r: float) -> np.ndarray:
    """The True pixels farther than `r` px (Euclidean, as _half_distance) from any False."""
    if min(mask.shape) < 32:
        return ndimage.distance_transform_edt(mask) > r
    return _double(_half_distance(mask) > r, mask.shape)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 image; wide ones are done at half resolution (2x2 means)
    and scaled back bilinearly, at an eighth of the cost and the same smooth result."""
    h, w = image.shape
    if sigma < 4 or min(h, w) < 32:
        return ndimage.gaussian_filter(image, sigma)
    even = np.pad(image, ((0, h % 2), (0, w % 2)), mode="edge")
    half = even.reshape(even.shape[0] // 2, 2, even.shape[1] // 2, 2).mean(axis=(1, 3))
    small = Image.fromarray(ndimage.gaussian_filter(half, sigma / 2), "F")
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)


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


def settle_far_pixels(alpha: np.ndarray, inner: float = 4.0, outer: float = 12.0) -> np.ndarray:
    """Opaque deeper than `inner` px inside the person, clear farther than `outer` px
    outside it: removes faint haze and translucent patches, keeps the soft edge band.
    Euclidean distances (4 and 12 px reach about as far as the chessboard 3 and 10 px this
    used before), so the band's outline follows the person's, without stair steps."""
    person = alpha >= 0.5
    out = alpha.copy()
    if not person.any():
        return out
    out[_farther(person, inner)] = 1.0
    out[_farther(~person, outer)] = 0.0
    return out


def settle_undecided(alpha: np.ndarray, width: float = 12.0, ramp: float = 4.0,
                     sigma: float = 10.0, low: float = 0.15, high: float = 0.85) -> np.ndarray:
    """Person or background for the soft pixels that are not on an edge.

    Partial alpha belongs to narrow transitions: hair, a blurred outline, where a sure
    person pixel (alpha >= `high`) and a sure background pixel (<= `low`) are both near. A
    soft pixel whose nearest sure person and sure background pixels are together more than
    `width` px away (fully so `ramp` px further) is in a region the model is unsure of (a
    grey smear over a held helmet, where views disagree and their mean is grey): it becomes
    person or background by the majority of the person mask around it (Gaussian window of
    `sigma` px), so a region is decided as a whole, with a smooth outline, not pixel by
    pixel into grey fragments. Alpha without a person (nothing >= 0.5) is left alone.
    """
    soft = (alpha > low) & (alpha < high)
    if not soft.any() or not (alpha >= 0.5).any():
        return alpha  # nothing soft, or no person to decide for
    no_fg, no_bg = alpha < high, alpha > low  # not sure person, not sure background
    if no_fg.all() or no_bg.all():
        weight = soft.astype(np.float32)
    elif min(alpha.shape) < 32:
        across = ndimage.distance_transform_edt(no_fg) + ndimage.distance_transform_edt(no_bg)
        weight = np.clip((across - width) / ramp, 0.0, 1.0).astype(np.float32) * soft
    else:
        across = _half_distance(no_fg) + _half_distance(no_bg)
        wide = np.clip((across - width) / ramp, 0.0, 1.0)
        weight = _double(wide, alpha.shape) * soft
    if not weight.any():
        return alpha
    # The vote only where something is decided (plus the window's reach): often a small box.
    rows = np.flatnonzero(weight.any(axis=1))
    cols = np.flatnonzero(weight.any(axis=0))
    reach = int(4 * sigma)
    top, bottom = max(0, rows[0] - reach), min(alpha.shape[0], rows[-1] + 1 + reach)
    left, right = max(0, cols[0] - reach), min(alpha.shape[1], cols[-1] + 1 + reach)
    box = (slice(top, bottom), slice(left, right))
    vote = (_blur((alpha[box] >= 0.5).astype(np.float32), sigma) >= 0.5).astype(np.float32)
    out = alpha.copy()
    w = weight[box]
    out[box] = alpha[box] * (1 - w) + vote * w
    return out


def clean_up(alpha: np.ndarray, bystander_share: float = 0.2) -> np.ndarray:
    """The default clean-up: undecided soft regions decided, far specks and bystanders
    (blobs under `bystander_share` of the largest one's area), small enclosed holes, far
    haze."""
    decided = settle_undecided(alpha)
    return settle_far_pixels(fill_small_holes(drop_far_blobs(decided, bystander_share)))


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
    return resize_image(Image.fromarray(rgb), long_side)


def resize_image(img: Image.Image, long_side: int) -> np.ndarray:
    """A Pillow image scaled so its long side is `long_side` (bicubic), as a uint8 array."""
    w, h = img.size
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(img.resize(size, Image.Resampling.BICUBIC))


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
