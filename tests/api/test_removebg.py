"""The remove.bg family in process: encodings, every parameter, output formats, headers,
errors and credits (the real pipeline, a stand-in model: red pixels are the person)."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.support.checks import REMOVEBG_NONSENSE as BAD
from tests.support.images import decode, encode, photo
from tests.support.inproc import App

IMAGE = photo()  # 200x100, person at (50, 20)-(150, 80)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("removebg"))
    yield a
    a.close()


def assert_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["errors"][0]
    assert error["code"] == code and error["title"] and error["detail"]
    assert all(isinstance(v, str) for v in error.values())
    return error


def alpha_of(resp) -> np.ndarray:
    return np.asarray(decode(resp.content).getchannel("A"))


# ---- encodings and sources ------------------------------------------------------------

def test_three_encodings_give_the_same_cut(app):
    b64 = base64.b64encode(IMAGE).decode()
    answers = [
        app.cut(files={"image_file": ("x.jpg", IMAGE, "image/jpeg")}, data={"size": "full"}),
        app.cut(data={"image_file_b64": b64, "size": "full"}),
        app.cut(json={"image_file_b64": "data:image/png;base64," + b64, "size": "full"}),
    ]
    for resp in answers:
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "image/png"  # auto: transparent -> PNG
        a = alpha_of(resp)
        assert a.shape == (100, 200) and a[50, 100] == 255 and a[5, 5] == 0
        assert a[20:80, 50:150].min() == 255 and a.sum() == 255 * 100 * 60


def test_empty_null_unknown_and_boolean_spellings(app):
    # The official CLI sends every field, "" when unset; others send nulls and extras.
    empty = {k: "" for k in ("type_level", "roi", "crop", "crop_margin", "scale", "position",
                             "add_shadow", "semitransparency", "bg_color", "image_url")}
    resp = app.cut(files={"image_file": ("a.png", IMAGE)}, data=empty | {"extra_thing": "1"})
    assert resp.status_code == 200, resp.text
    nulls = {"image_file_b64": base64.b64encode(IMAGE).decode(), "bg_color": None,
             "crop": True, "shadow_type": {"car": "car"}, "size": "FULL", "unknown": [1]}
    resp = app.cut(json=nulls)
    assert resp.status_code == 200 and decode(resp.content).size == (100, 60)  # cropped
    for spelling in ("true", "1", "yes", "on", "TRUE"):
        resp = app.cut(data={"image_file_b64": base64.b64encode(IMAGE).decode(),
                             "crop": spelling, "size": "full"})
        assert decode(resp.content).size == (100, 60), spelling


def test_type_is_sniffed_from_the_bytes(app):
    jpeg = photo(fmt="JPEG")
    resp = app.cut(files={"image_file": ("photo.png", jpeg, "image/png")}, data={"size": "full"})
    assert resp.status_code == 200
    for name, data in (("a.png", b"GIF89a" + b"\0" * 40), ("a.jpg", b"just text")):
        assert_error(app.cut(files={"image_file": (name, data)}), 400, "invalid_file_type")


def test_json_mode_and_headers(app):
    resp = app.cut(files={"image_file": ("a", IMAGE)}, data={"size": "full"},
                   headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    data = resp.json()["data"]
    assert (data["foreground_top"], data["foreground_left"], data["foreground_width"],
            data["foreground_height"]) == (20, 50, 100, 60)
    binary = app.cut(files={"image_file": ("a", IMAGE)}, data={"size": "full"})
    assert base64.b64decode(data["result_b64"]) == binary.content  # the same bytes
    for r in (resp, binary):
        h = r.headers
        assert (h["x-width"], h["x-height"], h["x-credits-charged"], h["x-type"]) == \
            ("200", "100", "1", "person")
        assert (h["x-foreground-top"], h["x-foreground-left"], h["x-foreground-width"],
                h["x-foreground-height"]) == ("20", "50", "100", "60")
        assert int(h["x-ratelimit-limit"]) > 0 and int(h["x-ratelimit-remaining"]) >= 0
        assert "retry-after" not in h
    resp = app.cut(files={"image_file": ("a", IMAGE)}, data={"type_level": "none"})
    assert "x-type" not in resp.headers


# ---- output parameters ----------------------------------------------------------------

@pytest.mark.parametrize("size,pixels", [("preview", 250_000), ("regular", 250_000),
                                         ("medium", 1_500_000), ("hd", 4_000_000),
                                         ("full", 10_000_000), ("50MP", 10_000_000)])
def test_size_caps_the_output_never_enlarges(app, size, pixels):
    big = photo((1500, 1200), (300, 200, 1200, 1000))  # 1.8 MP
    resp = app.cut(files={"image_file": ("a", big)}, data={"size": size})
    w, h = decode(resp.content).size
    assert w * h <= min(pixels, 1_800_000) and abs(w / h - 1.25) < 0.01
    assert w * h > 0.98 * min(pixels, 1_800_000)
    assert resp.headers["x-width"] == str(w)


def test_formats(app):
    def cut(**data):
        return app.cut(files={"image_file": ("a", IMAGE)}, data={"size": "full", **data})

    png, jpg, webp, z = (cut(format=f) for f in ("png", "jpg", "webp", "zip"))
    assert png.headers["content-type"] == "image/png" and decode(png.content).mode == "RGBA"
    j = decode(jpg.content)
    assert jpg.headers["content-type"] == "image/jpeg" and j.format == "JPEG"
    assert j.getpixel((5, 5)) == (255, 255, 255)  # transparent -> white
    w = decode(webp.content)
    assert webp.headers["content-type"] == "image/webp" and w.format == "WEBP"
    assert np.array_equal(np.asarray(w.getchannel("A")), alpha_of(png))
    assert z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        alpha = decode(archive.read("alpha.png"))
        assert alpha.mode == "L" and np.array_equal(np.asarray(alpha), alpha_of(png))
        assert decode(archive.read("color.jpg")).format == "JPEG"
    # auto: JPG once nothing is transparent
    opaque = cut(bg_color="00ff00")
    assert opaque.headers["content-type"] == "image/jpeg"
    assert decode(opaque.content).getpixel((5, 5))[1] > 240


def test_channels_alpha_and_backgrounds(app):
    def cut(**data):
        return app.cut(files={"image_file": ("a", IMAGE)}, data={"size": "full", **data})

    mask = decode(cut(channels="alpha").content)
    assert mask.mode == "L" and mask.getpixel((100, 50)) == 255 and mask.getpixel((5, 5)) == 0
    for colour, rgba in (("#ff000080", (255, 0, 0, 128)), ("blue", (0, 0, 255, 255)),
                         ("0f0", (0, 255, 0, 255))):
        img = decode(cut(bg_color=colour, format="png").content).convert("RGBA")
        assert img.getpixel((5, 5)) == rgba, colour
        assert img.getpixel((100, 50)) == (255, 0, 0, 255)
    bg = encode(Image.new("RGB", (40, 40), (0, 0, 200)))
    resp = app.cut(files={"image_file": ("a", IMAGE), "bg_image_file": ("b", bg)},
                   data={"size": "full"})
    img = decode(resp.content)  # opaque, so auto answers a JPG
    assert resp.headers["content-type"] == "image/jpeg" and img.size == (200, 100)
    assert np.abs(np.subtract(img.getpixel((5, 5)), (0, 0, 200))).max() <= 3


def test_crop_margin_roi_scale_position(app):
    def size_of(**data):
        resp = app.cut(files={"image_file": ("a", IMAGE)}, data={"size": "full", **data})
        assert resp.status_code == 200, resp.text
        return resp

    assert decode(size_of(crop="true").content).size == (100, 60)
    assert decode(size_of(crop="true", crop_margin="10px").content).size == (120, 80)
    assert decode(size_of(crop="true", crop_margin="10% 5px").content).size == (110, 72)
    assert decode(size_of(crop="true", crop_margin="1 2 3 4").content).size == (106, 64)
    assert decode(size_of(crop="true", crop_margin="900px").content).size == (200, 120)  # cap
    a = alpha_of(size_of(roi="0 0 100px 100%"))  # unitless zeros are px
    assert a[:, :100].sum() == 255 * 60 * 50 and a[:, 100:].max() == 0
    a = alpha_of(size_of(scale="50%"))  # the subject at half the canvas, centred
    box = np.argwhere(a > 0)
    (top, left), (bottom, right) = box.min(0), box.max(0) + 1
    assert (right - left, bottom - top) == (83, 50) and abs((left + right) / 2 - 100) <= 1
    a = alpha_of(size_of(position="0% 100%"))  # moved to the bottom left, same size
    box = np.argwhere(a > 0)
    assert tuple(box.min(0)) == (40, 0) and tuple(box.max(0) + 1) == (100, 100)


# ---- errors and credits ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BAD))
def test_nonsense_values_are_400_with_the_parameters_code(app, name):
    key = app.new_key(3)
    resp = app.cut(key, files={"image_file": ("a", IMAGE)}, data={name: BAD[name]})
    assert_error(resp, 400, f"invalid_{name}")
    assert app.credits(key) == 3


def test_request_errors(app):
    key = app.new_key(5)

    def cut(**kw):
        return app.cut(key, **kw)

    assert_error(cut(data={"size": "full"}), 400, "missing_source")
    assert_error(cut(json={"image_url": "", "image_file_b64": None}), 400, "missing_source")
    b64 = base64.b64encode(IMAGE).decode()
    assert_error(cut(files={"image_file": ("a", IMAGE)}, data={"image_file_b64": b64}),
                 400, "multiple_sources")
    assert_error(cut(files={"image_file": ("a", IMAGE), "bg_image_file": ("b", IMAGE)},
                        data={"bg_color": "fff"}), 400, "multiple_bg_sources")
    assert_error(cut(data={"image_file_b64": "!!!notbase64"}), 400, "failed_to_read_image")
    assert_error(cut(data={"image_file_b64": b64[:200]}), 400, "failed_to_read_image")
    assert_error(cut(files={"image_file": ("a", IMAGE)}, data={"roi": "0 0 300px 50%"}),
                 400, "roi_exceeds_bounds")
    assert_error(cut(files={"image_file": ("a", IMAGE)}, data={"roi": "50% 0 50% 100%"}),
                 400, "roi_region_empty")
    grey = encode(Image.new("RGB", (64, 64), (128, 128, 128)))
    assert_error(cut(files={"image_file": ("a", grey)}), 400, "unknown_foreground")
    assert_error(cut(content=b"{", headers={"content-type": "application/json"}),
                 400, "invalid_parameter")
    assert_error(cut(content=b"[1]", headers={"content-type": "application/json"}),
                 400, "invalid_parameter")
    assert_error(cut(content=b"x", headers={"content-type": "text/plain"}),
                 400, "missing_source")
    assert app.credits(key) == 5


def test_keys_credits_and_account(app):
    key = app.new_key(2)
    for path in ("/v1.0/account", "/api/account"):
        attrs = app.call("GET", path, key).json()["data"]["attributes"]
        assert attrs == {"credits": {"total": 2.0, "subscription": 0.0, "payg": 2.0,
                                     "enterprise": 0.0},
                         "api": {"free_calls": 0, "sizes": "all"}}
    assert app.cut(key, files={"image_file": ("a", IMAGE)}).status_code == 200
    assert app.call("POST", "/api/removebg", key, files={"image_file": ("a", IMAGE)},
                    headers={"x-API-key": key}).status_code == 200
    assert_error(app.cut(key, files={"image_file": ("a", IMAGE)}), 402, "insufficient_credits")
    assert app.call("GET", "/v1.0/account", key).json()["data"]["attributes"]["credits"][
        "total"] == 0.0
    assert_error(app.cut(None, files={"image_file": ("a", IMAGE)}), 403, "auth_failed")
    assert_error(app.cut("hc_000000000000_" + "x" * 43, files={"image_file": ("a", IMAGE)}),
                 403, "invalid_api_key")
    assert_error(app.call("GET", "/v1.0/account", None), 403, "auth_failed")
    unlimited = app.call("GET", "/v1.0/account").json()["data"]["attributes"]["credits"]
    assert unlimited["total"] == 999_999_999


def test_rate_limit_is_429_with_an_integer_retry_after(app):
    key = app.new_key(None, rate_per_minute=1)
    assert app.cut(key, files={"image_file": ("a", IMAGE)}).status_code == 200
    resp = app.cut(key, files={"image_file": ("a", IMAGE)})
    assert_error(resp, 429, "rate_limit_exceeded")
    assert int(resp.headers["retry-after"]) >= 1


def test_limits(tmp_path):
    small = App(tmp_path, removebg_max_bytes=20_000, removebg_max_pixels=30_000)
    try:
        noise = encode(Image.fromarray(np.random.default_rng(0).integers(
            0, 255, (120, 120, 3), dtype=np.uint8)))
        assert_error(small.cut(files={"image_file": ("a", noise)}), 400, "file_too_large")
        b64 = base64.b64encode(noise).decode()
        assert_error(small.cut(json={"image_file_b64": b64}), 400, "file_too_large")
        assert_error(small.cut(files={"image_file": ("a", photo((300, 101)))}), 400,
                     "resolution_too_high")
        assert small.cut(files={"image_file": ("a", photo((200, 150)))}).status_code == 200
        huge = json.dumps({"image_file_b64": "A" * 200_000})
        assert_error(small.cut(content=huge, headers={"content-type": "application/json"}),
                     400, "file_too_large")
    finally:
        small.close()


def test_other_paths_answer_in_the_removebg_format(app):
    assert_error(app.call("GET", "/v1.0/nothing"), 404, "not_found")
    assert_error(app.call("GET", "/v1.0/removebg"), 405, "method_not_allowed")
