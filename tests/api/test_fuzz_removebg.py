"""Fuzzing the remove.bg route: malformed multipart, urlencoded and JSON bodies, broken and
huge base64, nonsense parameter values. Every answer is a result or a remove.bg error
(JSON envelope, documented status, never a 5xx), and only a result is charged."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.checks import REMOVEBG_NONSENSE as BAD
from tests.support.checks import multipart
from tests.support.images import photo
from tests.support.inproc import App

IMAGE = photo((64, 48), (16, 12, 48, 36))
B64 = base64.b64encode(IMAGE).decode()
PARAMS = sorted(BAD) + ["image_url", "bg_image_url", "image_file_b64", "bg_image_file"]
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("fuzz"), removebg_max_bytes=200_000)
    a.fuzz_key = a.new_key(10**6)
    yield a
    a.close()


def check(app: App, resp, before: int) -> None:
    after = app.credits(app.fuzz_key)
    if resp.status_code == 200:
        assert after == before - 1
        return
    assert after == before, resp.status_code
    assert resp.status_code in (400, 402, 403, 408, 429), resp.text
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["errors"][0]
    assert set(error) == {"title", "code", "detail"}
    assert all(isinstance(v, str) and v for v in error.values())


def send(app: App, **kw) -> None:
    before = app.credits(app.fuzz_key)
    check(app, app.cut(app.fuzz_key, **kw), before)


values = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "true", "false", "0", "-1", "1e9", "100%", "-5%", "0 0 0 0", "50MP", "#", "#ggg",
     "data:image/png;base64,", "data:;base64,!!!", B64[:50], B64 + "=", "%00", "\u202e",
     "http://127.0.0.1/", "http://localhost:1/a", "http://[::1]/", "http://2130706433/",
     "file:///etc/passwd", "x" * 5000]))


@FUZZ
@given(st.dictionaries(st.sampled_from(PARAMS), values, max_size=5), st.booleans())
def test_form_parameters(app, fields, with_file):
    files = {"image_file": ("a.png", IMAGE)} if with_file else None
    send(app, files=files, data=fields)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                     values), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=6)


@FUZZ
@given(st.dictionaries(st.sampled_from(PARAMS), json_values, max_size=5), st.booleans())
def test_json_parameters(app, fields, with_image):
    if with_image:
        fields["image_file_b64"] = B64
    send(app, content=json.dumps(fields), headers={"content-type": "application/json"})


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
     "multipart/form-data; boundary=b0undary", "text/plain", "", "application/json; x=1"]))
def test_raw_bodies(app, body, content_type):
    send(app, content=body, headers={"content-type": content_type} if content_type else {})


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["image_file", "bg_image_file", "size", "crop",
                                           "image_file_b64", ""]),
                          st.one_of(st.none(), st.text(max_size=8)),
                          st.one_of(st.binary(max_size=200), st.just(IMAGE))), max_size=5),
       st.integers(0, 30))
def test_malformed_multipart(app, fields, cut):
    body = multipart(fields)
    send(app, content=body[:len(body) - cut],
         headers={"content-type": "multipart/form-data; boundary=b0undary"})


@pytest.mark.parametrize("b64", [
    B64[:-7], B64.replace("A", "*"), "====", "data:image/png;base64," + "A" * 300_000,
    "A" * 300_001, base64.b64encode(b"\0" * 150_000).decode(),
    "data:image/png;base64," + base64.urlsafe_b64encode(IMAGE).decode().rstrip("=")])
def test_broken_and_huge_base64(app, b64):
    send(app, json={"image_file_b64": b64})
    send(app, data={"image_file_b64": b64})
