"""remove.bg-style output options (`Output`): what a `job.Job` carries and `output.finish`
applies. Below both, so neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass

Length = tuple[float, str]  # (value, "px" | "%")


@dataclass(frozen=True)
class Output:
    """How to deliver a cut-out. Picklable, so runners can carry it with the Job."""

    format: str = "png"  # auto | png | jpg | webp | zip
    channels: str = "rgba"  # rgba | alpha (the mask only)
    roi: tuple[Length, Length, Length, Length] | None = None  # x1 y1 x2 y2; outside = removed
    crop: bool = False  # crop to the subject ...
    crop_margin: tuple[Length, Length, Length, Length] = ((0, "px"),) * 4  # top right bottom left
    scale: float | None = None  # subject's size relative to the canvas, 0.1 .. 1
    position: tuple[float, float] | None = None  # subject's place in the free space, 0 .. 1
    bg_color: tuple[int, int, int, int] | None = None  # RGBA
    bg_image: bytes | None = None  # encoded; covers the canvas
    max_pixels: int = 0  # output resolution cap; 0 = none
    png_max_pixels: int = 0  # a tighter cap when the answer is a PNG; 0 = none
