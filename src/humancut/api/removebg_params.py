"""remove.bg's request parameters (docs/removebg.md#parameters) parsed into a Job: the source
image (uploaded, base64 or fetched), the background, and the Output options. Every bad
value is a 400 whose `detail` is remove.bg's code (`invalid_<parameter>`, ...)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace

from PIL import ImageColor

from .. import imageops
from ..errors import HumancutError
from ..job import Job
from ..output import Length, Output
from ..settings import Settings
from .fetch import allowed_networks, fetch
from .removebg_fields import Fields

SOURCES = ("image_file", "image_file_b64", "image_url")
BACKGROUNDS = ("bg_color", "bg_image_url", "bg_image_file")
# size -> output pixel cap; `auto` keeps remove.bg's backwards-compatible 25 MP
SIZES = {"preview": 250_000, "small": 250_000, "regular": 250_000, "medium": 1_500_000,
         "hd": 4_000_000, "full": 25_000_000, "4k": 25_000_000, "50mp": 50_000_000,
         "auto": 25_000_000}
PNG_MAX_PIXELS = 10_000_000  # remove.bg: "PNG images above 10 megapixels are not supported"
FORMATS = {"auto": "auto", "png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp",
           "zip": "zip"}
CHANNELS = ("rgba", "alpha")
# Every type is served by the person model (humancut cuts out people); these are accepted.
TYPES = ("auto", "person", "product", "car", "animal", "graphic", "graphics",
         "transportation", "car_interior", "car_part", "other")
TYPE_LEVELS = ("none", "1", "2", "latest")
BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
            "false": False, "0": False, "no": False, "off": False}
# Accepted and checked, but without effect: see docs/removebg.md
IGNORED_FLAGS = ("add_shadow", "semitransparency")
DATA_URI = re.compile(r"^data:[^,]{0,200};base64,", re.IGNORECASE)
LENGTH = re.compile(r"^(-?\d+(?:\.\d+)?)(px|%)?$", re.IGNORECASE)
HEX = re.compile(r"^#?([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$", re.IGNORECASE)


@dataclass(frozen=True)
class Wanted:
    """A parsed request, before any image is read or fetched."""

    source: str  # one of SOURCES
    background: str | None  # one of BACKGROUNDS
    output: Output
    type: str
    type_level: str


def bad(param: str, message: str) -> HumancutError:
    return HumancutError("invalid_parameter", message, detail=f"invalid_{param}")


def choice(fields: Fields, name: str, allowed: tuple[str, ...] | dict[str, str],
           default: str) -> str:
    value = str(fields.get(name, default)).lower()
    if value not in allowed:
        raise bad(name, f"Invalid {name} parameter given: {value[:40]!r} (one of "
                        f"{', '.join(allowed)}).")
    return allowed[value] if isinstance(allowed, dict) else value


def flag(fields: Fields, name: str, default: bool) -> bool:
    value = str(fields.get(name, str(default))).lower()
    if value not in BOOLEANS:
        raise bad(name, f"Invalid {name} parameter given: use true or false.")
    return BOOLEANS[value]


def lengths(param: str, text: str, counts: tuple[int, ...]) -> list[Length]:
    """Space-separated `N`, `Npx` or `N%` values (a unitless number is px)."""
    out = []
    for word in text.split():
        match = LENGTH.match(word)
        if match is None or float(match.group(1)) < 0:
            raise bad(param, f"Invalid {param} parameter given: {word[:20]!r} is not Npx or N%.")
        out.append((float(match.group(1)), "%" if match.group(2) == "%" else "px"))
    if len(out) not in counts:
        raise bad(param, f"Invalid {param} parameter given: {len(out)} values.")
    return out


def percent(param: str, text: str, low: float, high: float) -> float:
    match = LENGTH.match(text)
    if match is None or match.group(2) != "%" or not low <= float(match.group(1)) <= high:
        raise bad(param, f"Invalid {param} parameter given: {text[:20]!r} (a percentage "
                         f"from {low:g}% to {high:g}%).")
    return float(match.group(1)) / 100


def crop_margin(fields: Fields) -> tuple[Length, Length, Length, Length]:
    """1, 2 or 4 values in CSS order, as (top, right, bottom, left)."""
    values = lengths("crop_margin", str(fields.get("crop_margin", "0")), (1, 2, 4))
    if len(values) < 4:
        values = (values * 4)[:4]  # [all] * 4, or [vertical, horizontal] * 2
    top, right, bottom, left = values
    return top, right, bottom, left


def scale(fields: Fields) -> float | None:
    value = str(fields.get("scale", "original")).lower()
    return None if value == "original" else percent("scale", value, 10, 100)


def position(fields: Fields) -> tuple[float, float] | None:
    value = str(fields.get("position", "original")).lower()
    if value == "original":
        return (0.5, 0.5) if "scale" in fields and scale(fields) is not None else None
    if value == "center":
        return 0.5, 0.5
    words = value.split()
    if len(words) not in (1, 2):
        raise bad("position", "Invalid position parameter given: use original, center, "
                              "N% or H% V%.")
    h = percent("position", words[0], 0, 100)
    return h, percent("position", words[-1], 0, 100)


def roi_lengths(text: str) -> tuple[Length, Length, Length, Length]:
    x1, y1, x2, y2 = lengths("roi", text, (4,))
    return x1, y1, x2, y2


def bg_color(text: str) -> tuple[int, int, int, int]:
    try:
        if HEX.match(text):
            text = "#" + text.lstrip("#")
        rgba = ImageColor.getrgb(text)
    except ValueError:
        raise bad("bg_color", f"Invalid bg_color parameter given: {text[:20]!r}.") from None
    return (*rgba[:3], rgba[3] if len(rgba) == 4 else 255)


def only_one(fields: Fields, names: tuple[str, ...], detail: str, title: str) -> str | None:
    given = [n for n in names if n in fields]
    if len(given) > 1:
        raise HumancutError("invalid_parameter", f"{title}: please provide only one of "
                            f"{', '.join(names)}.", detail=detail)
    return given[0] if given else None


def parse(fields: Fields) -> Wanted:
    source = only_one(fields, SOURCES, "multiple_sources", "Multiple image sources given")
    if source is None:
        raise HumancutError("missing_parameter", "Please provide the source image in the "
                            "image_url, image_file or image_file_b64 parameter.",
                            detail="missing_source")
    background = only_one(fields, BACKGROUNDS, "multiple_bg_sources",
                          "Multiple background sources given")
    for name in IGNORED_FLAGS:
        flag(fields, name, name == "semitransparency")
    roi = fields.get("roi")
    fmt = choice(fields, "format", FORMATS, "auto")
    output = Output(
        format=fmt, channels=choice(fields, "channels", CHANNELS, "rgba"),
        roi=roi_lengths(str(roi)) if roi else None,
        crop=flag(fields, "crop", False), crop_margin=crop_margin(fields),
        scale=scale(fields), position=position(fields),
        bg_color=bg_color(str(fields["bg_color"])) if background == "bg_color" else None,
        max_pixels=SIZES[choice(fields, "size", tuple(SIZES), "preview")],
        png_max_pixels=PNG_MAX_PIXELS)
    return Wanted(source, background, output, choice(fields, "type", TYPES, "auto"),
                  choice(fields, "type_level", TYPE_LEVELS, "1"))


def unbase64(text: str, max_bytes: int) -> bytes:
    """`image_file_b64`, with or without a `data:*;base64,` prefix, line breaks or the
    URL-safe alphabet."""
    text = re.sub(r"\s+", "", DATA_URI.sub("", text, count=1))
    if len(text) * 3 // 4 > max_bytes + 2:
        raise HumancutError("file_too_large", f"The image is over {max_bytes} bytes.")
    text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise HumancutError("undecodable", "image_file_b64 is not valid base64.") from None


def check_image(data: bytes, settings: Settings) -> tuple[int, int]:
    """The image's (width, height) as it will be cut (EXIF orientation applied); refuses
    what is too large or not an image, from its header only."""
    limit = settings.removebg_max_bytes
    if len(data) > limit:
        raise HumancutError("file_too_large", f"File exceeds limit of {limit / 2**20:g} MB.")
    img = imageops.open_image(data)
    w, h = img.size
    if w * h > settings.removebg_max_pixels:
        raise HumancutError("resolution_too_large", f"Input image has {w * h / 1e6:.1f} "
                            f"megapixels, maximum supported input resolution is "
                            f"{settings.removebg_max_pixels / 1e6:g} megapixels.")
    orientation = img.getexif().get(0x0112, 1) if img.format == "JPEG" else 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def check_roi(roi: tuple[Length, ...] | None, size: tuple[int, int]) -> None:
    if roi is None:
        return
    w, h = size
    x1, y1, x2, y2 = (v * (w if i % 2 == 0 else h) / 100 if unit == "%" else v
                      for i, (v, unit) in enumerate(roi))
    if x2 > w or y2 > h:
        raise HumancutError("invalid_parameter", f"The roi exceeds the image bounds ({w}x{h}).",
                            detail="roi_exceeds_bounds")
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise HumancutError("invalid_parameter", "The roi region is empty.",
                            detail="roi_region_empty")


async def read_source(fields: Fields, name: str, settings: Settings, *,
                      invalid: str, failed: str) -> bytes:
    """The bytes of a file field, a base64 field or a URL field (fetched safely)."""
    value = fields[name]
    if isinstance(value, bytes):
        return value
    if name == "image_file_b64":
        return unbase64(value, settings.removebg_max_bytes)
    if name in ("image_file", "bg_image_file"):  # a text field where a file was expected
        return value.encode("utf-8", "surrogateescape")
    try:
        return await fetch(value, max_bytes=settings.removebg_max_bytes,
                           timeout=settings.fetch_timeout,
                           allow=allowed_networks(settings.fetch_allow))
    except HumancutError as exc:
        exc.detail = {"invalid_parameter": invalid, "download_failed": failed}.get(exc.code, "")
        raise


async def to_job(fields: Fields, wanted: Wanted, settings: Settings) -> Job:
    data = await read_source(fields, wanted.source, settings, invalid="invalid_image_url",
                             failed="failed_image_download")
    check_roi(wanted.output.roi, check_image(data, settings))
    output = wanted.output
    if wanted.background in ("bg_image_url", "bg_image_file"):
        bg = await read_source(fields, wanted.background, settings,
                               invalid="invalid_bg_image_url", failed="failed_bg_download")
        check_image(bg, settings)
        output = replace(output, bg_image=bg)
    return Job(data, "rgba", max_side=None, options=output)
