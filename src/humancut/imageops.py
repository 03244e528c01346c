"""Small pure image functions: decode with limits, orient, convert, compose, encode.

Everything here is free of model and I/O state, in the spirit of Pillow's ImageOps.
Arrays are uint8 HxWx3 (RGB) and float32 HxW (alpha in [0, 1]).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import png
from .errors import HumancutError

# Formats the contract accepts (a camera's multi-picture JPEG, MPO, opens as JPEG).
ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
FORMS = ("rgba", "mask", "whiteBK", "crop")
# The photo files the folder commands pick up (cut DIR, the quality report, the bench).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp")
Image.init()  # register every plugin so `formats=ACCEPTED_FORMATS` can name them

# Magic bytes of common formats we refuse, so the error can name them.
_REFUSED_MAGIC = (
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x00\x0cjP", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "ICO"),
)


def images_under(root: Path) -> list[Path]:
    """The photo files under the folder `root`, at any depth, sorted."""
    return sorted(p for p in Path(root).rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def sniff_refused(data: bytes) -> str | None:
    """The name of a known refused format the bytes start with, if any."""
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"heim"):
        return "HEIC/AVIF"
    return None


def _unsupported(detail: str) -> HumancutError:
    return HumancutError(
        "unsupported_type", f"{detail}: send a JPEG, PNG (8-bit), BMP or WEBP image.")


def open_image(data: bytes, *, max_side: int | None = None) -> Image.Image:
    """Identify and check an upload from its header, before any pixel is decoded."""
    if not data:
        raise HumancutError("undecodable", "The image file is empty.")
    refused = sniff_refused(data)
    if refused:
        raise _unsupported(f"{refused} images are not accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise _unsupported("The file is not a recognised image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(None, max_side) from None
    except Exception as exc:  # a header that claims a format but is broken
        raise HumancutError("undecodable",
                            f"The image header could not be read ({exc}).") from None
    if img.format == "PNG" and len(data) > 24 and data[24] == 16:
        raise _unsupported("16-bit PNG images are not accepted")
    w, h = img.size
    if w < 1 or h < 1:
        raise HumancutError("undecodable", "The image has no pixels.")
    if max_side is not None and (w > max_side or h > max_side):
        raise _too_large((w, h), max_side)
    return img


def _too_large(size: tuple[int, int] | None, max_side: int | None) -> HumancutError:
    limit = f"width and height must each be at most {max_side} px" if max_side else \
        "it is too large to decode safely"
    if size is None:
        return HumancutError("resolution_too_large",
                             f"The image has too many pixels; {limit}: scale it down.")
    return HumancutError("resolution_too_large",
                         f"The image is {size[0]}x{size[1]} px; {limit}: scale it down.")


def decode(data: bytes, *, max_side: int | None = None) -> Image.Image:
    """open_image, then decode the pixels (first frame of an animation) and apply EXIF
    orientation. Broken data raises FILE_DECODING_FAILURE."""
    img = open_image(data, max_side=max_side)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(img.size, max_side) from None
    except Exception as exc:
        raise HumancutError("undecodable",
                            f"The image could not be decoded: it is truncated or corrupt "
                            f"({exc}).") from None
    return orient(img, in_place=True)


def orient(img: Image.Image, *, in_place: bool = False) -> Image.Image:
    """Apply the EXIF orientation tag; an unreadable EXIF block is ignored. `in_place`
    (for an image of our own): Pillow otherwise returns a copy even when there is nothing
    to turn (144 MB for 36 MP)."""
    try:
        if not in_place:
            return ImageOps.exif_transpose(img)
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:
        pass
    return img


def to_rgb(img: Image.Image) -> np.ndarray:
    """uint8 HxWx3 from any mode. Transparent inputs are flattened on white, so an input's
    own alpha never leaks into the result: only the model decides what is person."""
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        a = rgba[..., 3:4] * (1 / 255)
        return (rgba[..., :3] * a + 255.0 * (1 - a) + 0.5).astype(np.uint8)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float32)
        scale = 255.0 / max(float(arr.max()), 1.0) if arr.max() > 255 else 1.0
        grey = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def alpha_to_u8(alpha: np.ndarray) -> np.ndarray:
    return (np.clip(alpha, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def person_share(alpha: np.ndarray) -> float:
    """Share of the image that is mostly person (alpha >= 0.5)."""
    return float(np.count_nonzero(alpha >= 0.5)) / max(alpha.size, 1)


def foreground_colours(rgb: np.ndarray, alpha8: np.ndarray,
                       foreground: np.ndarray | None) -> np.ndarray:
    """Colours to show under the alpha: the photo where the person is opaque, the model's
    background-free foreground estimate in soft pixels (no dark or coloured halo), and
    black where nothing shows."""
    out = rgb.copy() if foreground is None else np.where(
        (alpha8 == 255)[..., None], rgb, foreground)
    out[alpha8 == 0] = 0
    return out


def cutout(rgb: np.ndarray, alpha8: np.ndarray, foreground: np.ndarray | None) -> Image.Image:
    """RGBA cut-out, same size as the photo."""
    return Image.fromarray(cutout_pixels(rgb, alpha8, foreground), "RGBA")


def cutout_pixels(rgb: np.ndarray, alpha8: np.ndarray,
                  foreground: np.ndarray | None) -> np.ndarray:
    """uint8 RGBA: foreground_colours and the alpha, written in place into one array (no
    where/dstack temporaries: this runs on every band of a 36 MP photo)."""
    out = np.empty((*alpha8.shape, 4), np.uint8)
    colours, out[..., 3] = out[..., :3], alpha8
    if foreground is None:
        colours[...] = rgb
    else:
        colours[...] = foreground
        np.copyto(colours, rgb, where=(alpha8 == 255)[..., None])
    np.copyto(colours, 0, where=(alpha8 == 0)[..., None])
    return out


def mask(alpha8: np.ndarray) -> Image.Image:
    return Image.fromarray(alpha8, "L")


def on_white(rgb: np.ndarray, alpha8: np.ndarray, foreground: np.ndarray | None) -> Image.Image:
    colours = foreground_colours(rgb, alpha8, foreground)
    return Image.fromarray(white_rows(np.dstack([colours, alpha8])), "RGB")


def white_rows(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA pixels composited on white, as uint8 RGB."""
    colours = rgba[..., :3].astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) * (1 / 255)
    return (colours * a + 255.0 * (1 - a) + 0.5).astype(np.uint8)


def bounding_box(alpha8: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the non-transparent pixels, right/bottom exclusive."""
    rows = np.flatnonzero(alpha8.any(axis=1))
    cols = np.flatnonzero(alpha8.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def render(rgb: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None,
           form: str = "rgba") -> Image.Image:
    """The output image for one of FORMS."""
    alpha8 = alpha_to_u8(alpha)
    if form == "rgba":
        return cutout(rgb, alpha8, foreground)
    if form == "mask":
        return mask(alpha8)
    if form == "whiteBK":
        return on_white(rgb, alpha8, foreground)
    if form == "crop":
        box = bounding_box(alpha8)
        if box is None:
            box = (0, 0, 1, 1)  # nothing visible: a single transparent pixel
        left, top, right, bottom = box
        return cutout(rgb[top:bottom, left:right], alpha8[top:bottom, left:right],
                      None if foreground is None else foreground[top:bottom, left:right])
    raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")


def encode_png(img: Image.Image, compress_level: int = 1, encoder: str = "isal") -> bytes:
    """PNG bytes (see humancut.png for the encoders)."""
    return png.encode(img, compress_level, encoder)


# ---- finishing: what output.finish chains for the remove.bg family ---------------------

ENCODINGS = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
             "zip": "application/zip"}


def keep_inside(alpha8: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The alpha with everything outside (left, top, right, bottom) made transparent."""
    left, top, right, bottom = box
    out = np.zeros_like(alpha8)
    out[top:bottom, left:right] = alpha8[top:bottom, left:right]
    return out


def crop_padded(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """Crop to `box`, which may reach past the image: Pillow pads with transparent black."""
    return img.crop(box)


def place(img: Image.Image, canvas: tuple[int, int], xy: tuple[int, int]) -> Image.Image:
    """`img` on a transparent canvas of `canvas` size with its top left corner at `xy`."""
    out = Image.new("RGBA", canvas, (0, 0, 0, 0))
    out.paste(img, xy)
    return out


def limit_pixels(img: Image.Image, max_pixels: int) -> Image.Image:
    """Scaled down, keeping the aspect ratio, to at most `max_pixels` (0 = no limit); never
    scaled up."""
    size = capped_size(img.size, max_pixels)
    return img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)


def capped_size(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """`size` (w, h) scaled down, keeping the aspect ratio, to at most `max_pixels`."""
    w, h = size
    if not max_pixels or w * h <= max_pixels:
        return size
    factor = (max_pixels / (w * h)) ** 0.5
    return max(1, int(w * factor)), max(1, int(h * factor))


def cover(bg: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A background filling `size`: centred and scaled keeping its aspect ratio, cropped."""
    bg = bg.convert("RGBA")
    return bg if bg.size == size else ImageOps.fit(bg, size, Image.Resampling.LANCZOS)


def over(fg: Image.Image, bg: Image.Image) -> Image.Image:
    """The RGBA cut-out over a background of the same size; RGB when the result is opaque."""
    out = Image.alpha_composite(bg.convert("RGBA"), fg)
    return out.convert("RGB") if opaque(out) else out


def opaque(img: Image.Image) -> bool:
    """No pixel lets anything behind it show through."""
    if "A" not in img.getbands():
        return True
    return img.getchannel("A").getextrema()[0] == 255


def flatten(img: Image.Image, colour: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB (or L), transparent pixels composited on `colour`."""
    if img.mode in ("RGB", "L"):
        return img
    return over(img.convert("RGBA"), Image.new("RGBA", img.size, (*colour, 255))).convert("RGB")


def encode(img: Image.Image, fmt: str, *, compress_level: int = 1, quality: int = 90,
           png_encoder: str = "isal") -> bytes:
    """PNG, JPEG, WebP, or a ZIP of `color.jpg` and a grey `alpha.png` (remove.bg's layout)."""
    buf = io.BytesIO()
    if fmt == "png":
        return encode_png(img, compress_level, png_encoder)
    if fmt == "jpg":
        flatten(img).save(buf, format="JPEG", quality=quality)
    elif fmt == "webp":
        (img if img.mode in ("RGB", "RGBA") else img.convert("RGB")).save(
            buf, format="WEBP", quality=quality)
    elif fmt == "zip":
        return _zip(img, compress_level, quality, png_encoder)
    else:
        raise ValueError(f"format must be one of {', '.join(ENCODINGS)}, not {fmt!r}")
    return buf.getvalue()


def _zip(img: Image.Image, compress_level: int, quality: int, png_encoder: str) -> bytes:
    alpha = img.getchannel("A") if "A" in img.getbands() else Image.new("L", img.size, 255)
    colours = img.convert("RGB")  # the colours as they are, not flattened
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("color.jpg", encode(colours, "jpg", quality=quality))
        z.writestr("alpha.png", encode_png(alpha, compress_level, png_encoder))
    return buf.getvalue()
