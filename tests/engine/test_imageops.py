"""Decoding rules and limits, without the model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from humancut import HumancutError, imageops
from tests.support.images import encode, png_header_only


def code_of(data: bytes, **kw: object) -> str:
    with pytest.raises(HumancutError) as err:
        imageops.decode(data, **kw)
    return err.value.code


def test_refused_formats(astronaut):
    small = astronaut.resize((64, 64))
    assert code_of(encode(small, "GIF")) == "unsupported_type"
    assert code_of(encode(small, "TIFF")) == "unsupported_type"
    assert code_of(b"%PDF-1.4 hello") == "unsupported_type"
    assert code_of(np.random.default_rng(0).bytes(5000)) == "unsupported_type"
    sixteen = Image.fromarray(np.zeros((32, 32), np.uint16) + 1000)
    assert code_of(encode(sixteen, "PNG")) == "unsupported_type"


def test_broken_files(astronaut):
    jpeg = encode(astronaut, "JPEG")
    assert code_of(jpeg[: len(jpeg) // 2]) == "undecodable"
    assert code_of(b"") == "undecodable"


def test_resolution_limit_is_checked_from_the_header():
    assert code_of(encode(Image.new("RGB", (2000, 10))), max_side=1999) == \
        "resolution_too_large"
    # A bomb: 60000x60000 declared in 100 bytes. Refused before any pixel is decoded.
    bomb = png_header_only(60000, 60000)
    assert code_of(bomb, max_side=1999) == "resolution_too_large"
    assert code_of(bomb) == "resolution_too_large"  # even with no side limit


def test_accepted_formats_decode(astronaut):
    for fmt in ("JPEG", "PNG", "BMP", "WEBP"):
        img = imageops.decode(encode(astronaut, fmt), max_side=1999)
        assert img.size == (512, 512)


def test_render_rejects_unknown_form():
    with pytest.raises(ValueError):
        imageops.render(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), None, "x")


def test_bounding_box_and_crop_of_synthetic_alpha():
    alpha = np.zeros((10, 20), np.float32)
    alpha[2:5, 3:9] = 1.0
    alpha[6, 10] = 0.5
    a8 = imageops.alpha_to_u8(alpha)
    assert imageops.bounding_box(a8) == (3, 2, 11, 7)
    crop = imageops.render(np.full((10, 20, 3), 9, np.uint8), alpha, None, "crop")
    assert crop.size == (8, 5)
    assert imageops.bounding_box(np.zeros((3, 3), np.uint8)) is None


def test_white_composite_uses_foreground_estimate():
    rgb = np.zeros((1, 2, 3), np.uint8)  # a dark photo
    fg = np.full((1, 2, 3), 200, np.uint8)  # the model says the person is light grey
    alpha = np.array([[1.0, 0.5]], np.float32)
    out = np.asarray(imageops.on_white(rgb, imageops.alpha_to_u8(alpha), fg))
    assert out[0, 0].tolist() == [0, 0, 0]  # opaque: the photo itself
    assert out[0, 1].tolist() == [227, 227, 227]  # soft: 200*0.502 + 255*0.498, no dark halo
