"""Fuzzing the upload parser and the decode path: every input ends in a result or a
contract error, within bounded time; nothing else escapes."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from humancut import HumancutError, imageops
from humancut.api.upload import FormReader
from humancut.errors import PROBLEMS
from tests.support.checks import multipart
from tests.support.images import encode

DECODE_CODES = {"unsupported_type", "undecodable",
                "resolution_too_large"}


def seeds() -> list[bytes]:
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    out = [encode(img, fmt) for fmt in ("JPEG", "PNG", "BMP", "WEBP")]
    out.append(encode(img.convert("CMYK"), "JPEG"))
    out.append(encode(img.convert("P"), "PNG"))
    out.append(encode(img.convert("LA"), "PNG"))
    frames = [img, img.rotate(90)]
    out.append(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    out.append(encode(frames[0], "PNG", save_all=True, append_images=frames[1:]))
    exif = Image.Exif()
    exif[0x0112] = 65535  # an absurd orientation
    exif[0x0100] = 2**31  # an absurd width tag
    out.append(encode(img, "JPEG", exif=exif.tobytes()))
    return out


SEEDS = seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=64))
        elif data:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos:pos + len(chunk)] = chunk
    return bytes(data)


def check_decode(data: bytes) -> None:
    start = time.perf_counter()
    try:
        img = imageops.decode(data, max_side=1999)
        rgb = imageops.to_rgb(img)
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    except HumancutError as exc:
        assert exc.code in DECODE_CODES, exc.code
    assert time.perf_counter() - start < 5


def test_every_seed_decodes():
    for data in SEEDS:
        img = imageops.decode(data, max_side=1999)
        assert imageops.to_rgb(img).shape == (48, 64, 3)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_images_end_in_a_contract_error_or_pixels(data):
    check_decode(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape(data):
    check_decode(data)


def feed(body: bytes, content_type: str, chunk: int = 7) -> dict:
    reader = FormReader(content_type, max_file=1000, max_body=5000)
    for i in range(0, len(body), chunk):
        reader.feed(body[i:i + chunk])
    return reader.finish()


def test_multipart_reader_rules():
    ct = "multipart/form-data; boundary=b0undary"
    parts = feed(multipart([("image", "a.png", b"\x89PNG" + b"x" * 100),
                            ("return_form", None, b"mask")]), ct)
    assert bytes(parts["image"].data).startswith(b"\x89PNG") and parts["image"].filename == "a.png"
    assert parts["return_form"].text == "mask"

    def code(body: bytes, content_type: str = ct) -> str:
        with pytest.raises(HumancutError) as err:
            feed(body, content_type)
        return err.value.code

    assert code(multipart([("image", "a", b"x" * 1001)])) == "file_too_large"
    many = multipart([(f"f{i}", None, b"y" * 1000) for i in range(6)])
    assert code(many) == "body_too_large"
    assert code(b"x" * 100) == "invalid_parameter"  # not multipart at all
    twice = multipart([("return_form", None, b"mask"), ("return_form", None, b"crop")])
    assert code(twice) == "invalid_parameter"
    assert code(b"", "multipart/form-data") == "invalid_parameter"  # no boundary
    assert code(b"{}", "application/json") == "missing_parameter"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["image", "return_form", "x", ""]),
                          st.one_of(st.none(), st.text(max_size=8)),
                          st.binary(max_size=300)), max_size=5),
       st.integers(0, 40), st.integers(1, 50))
def test_multipart_fuzz(fields, cut, chunk):
    body = multipart(fields)
    body = body[: len(body) - cut]  # sometimes truncated
    try:
        parts = feed(body, "multipart/form-data; boundary=b0undary", chunk)
        assert isinstance(parts, dict)
    except HumancutError as exc:
        assert exc.code in PROBLEMS
