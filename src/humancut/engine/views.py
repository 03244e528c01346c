"""Combining what a model sees: several views of one photo (scales, the mirror image, a
closer look) merged into one Matte. Small pure functions, for any model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import refine
from .base import Matte


def mirrored(matte: Matte) -> Matte:
    """A matte of the mirror image, mirrored back (or the reverse)."""
    fg = None if matte.foreground is None else matte.foreground[:, ::-1]
    return Matte(matte.alpha[:, ::-1], fg)


def fuse(views: Sequence[Matte], rgb: np.ndarray) -> Matte:
    """The mean alpha of views of the same photo. Each view's foreground colour counts where
    that view itself is soft (where it unmixed the background); where no view is soft the
    photo's own colour is used (so a single view's colours also settle on the photo's where
    it is nearly opaque)."""
    alphas = np.stack([v.alpha for v in views])
    alpha = alphas.mean(axis=0).astype(np.float32)
    foregrounds = [v.foreground for v in views if v.foreground is not None]
    if len(foregrounds) < len(views):
        return Matte(alpha)
    weights = (alphas * (1 - alphas))[..., None]
    colours = np.stack(foregrounds).astype(np.float32)
    # float32 throughout: a float64 photo term would double the memory traffic.
    fg = ((colours * weights).sum(0) + rgb.astype(np.float32) * np.float32(1e-3)) / (
        weights.sum(0) + np.float32(1e-3))
    return Matte(alpha, np.clip(fg + 0.5, 0, 255).astype(np.uint8))


def union(a: Matte, b: Matte) -> Matte:
    """Per pixel, the view that sees more person: max alpha, and that view's colours."""
    alpha = np.maximum(a.alpha, b.alpha)
    if a.foreground is None or b.foreground is None:
        return Matte(alpha, a.foreground)
    return Matte(alpha, np.where((b.alpha > a.alpha)[..., None], b.foreground, a.foreground))


def place(matte: Matte, box: refine.Box, shape: tuple[int, ...]) -> Matte:
    """A crop's matte put back into a frame of `shape` (h, w, 3); zero outside the crop."""
    top, bottom, left, right = box
    alpha = np.zeros(shape[:2], np.float32)
    alpha[top:bottom, left:right] = matte.alpha
    foreground = None
    if matte.foreground is not None:
        foreground = np.zeros(shape, np.uint8)
        foreground[top:bottom, left:right] = matte.foreground
    return Matte(alpha, foreground)


def resized(matte: Matte, shape: tuple[int, int]) -> Matte:
    if matte.alpha.shape == shape:
        return matte
    fg = None if matte.foreground is None else refine.resize_colours(matte.foreground, shape)
    return Matte(refine.resize_alpha(matte.alpha, shape), fg)
