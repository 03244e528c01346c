"""image_url / bg_image_url: the address check as unit tests (private, link-local and
metadata addresses are never sent a request), then real fetches from loopback servers
only: refused spellings of loopback, redirects to them, slow and endless servers."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from humancut.api.fetch import allowed_networks, is_public, may_fetch, parse, resolve
from humancut.errors import HumancutError
from tests.support.images import photo
from tests.support.inproc import App
from tests.support.origin import Origin, redirect, send, trickle

REFUSED = ["127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.4", "192.168.1.1",
           "169.254.169.254", "100.100.100.200", "100.64.0.1", "0.0.0.0", "224.0.0.1",
           "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.1", "198.18.0.1",
           "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
           "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
           "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2002:a9fe:a9fe::",
           "2001:0:4136:e378:8000:63bf:3fff:fdd2"]  # Teredo of 192.0.2.45 (documentation)
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
          "::ffff:8.8.8.8", "2002:808:808::"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    assert not may_fetch(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert is_public(ipaddress.ip_address(address))


def test_the_allow_setting_opens_only_what_it_names():
    allow = allowed_networks("127.0.0.1, 10.1.0.0/16")
    assert may_fetch(ipaddress.ip_address("127.0.0.1"), allow)
    assert may_fetch(ipaddress.ip_address("::ffff:127.0.0.1"), allow)
    assert may_fetch(ipaddress.ip_address("10.1.2.3"), allow)
    for other in ("127.0.0.2", "::1", "10.2.0.1", "169.254.169.254"):
        assert not may_fetch(ipaddress.ip_address(other), allow), other
    assert allowed_networks("") == ()


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1",
                                      "0x7f000001", "localhost", "[::1]",
                                      "[::ffff:127.0.0.1]", "127.000.000.001"])
def test_odd_spellings_of_loopback_resolve_to_it_and_are_refused(spelling):
    _, host, port = parse(f"http://{spelling}:9/x.png")
    with pytest.raises(HumancutError) as err:
        asyncio.run(resolve(host, port, ()))
    assert err.value.code == "invalid_parameter"


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd",
                                 "gopher://x/", "//example.com/a", "not a url", "http://",
                                 "http://user:pw@example.com/", "http://example.com:99999/"])
def test_only_plain_http_urls(url):
    with pytest.raises(HumancutError) as err:
        parse(url)
    assert err.value.code == "invalid_parameter"


# ---- real fetches, loopback only ------------------------------------------------------

@pytest.fixture(scope="module")
def origins():
    target = Origin("127.0.0.2", {"/a.png": lambda h: send(h, photo())})  # must stay unhit
    routes = {"/a.png": lambda h: send(h, photo()), "/bg.png": lambda h: send(h, photo()),
              "/missing.png": lambda h: send(h, b"no", 404),
              "/slow": trickle, "/endless": lambda h: trickle(h, endless=True),
              "/loop": redirect("/loop"), "/ok": redirect("/a.png")}
    for i, spelling in enumerate(["127.0.0.2", "2130706434", "0x7f.0.0.2", "127.0.2",
                                  "[::ffff:127.0.0.2]", "[::1]"]):
        routes[f"/to{i}"] = redirect(f"http://{spelling}:{target.port}/a.png")
    origin = Origin("127.0.0.1", routes)
    yield origin, target
    origin.close()
    target.close()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):  # the default: public addresses only
    a = App(tmp_path_factory.mktemp("strict"))
    yield a
    a.close()


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):  # tests only: 127.0.0.1 itself may be fetched
    a = App(tmp_path_factory.mktemp("loopback"), fetch_allow="127.0.0.1", fetch_timeout=2.0,
            removebg_max_bytes=3_000_000)
    yield a
    a.close()


def code_of(resp) -> str:
    assert resp.status_code < 500, resp.text
    return resp.json()["errors"][0]["code"] if resp.status_code != 200 else "ok"


def test_loopback_is_refused_by_default_and_never_fetched(strict, origins):
    origin, _ = origins
    key = strict.new_key(3)
    for host in ("127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "[::1]",
                 "[::ffff:127.0.0.1]"):
        url = f"http://{host}:{origin.port}/a.png"
        assert code_of(strict.cut(key, data={"image_url": url})) == "invalid_image_url", host
        resp = strict.cut(key, files={"image_file": ("a", photo())}, data={"bg_image_url": url})
        assert code_of(resp) == "invalid_bg_image_url", host
    assert code_of(strict.cut(key, json={"image_url": "ftp://127.0.0.1/a.png"})) == \
        "invalid_image_url"
    assert sum(origin.hits.values()) == 0 and strict.credits(key) == 3


def test_happy_path_with_loopback_allowed(loopback, origins):
    origin, _ = origins
    key = loopback.new_key(5)
    resp = loopback.cut(key, json={"image_url": origin.url + "/a.png", "size": "full"})
    assert resp.status_code == 200 and resp.headers["x-width"] == "200"
    resp = loopback.cut(key, data={"image_url": origin.url + "/ok", "channels": "alpha",
                                   "bg_image_url": origin.url + "/bg.png"})
    assert resp.status_code == 200
    assert origin.hits["/a.png"] == 2 and origin.hits["/bg.png"] == 1
    assert loopback.credits(key) == 3


def test_redirects_are_rechecked_and_failures_cost_nothing(loopback, origins):
    origin, target = origins
    key = loopback.new_key(5)
    for i in range(6):
        resp = loopback.cut(key, data={"image_url": f"{origin.url}/to{i}"})
        assert code_of(resp) == "invalid_image_url", i
    assert sum(target.hits.values()) == 0
    assert code_of(loopback.cut(key, data={"image_url": origin.url + "/loop"})) == \
        "failed_image_download"
    assert origin.hits["/loop"] == 4  # the first request and three redirects
    assert code_of(loopback.cut(key, data={"image_url": origin.url + "/missing.png"})) == \
        "failed_image_download"
    assert code_of(loopback.cut(key, data={"image_url": "http://127.0.0.1:9/a.png"})) == \
        "failed_image_download"  # nothing listens
    assert loopback.credits(key) == 5


@pytest.mark.parametrize("path,code", [("/slow", "failed_image_download"),
                                       ("/endless", "file_too_large")])
def test_slow_and_endless_servers_are_cut_off(loopback, origins, path, code):
    origin, _ = origins
    key = loopback.new_key(1)
    resp = loopback.cut(key, data={"image_url": origin.url + path})
    assert code_of(resp) == code and resp.status_code == 400
    assert loopback.credits(key) == 1
