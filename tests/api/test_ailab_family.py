"""The AILabTools HD route and query-credits in process: limits and error codes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.checks import assert_error
from tests.support.images import encode, photo
from tests.support.inproc import App

HD = "/api/cutout/portrait/hd-portrait-background-removal"
CREDITS = "/api/common/query-credits"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("ailab"), hd_max_bytes=60_000, hd_max_side=2400)
    yield a
    a.close()


def post(app: App, key: str | None, image: bytes, **data: str):
    headers = {} if key is None else {"ailabapi-api-key": key}
    return app.call("POST", HD, None, headers=headers, files={"image": ("a.png", image)},
                    data=data)


def test_hd_route_limits_and_codes(app):
    key = app.new_key(3)
    big = photo((2200, 200), (100, 20, 2000, 180))  # over the 1999 px of the other route
    resp = post(app, key, big, return_form="mask")  # other fields are ignored
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["elements"][0]["image_url"].startswith("http://humancut/")
    assert_error(post(app, key, photo((2401, 100))), 413, "FILE_RESOLUTION_EXCEEDS_LIMITS")
    noise = encode(Image.fromarray(np.random.default_rng(0).integers(
        0, 255, (200, 200, 3), dtype=np.uint8)))
    assert_error(post(app, key, noise), 413, "FILE_SIZE_EXCEEDS_LIMIT")
    assert_error(post(app, key, b"GIF89a" + b"\0" * 30), 415, "UNSUPPORTED_FILE_TYPES")
    assert_error(post(app, None, photo()), 400, "MISSING_PARAMETERS")
    assert app.credits(key) == 2


def test_query_credits(app):
    key = app.new_key(7)
    body = app.call("GET", CREDITS, None, headers={"ailabapi-api-key": key}).json()
    assert body["error_code"] == 0 and body["data"][0]["balance"] == 7.0
    assert_error(app.call("GET", CREDITS, None), 400, "MISSING_PARAMETERS")
    assert_error(app.call("GET", CREDITS, None, headers={"ailabapi-api-key": "x"}), 401,
                 "ERROR_APPLICATIONS_NOT_EXISTS")
