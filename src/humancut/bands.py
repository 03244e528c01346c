"""Full-resolution results made a band of rows at a time, from a matte at working size.

A 36 MP photo's float alpha alone is 144 MB, its RGBA cut-out 144 MB more, and the PNG
filter and a resize each a copy of that. Upscaling the matte, composing, resizing and
PNG-encoding a band (about BAND_PIXELS) at a time holds only the decoded photo (Pillow's),
the uint8 alpha, one band and the encoded bytes. Each band equals the same rows of the
whole-image path: Pillow's resize with a `box` computes every output row from the same
source rows and weights (tests/engine/test_bands.py compares them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import imageops, output, png
from .job import Cut
from .output import Output

BAND_PIXELS = 1 << 20  # pixels per band: ~4 MB of RGBA, small beside the photo itself
_MODES = {"rgba": "RGBA", "crop": "RGBA", "mask": "L", "whiteBK": "RGB"}
Rows = Callable[[int, int], np.ndarray]  # (top, bottom) -> those rows


def spans(height: int, width: int, band_pixels: int = 0) -> Iterator[tuple[int, int]]:
    """(top, bottom) of consecutive bands of rows covering `height` (BAND_PIXELS each when
    `band_pixels` is 0)."""
    step = max(1, (band_pixels or BAND_PIXELS) // max(width, 1))
    for top in range(0, height, step):
        yield top, min(height, top + step)


_SUPPORT = {Image.Resampling.BOX: 0.5, Image.Resampling.BILINEAR: 1.0,
            Image.Resampling.LANCZOS: 3.0}


def reach(method: Image.Resampling, sy: float) -> tuple[float, float]:
    """How far (source rows) a filter reaches from an output row's centre, with slack."""
    return sy, _SUPPORT[method] * max(sy, 1.0) + 2


def two_pass(src: Image.Image, y0: int, width: int, top: int, bottom: int, sy: float,
             method: Image.Resampling) -> Image.Image:
    """Output rows top..bottom of a resize to `width` whose source rows `src` starts at
    row y0 of the whole source (`sy` source rows per output row). Horizontal pass, then
    vertical, as Pillow's whole-image resize does (given a box that cuts rows, Pillow
    would go vertical first and round differently)."""
    if src.width != width:
        src = src.resize((width, src.height), method)
    return src.resize((width, bottom - top), method,
                      box=(0, top * sy - y0, width, bottom * sy - y0))


def rows_of(img: Image.Image, size: tuple[int, int], top: int, bottom: int,
            method: Image.Resampling) -> Image.Image:
    """Rows top..bottom of `img` resized to `size` (w, h), as one whole resize gives them."""
    w, h = size
    sy, margin = reach(method, img.height / h)
    y0 = max(0, math.floor(top * sy - margin))
    y1 = min(img.height, math.ceil(bottom * sy + margin))
    return two_pass(img.crop((0, y0, img.width, y1)), y0, w, top, bottom, sy, method)


@dataclass
class Lean:
    """A photo at full resolution (Pillow RGB, as decoded) and its matte at working size
    (float32 alpha, uint8 foreground or None): what remover.Remover hands to the renderers
    here instead of a full-resolution float matte."""

    photo: Image.Image
    alpha: np.ndarray
    foreground: np.ndarray | None = None
    _alpha_img: Image.Image = field(init=False, repr=False)
    _fg_img: Image.Image | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._alpha_img = Image.fromarray(self.alpha.astype(np.float32), "F")
        self._fg_img = None if self.foreground is None else Image.fromarray(self.foreground)

    @property
    def size(self) -> tuple[int, int]:
        return self.photo.size

    def _method(self) -> Image.Resampling:  # as refine.resize_alpha / resize_colours choose
        up = self.photo.height > self.alpha.shape[0]
        return Image.Resampling.BILINEAR if up else Image.Resampling.BOX

    def alpha8_rows(self, top: int, bottom: int) -> np.ndarray:
        if self.alpha.shape == (self.photo.height, self.photo.width):
            return imageops.alpha_to_u8(self.alpha[top:bottom])
        band = rows_of(self._alpha_img, self.size, top, bottom, self._method())
        return imageops.alpha_to_u8(np.asarray(band, dtype=np.float32))

    def alpha8(self) -> np.ndarray:
        """The whole alpha at full resolution, uint8 (a quarter of float32's memory)."""
        w, h = self.size
        out = np.empty((h, w), np.uint8)
        for top, bottom in spans(h, w):
            out[top:bottom] = self.alpha8_rows(top, bottom)
        return out

    def foreground_rows(self, top: int, bottom: int) -> np.ndarray | None:
        if self._fg_img is None or self.foreground is None:
            return None
        if self.foreground.shape[:2] == (self.photo.height, self.photo.width):
            return self.foreground[top:bottom]
        return np.asarray(rows_of(self._fg_img, self.size, top, bottom, self._method()))

    def cutout_rows(self, alpha8: np.ndarray, top: int, bottom: int, left: int,
                    right: int) -> np.ndarray:
        """RGBA uint8 of the box, as imageops.cutout colours it."""
        rgb = np.asarray(self.photo.crop((left, top, right, bottom)))
        fg = self.foreground_rows(top, bottom)
        return imageops.cutout_pixels(rgb, alpha8[top:bottom, left:right],
                                      None if fg is None else fg[:, left:right])


class Sink:
    """Where output rows go: png.Writer when the answer is a PNG and ISA-L is there, else
    an array encoded whole at the end (JPEG, WebP, ZIP, or Pillow's PNG)."""

    def __init__(self, size: tuple[int, int], mode: str, fmt: str, level: int, encoder: str):
        self.size, self.mode, self.fmt = size, mode, fmt
        self.level, self.encoder = level, encoder
        w, h = size
        self.writer = png.Writer(w, h, mode, level) \
            if fmt == "png" and encoder == "isal" and png.isal_zlib is not None else None
        self.array: np.ndarray | None = None
        if self.writer is None:
            self.array = np.empty((h, w) if mode == "L" else (h, w, len(mode)), np.uint8)
        self._row = 0

    def write(self, rows: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.write(rows)
        elif self.array is not None:
            self.array[self._row:self._row + rows.shape[0]] = rows
        self._row += rows.shape[0]

    def finish(self) -> bytes:
        if self.writer is not None:
            return self.writer.finish()
        assert self.array is not None, "finish() twice"
        img = Image.fromarray(self.array, self.mode)
        self.array = None
        return imageops.encode(img, self.fmt, compress_level=self.level,
                               png_encoder=self.encoder)


def render_form(lean: Lean, form: str, level: int = 1, encoder: str = "isal") -> Cut:
    """imageops.render's `form` of the photo as PNG, made in bands."""
    if form not in _MODES:
        raise ValueError(f"form must be one of {', '.join(imageops.FORMS)}, not {form!r}")
    alpha8 = lean.alpha8()
    w, h = lean.size
    left, top, right, bottom = 0, 0, w, h
    if form == "crop":  # nothing visible: a single transparent pixel, as imageops.render
        left, top, right, bottom = imageops.bounding_box(alpha8) or (0, 0, 1, 1)
    size = (right - left, bottom - top)
    sink = Sink(size, _MODES[form], "png", level, encoder)
    for t, b in spans(bottom - top, right - left):
        t, b = t + top, b + top
        if form == "mask":
            sink.write(alpha8[t:b])
            continue
        rgba = lean.cutout_rows(alpha8, t, b, left, right)
        sink.write(imageops.white_rows(rgba) if form == "whiteBK" else rgba)
    return Cut(sink.finish(), *size)


def _region(lean: Lean, alpha8: np.ndarray, box: output.Box) -> Rows:
    """Rows of the RGBA cut-out cropped to `box`, which may reach past the photo
    (transparent black there, as Pillow's crop pads)."""
    left, top, right, bottom = box
    w, h = lean.size
    ix0, ix1 = max(left, 0), min(right, w)

    def rows(y0: int, y1: int) -> np.ndarray:
        out = np.zeros((y1 - y0, right - left, 4), np.uint8)
        iy0, iy1 = max(top + y0, 0), min(top + y1, h)
        if iy0 < iy1 and ix0 < ix1:
            out[iy0 - top - y0:iy1 - top - y0, ix0 - left:ix1 - left] = \
                lean.cutout_rows(alpha8, iy0, iy1, ix0, ix1)
        return out

    return rows


def _scaled(rows: Rows, size: tuple[int, int], out: tuple[int, int]) -> Rows:
    """`rows` of an RGBA image of `size` as imageops.limit_pixels resizes it to `out`
    (Lanczos, on premultiplied colours as Pillow does), each output band from the source
    rows its filter reaches."""
    h, (ow, oh) = size[1], out
    sy, margin = reach(Image.Resampling.LANCZOS, h / oh)

    def scaled(o0: int, o1: int) -> np.ndarray:
        y0 = max(0, math.floor(o0 * sy - margin))
        y1 = min(h, math.ceil(o1 * sy + margin))
        src = Image.fromarray(rows(y0, y1), "RGBA").convert("RGBa")
        band = two_pass(src, y0, ow, o0, o1, sy, Image.Resampling.LANCZOS)
        return np.asarray(band.convert("RGBA"))

    return scaled


def finish(lean: Lean, options: Output, *, compress_level: int = 1,
           png_encoder: str = "isal") -> Cut:
    """output.finish, in bands. The subject's scale and position, and a see-through
    background, take the whole-image path (output.finish) on the full-size arrays."""
    bg = output.backdrop(options)
    alpha8 = lean.alpha8()
    w, h = lean.size
    if options.scale is not None or options.position is not None or (
            bg is not None and not imageops.opaque(bg)):
        return output.finish8(np.asarray(lean.photo), alpha8, _full_foreground(lean), options,
                              compress_level=compress_level, png_encoder=png_encoder)
    if options.roi is not None:
        alpha8 = imageops.keep_inside(alpha8, output.roi_box(options.roi, (w, h)))
    box = output.crop_box(alpha8, options.crop_margin) if options.crop else (0, 0, w, h)
    left, top, right, bottom = box
    size = (right - left, bottom - top)
    inside = left >= 0 and top >= 0 and right <= w and bottom <= h
    opaque = inside and int(alpha8[top:bottom, left:right].min(initial=255)) == 255
    fmt = output.format_for(opaque, options, bg)
    out = imageops.capped_size(size, output.cap_for(options, fmt))
    rows = _region(lean, alpha8, box)
    del alpha8
    if out != size:
        rows = _scaled(rows, size, out)
    return _deliver(rows, out, options, bg, fmt, compress_level, png_encoder)


def _deliver(rows: Rows, size: tuple[int, int], options: Output, bg: Image.Image | None,
             fmt: str, level: int, encoder: str) -> Cut:
    """The alpha or the composite over the background, band by band, into the sink; the
    subject's box from the alpha seen."""
    mode = "L" if options.channels == "alpha" else "RGB" if bg is not None else "RGBA"
    backdrop = None if bg is None or bg.size == (1, 1) else imageops.cover(bg, size)
    sink = Sink(size, mode, fmt, level, encoder)
    seen_rows, seen_cols = [], np.zeros(size[0], bool)
    for top, bottom in spans(size[1], size[0]):
        band = rows(top, bottom)
        a = band[..., 3]
        any_row = a.any(axis=1)
        seen_rows += [top + int(i) for i in np.flatnonzero(any_row)[[0, -1]]] \
            if any_row.any() else []
        seen_cols |= a.any(axis=0)
        if mode == "L":
            sink.write(a)
        elif bg is not None:
            under = backdrop.crop((0, top, size[0], bottom)) if backdrop is not None else \
                Image.new("RGBA", (size[0], bottom - top), bg.getpixel((0, 0)))
            done = Image.alpha_composite(under, Image.fromarray(band, "RGBA"))
            sink.write(np.asarray(done.convert("RGB")))
        else:
            sink.write(band)
    cols = np.flatnonzero(seen_cols)
    fg = (0, 0, 0, 0) if not seen_rows else (
        min(seen_rows), int(cols[0]), int(cols[-1]) + 1 - int(cols[0]),
        max(seen_rows) + 1 - min(seen_rows))
    return Cut(sink.finish(), *size, content_type=imageops.ENCODINGS[fmt], foreground=fg)


def _full_foreground(lean: Lean) -> np.ndarray | None:
    if lean.foreground is None:
        return None
    w, h = lean.size
    out = np.empty((h, w, 3), np.uint8)
    for top, bottom in spans(h, w):
        out[top:bottom] = lean.foreground_rows(top, bottom)  # type: ignore[assignment]
    return out
