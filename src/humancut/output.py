"""remove.bg-style output options (`Output`) and `finish`, which applies them to a matte:
region of interest -> crop + margin -> scale + position -> size cap -> background or
alpha -> encoding. Pure: no model, no I/O."""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import imageops
from .job import Cut
from .options import Length as Length  # re-exported: the remove.bg family builds Outputs
from .options import Output as Output

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)
MARGIN_CAP_PX = 500  # remove.bg: a margin side is at most 500 px or half the subject


def to_px(length: Length, whole: int) -> int:
    value, unit = length
    return round(value * whole / 100) if unit == "%" else round(value)


def roi_box(roi: tuple[Length, ...], size: tuple[int, int]) -> Box:
    w, h = size
    return (to_px(roi[0], w), to_px(roi[1], h), to_px(roi[2], w), to_px(roi[3], h))


def crop_box(alpha8: np.ndarray, margin: tuple[Length, ...]) -> Box:
    """The subject's box grown by the margin (each side at most half the subject or 500 px);
    the whole image when nothing is visible."""
    h, w = alpha8.shape
    box = imageops.bounding_box(alpha8) or (0, 0, w, h)
    left, top, right, bottom = box
    sw, sh = right - left, bottom - top

    def side(length: Length, whole: int) -> int:
        return min(to_px(length, whole), whole // 2, MARGIN_CAP_PX)

    t, r, b, lft = (side(margin[0], sh), side(margin[1], sw), side(margin[2], sh),
                    side(margin[3], sw))
    return left - lft, top - t, right + r, bottom + b


def rescale(img: Image.Image, scale: float | None,
            position: tuple[float, float] | None) -> Image.Image:
    """The subject scaled to `scale` of the canvas and placed at `position` (fractions of
    the free space; centre when only a scale is given)."""
    box = imageops.bounding_box(np.asarray(img.getchannel("A")))
    if box is None:
        return img
    subject = img.crop(box)
    w, h = img.size
    factor = 1.0 if scale is None else scale * min(w / subject.width, h / subject.height)
    size = (max(1, round(subject.width * factor)), max(1, round(subject.height * factor)))
    if size != subject.size:
        subject = subject.resize(size, Image.Resampling.LANCZOS)
    px, py = position if position is not None else (0.5, 0.5)
    return imageops.place(subject, (w, h), (round((w - size[0]) * px), round((h - size[1]) * py)))


def backdrop(options: Output) -> Image.Image | None:
    """The background asked for, at its own size (covered to the canvas later)."""
    if options.bg_image is not None:
        return imageops.decode(options.bg_image).convert("RGBA")
    if options.bg_color is not None:
        return Image.new("RGBA", (1, 1), options.bg_color)
    return None


def answer_format(img: Image.Image, options: Output, bg: Image.Image | None) -> str:
    """`auto` is PNG when something is transparent (the mask: always), else JPG."""
    if options.format != "auto":
        return options.format
    if options.channels == "alpha":
        return "png"
    see_through = not imageops.opaque(img) and (bg is None or not imageops.opaque(bg))
    return "png" if see_through else "jpg"


def shape(rgb: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None,
          options: Output) -> Image.Image:
    """The RGBA cut-out after the region of interest, crop and scale/position."""
    alpha8 = imageops.alpha_to_u8(alpha)
    if options.roi is not None:
        alpha8 = imageops.keep_inside(alpha8, roi_box(options.roi, (rgb.shape[1], rgb.shape[0])))
    img = imageops.cutout(rgb, alpha8, foreground)
    if options.crop:
        img = imageops.crop_padded(img, crop_box(alpha8, options.crop_margin))
    if options.scale is not None or options.position is not None:
        img = rescale(img, options.scale, options.position)
    return img


def finish(rgb: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None,
           options: Output, *, compress_level: int = 1, png_encoder: str = "isal") -> Cut:
    img = shape(rgb, alpha, foreground, options)
    bg = backdrop(options)
    fmt = answer_format(img, options, bg)
    cap = min((c for c in (options.max_pixels,
                           options.png_max_pixels if fmt == "png" else 0) if c), default=0)
    img = imageops.limit_pixels(img, cap)
    alpha8 = np.asarray(img.getchannel("A"))
    left, top, right, bottom = imageops.bounding_box(alpha8) or (0, 0, 0, 0)
    if options.channels == "alpha":
        img = imageops.mask(alpha8)
    elif bg is not None:
        img = imageops.over(img, imageops.cover(bg, img.size))
    data = imageops.encode(img, fmt, compress_level=compress_level, png_encoder=png_encoder)
    return Cut(data, img.width, img.height, content_type=imageops.ENCODINGS[fmt],
               foreground=(top, left, right - left, bottom - top))
