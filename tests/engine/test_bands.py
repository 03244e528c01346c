"""The banded path (humancut.bands) against the whole-image path it replaces: the same
pixels (within 1/255) for every form and remove.bg option, on photos cut into many bands."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from humancut import bands, output, png
from humancut.engine import views
from humancut.engine.base import Matte
from humancut.imageops import FORMS
from humancut.output import Output
from tests.support.images import decode, encode


@pytest.fixture(autouse=True)
def small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bands, "BAND_PIXELS", 20_000)  # dozens of bands per photo


def synthetic(size: tuple[int, int] = (700, 520), work: int = 160) -> tuple[Image.Image, Matte]:
    """A textured photo and a smooth matte at a working size: a soft disc, the person."""
    w, h = size
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ws, hs = work, round(work * h / w)
    y, x = np.mgrid[0:hs, 0:ws]
    r = np.hypot((x - ws * 0.45) / ws, (y - hs * 0.55) / hs)
    alpha = np.clip((0.3 - r) * 12, 0, 1).astype(np.float32)
    fg = rng.integers(0, 256, (hs, ws, 3), dtype=np.uint8)
    return Image.fromarray(photo), Matte(alpha, fg)


def whole(photo: Image.Image, matte: Matte) -> tuple[np.ndarray, Matte]:
    """The old path's inputs: the photo as an array and the matte at full resolution."""
    rgb = np.asarray(photo)
    return rgb, views.resized(matte, rgb.shape[:2])


def close(a: bytes, b: bytes, tol: int = 1) -> None:
    """The same mode and size, and pixels within `tol` of 255 (the banded resizes of the
    matte round a few pixels' colours 1/255 apart: Pillow's box coefficients differ in the
    last bits from a whole resize's). RGBA: alpha within `tol`,
    and the colours as seen (composited on black and on white) within `tol` + 1: Pillow
    resizes premultiplied colours, and storing them un-premultiplied rounds each side by
    up to half a step (where alpha is near 0 the stored colour itself is arbitrary)."""
    x, y = decode(a), decode(b)
    assert (x.mode, x.size) == (y.mode, y.size)
    p, q = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.mode == "RGBA":
        assert np.abs(p[..., 3] - q[..., 3]).max() <= tol
        for base in (0.0, 255.0):
            seen = [c[..., :3] * c[..., 3:] / 255 + base * (1 - c[..., 3:] / 255)
                    for c in (p, q)]
            assert np.abs(seen[0] - seen[1]).max() <= tol + 1
        return
    diff = np.abs(p - q)
    assert diff.max() <= tol, f"max difference {diff.max()}"


@pytest.mark.parametrize("form", FORMS)
def test_forms_match_the_whole_image_path(form: str):
    photo, matte = synthetic()
    rgb, full = whole(photo, matte)
    old = png.encode(__import__("humancut").imageops.render(rgb, full.alpha, full.foreground,
                                                            form))
    new = bands.render_form(bands.Lean(photo, matte.alpha, matte.foreground), form)
    close(new.data, old)
    assert (new.width, new.height) == decode(old).size


OPTIONS = {
    "plain": Output(),
    "crop+margin": Output(crop=True, crop_margin=((10, "px"), (5, "%"), (0, "px"), (40, "px"))),
    "roi": Output(roi=((10, "%"), (0, "px"), (60, "%"), (400, "px"))),
    "cap": Output(png_max_pixels=90_000),
    "cap+crop": Output(crop=True, crop_margin=((30, "px"),) * 4, png_max_pixels=40_000),
    "alpha": Output(channels="alpha", max_pixels=120_000),
    "colour": Output(bg_color=(20, 200, 40, 255), format="png"),
    "colour+cap": Output(bg_color=(20, 200, 40, 255), format="png", max_pixels=150_000),
    "jpg": Output(bg_color=(20, 200, 40, 255), format="auto"),
    "webp": Output(format="webp"),
    "zip": Output(format="zip"),
    "scale (whole path)": Output(scale=0.5, position=(0.2, 0.8)),
    "see-through bg (whole path)": Output(bg_color=(20, 200, 40, 100)),
}


@pytest.mark.parametrize("name", OPTIONS)
def test_removebg_options_match_the_whole_image_path(name: str):
    photo, matte = synthetic()
    rgb, full = whole(photo, matte)
    options = OPTIONS[name]
    old = output.finish(rgb, full.alpha, full.foreground, options)
    new = bands.finish(bands.Lean(photo, matte.alpha, matte.foreground), options)
    assert (new.width, new.height, new.content_type) == (old.width, old.height,
                                                         old.content_type)
    assert new.foreground == old.foreground
    assert all(type(v) is int for v in new.foreground or ())  # goes into JSON and headers
    if new.content_type == "image/png":
        # A Lanczos reduction (the size caps) can double a 1/255 difference of its input.
        close(new.data, old.data, tol=2 if options.max_pixels or options.png_max_pixels else 1)
    elif new.content_type == "image/jpeg":  # JPEG's blocks spread a 1/255 difference
        x, y = (np.asarray(decode(d), np.float64) for d in (new.data, old.data))
        assert x.shape == y.shape and np.abs(x - y).mean() < 0.1
    else:
        assert len(new.data) > 0 and new.data[:4] == old.data[:4]


def test_png_writer_equals_the_one_shot_encoder():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (301, 97, 4), dtype=np.uint8)
    writer = png.Writer(97, 301, "RGBA")
    for top, bottom in bands.spans(301, 97, 1000):
        writer.write(pixels[top:bottom])
    data = writer.finish()
    assert np.array_equal(np.asarray(decode(data)), pixels)
    assert data == png.encode_array(pixels, "RGBA", 1)


def test_remover_cut_matches_the_old_pipeline(remover, astronaut):
    """A normal-size photo through the real model: Remover.cut (banded) against the
    full-resolution matte rendered whole, as before."""
    photo = astronaut.resize((1100, 1100), Image.Resampling.BICUBIC)
    data = encode(photo, "JPEG", quality=92)
    rgb = remover.load(data)
    matte = remover.matte(rgb)
    for form in ("rgba", "whiteBK"):
        close(remover.cut(data, form).data, remover.encode(rgb, matte, form).data)
    options = Output(crop=True, png_max_pixels=500_000)
    close(remover.cut(data, options=options).data,
          output.finish(rgb, matte.alpha, matte.foreground, options).data)
