"""The trial page in a real browser (Debian's chromium driven by Playwright) against a real
server: key, upload, every output form, errors, one request at a time with the demo key,
keyboard, the fetch sample, phone width."""

from __future__ import annotations

import base64
import io
import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, watched_page
from tests.support.images import FIXTURES, encode, landscape
from tests.support.server import ROUTE, start

SCREENS = Path("/tmp/humancut-screens")
ASTRONAUT = FIXTURES / "astronaut.jpg"
SAMPLE_FETCH = (Path(__file__).resolve().parents[2] / "src" / "humancut" / "web" / "static"
                / "samples" / "sample_fetch.js")
TIMEOUT = 60_000  # ms: one cut on a slow shared CPU

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no chromium at {CHROMIUM}", allow_module_level=True)
expect = sync_api.expect


@pytest.fixture
def page(browser, server):
    """A fresh page; fails the test on a CSP violation or an uncaught script error."""
    with watched_page(browser, server.url, TIMEOUT, accept_downloads=True) as pg:
        yield pg


def open_page(page, key: str | None) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("humancut")
    if key is not None:
        page.fill("#key", key)


def wait_for_result(page, name: str) -> None:
    """Until the download link carries `name` and the result image is decoded."""
    expect(page.locator("#download")).to_have_attribute("download", name, timeout=TIMEOUT)
    page.wait_for_function("document.getElementById('result').naturalWidth > 0")


def download(page, tmp_path: Path) -> tuple[str, Image.Image]:
    with page.expect_download() as info:
        page.click("#download")
    dl = info.value
    target = tmp_path / dl.suggested_filename
    dl.save_as(target)
    img = Image.open(target)
    img.load()
    return dl.suggested_filename, img


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / name)
    return path


# ---- the happy path ---------------------------------------------------------------------

def test_cutout_then_mask_then_white_then_crop(page, key, tmp_path):
    open_page(page, key)
    assert page.evaluate("localStorage.getItem('humancut.apiKey')") == key
    expect(page.locator("#run")).to_be_disabled()  # nothing chosen yet
    page.set_input_files("#file", str(ASTRONAUT))
    expect(page.locator("#file-info")).to_contain_text("astronaut.jpg")
    wait_for_result(page, "astronaut-cutout.png")
    assert key not in page.url
    assert page.evaluate("document.getElementById('result').naturalWidth") == 512
    assert page.evaluate("document.getElementById('cmp-result').naturalWidth") == 512
    expect(page.locator("#compare")).to_be_visible()  # before/after is the first view
    expect(page.locator("#timing")).to_contain_text(" in ")
    expect(page.locator("#error")).to_be_hidden()
    name, img = download(page, tmp_path)
    assert name == "astronaut-cutout.png"
    assert img.format == "PNG" and img.size == (512, 512) and img.mode == "RGBA"
    alpha = np.asarray(img)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # a real cut-out, not an empty image

    page.check("input[name=return_form][value=mask]")  # a new form re-runs the same photo
    wait_for_result(page, "astronaut-mask.png")
    name, img = download(page, tmp_path)
    assert name == "astronaut-mask.png" and img.size == (512, 512) and img.mode == "L"

    page.check("input[name=return_form][value=whiteBK]")
    wait_for_result(page, "astronaut-white.png")
    name, img = download(page, tmp_path)
    assert img.size == (512, 512) and img.mode == "RGB"

    page.check("input[name=return_form][value=crop]")
    wait_for_result(page, "astronaut-crop.png")
    name, img = download(page, tmp_path)
    assert img.mode == "RGBA" and img.width <= 512 and img.height <= 512
    # a crop has another size than the photo: shown side by side, with a note
    expect(page.locator("#compare")).to_be_hidden()
    expect(page.locator("#side")).to_be_visible()
    expect(page.locator("#compare-note")).to_be_visible()


def test_drop_and_paste(page, key, tmp_path):
    open_page(page, key)
    data = base64.b64encode(ASTRONAUT.read_bytes()).decode()
    make = """async ([data, name, type]) => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const file = new File([bytes], name, {type});
        const dt = new DataTransfer(); dt.items.add(file); return dt; }"""
    dt = page.evaluate_handle(make, [data, "dropped.jpg", "image/jpeg"])
    page.dispatch_event("#drop", "dragenter", {"dataTransfer": dt})
    expect(page.locator("#drop")).to_have_class("drop over")
    page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
    wait_for_result(page, "dropped-cutout.png")
    expect(page.locator("#drop")).to_have_class("drop")

    page.check("input[name=return_form][value=mask]")
    wait_for_result(page, "dropped-mask.png")
    dt = page.evaluate_handle(make, [data, "image.jpg", "image/jpeg"])
    page.evaluate("""(dt) => document.dispatchEvent(new ClipboardEvent('paste',
        {clipboardData: dt, bubbles: true, cancelable: true}))""", dt)
    wait_for_result(page, "pasted-mask.png")
    _, img = download(page, tmp_path)
    assert img.mode == "L" and img.size == (512, 512)


# ---- errors are shown, not a blank result ------------------------------------------------

def test_oversized_file_shows_the_servers_error(page, key, tmp_path):
    rng = np.random.default_rng(7)
    noise = encode(Image.fromarray(rng.integers(0, 255, (1040, 1024, 3), dtype=np.uint8)))
    assert 3 * 1024 * 1024 < len(noise) < 3 * 1024 * 1024 + 60 * 1024
    big = tmp_path / "noise.png"
    big.write_bytes(noise)
    open_page(page, key)
    page.set_input_files("#file", str(big))
    expect(page.locator("#file-info")).to_contain_text("3.0")  # the size, in MB
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=TIMEOUT)
    expect(error).to_contain_text("FILE_SIZE_EXCEEDS_LIMIT")
    expect(error).to_contain_text("HTTP 413")
    assert len(error.inner_text()) > 60  # the server's own message, not just the code
    expect(page.locator("#results")).to_be_hidden()
    screenshot(page, tmp_path, "error-desktop.png")


def test_other_errors(page, key, tmp_path):
    open_page(page, None)
    page.set_input_files("#file", str(ASTRONAUT))
    expect(page.locator("#error")).to_contain_text("API key")  # asked for, not sent
    page.fill("#key", "hc_000000000000_" + "x" * 43)
    page.click("#run")
    expect(page.locator("#error")).to_contain_text("ERROR_APPLICATIONS_NOT_EXISTS")
    expect(page.locator("#error")).to_contain_text("HTTP 401")

    page.fill("#key", key)
    scene = tmp_path / "landscape.png"
    scene.write_bytes(encode(landscape()))
    page.set_input_files("#file", str(scene))
    expect(page.locator("#error")).to_contain_text("ERROR_NO_RECOGNITION_TARGET_DETECTED")
    gif = tmp_path / "anim.gif"
    gif.write_bytes(encode(Image.new("RGB", (32, 32)), "GIF"))
    page.set_input_files("#file", str(gif))
    expect(page.locator("#error")).to_contain_text("UNSUPPORTED_FILE_TYPES")
    expect(page.locator("#results")).to_be_hidden()


# ---- one request at a time (the demo key allows one in flight) ---------------------------

@pytest.fixture
def trial_page(browser, tmp_path_factory):
    """A page on its own `humancut serve --trial-key`, stopped after the test."""
    srv = start(tmp_path_factory.mktemp("trial"), extra_args=["--trial-key"])
    try:
        with watched_page(browser, srv.url, TIMEOUT) as pg:
            yield pg
    finally:
        srv.stop()


def test_busy_button_sends_one_request_at_a_time(trial_page):
    """Choosing a photo starts a request; the button shows it and sends nothing more until it
    ends (before, a click sent a second one, which the demo key refused with "may have 1
    request(s) in progress at once"). Afterwards the button runs the same photo again.

    Each POST is held (page.route) until the clicks are done, then goes on to the real server,
    so "in flight" does not depend on how fast the cut is."""
    page = trial_page
    posts: list = []
    held: list = []
    page.on("request", lambda r: posts.append(r)
            if r.method == "POST" and r.url.endswith(ROUTE) else None)
    page.route("**" + ROUTE, lambda route: held.append(route))

    def wait_held(n: int) -> None:
        deadline = time.monotonic() + 15
        while len(held) < n:
            assert time.monotonic() < deadline, f"no POST #{n} reached the route"
            page.wait_for_timeout(20)

    run = page.locator("#run")
    page.goto("/")
    expect(page.locator("#key-state")).to_have_text("demo key")  # GET /api/trial, no stub
    page.set_input_files("#file", str(ASTRONAUT))  # starts the request at once
    wait_held(1)
    expect(run).to_be_disabled()  # aria-disabled: the focus stays on it
    expect(run).to_have_text("Working\u2026")
    expect(run).to_have_attribute("aria-busy", "true")
    expect(page.locator("#form")).to_have_attribute("aria-busy", "true")
    for _ in range(4):  # a user clicking on; force: a real click, not Playwright's wait
        run.click(force=True, no_wait_after=True)
    run.focus()
    page.keyboard.press("Enter")
    page.focus("#key")
    page.keyboard.press("Enter")  # implicit submission of the form
    page.wait_for_timeout(300)  # room for a wrong second request to be sent
    assert len(posts) == 1 and len(held) == 1, [r.url for r in posts]
    held[0].continue_()

    wait_for_result(page, "astronaut-cutout.png")
    assert posts[0].response().status == 200
    expect(run).to_have_text("Remove background")
    expect(run).to_be_enabled()
    expect(run).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#status")).to_contain_text("Done in")
    expect(page.locator("#error")).to_be_hidden()
    first = page.get_attribute("#result", "src")

    run.click()  # after it ended: the same photo runs again
    wait_held(2)
    expect(run).to_have_text("Working\u2026")
    run.click(force=True, no_wait_after=True)
    page.wait_for_timeout(200)
    assert len(posts) == 2 and len(held) == 2
    held[1].continue_()
    expect(run).to_have_text("Remove background")
    expect(run).to_be_enabled()
    expect(page.locator("#result")).not_to_have_attribute("src", first)  # a new result
    wait_for_result(page, "astronaut-cutout.png")
    assert posts[1].response().status == 200
    expect(page.locator("#status")).to_contain_text("Done in")
    expect(page.locator("#error")).to_be_hidden()
    assert "in progress at once" not in page.inner_text("#form")
    assert len(posts) == 2


# ---- key storage and the demo key ---------------------------------------------------------

def test_key_is_remembered_and_forgotten(page, key):
    open_page(page, key)
    page.reload()
    expect(page.locator("#key")).to_have_value(key)
    expect(page.locator("#key-state")).to_have_text("saved")
    expect(page.locator("#key")).to_have_attribute("type", "password")
    page.click("#key-show")
    expect(page.locator("#key")).to_have_attribute("type", "text")
    page.click("#key-forget")
    expect(page.locator("#key")).to_have_value("")
    assert page.evaluate("localStorage.getItem('humancut.apiKey')") is None


def test_demo_key_from_api_trial(page, key):
    """GET /api/trial (stubbed here) gives a key when none is stored; it is not stored."""
    page.route("**/api/trial", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"enabled": True, "key": key})))
    open_page(page, None)
    expect(page.locator("#key")).to_have_value(key)
    expect(page.locator("#key-state")).to_have_text("demo key")
    assert page.evaluate("localStorage.getItem('humancut.apiKey')") is None
    page.set_input_files("#file", str(ASTRONAUT))
    wait_for_result(page, "astronaut-cutout.png")


def test_trial_off_and_stored_key_wins(page, key):
    page.route("**/api/trial", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"enabled": True, "key": "hc_demo"})))
    page.goto("/")
    page.evaluate("k => localStorage.setItem('humancut.apiKey', k)", key)
    page.reload()
    expect(page.locator("#key")).to_have_value(key)
    expect(page.locator("#key-state")).to_have_text("saved")
    page.unroute("**/api/trial")
    page.evaluate("localStorage.clear()")
    page.reload()  # the real server: 404 or disabled, tolerated
    expect(page.locator("#key")).to_have_value("")
    expect(page.locator("#key-state")).to_be_hidden()


# ---- keyboard ---------------------------------------------------------------------------

def test_keyboard(page, key):
    open_page(page, key)
    assert page.evaluate("document.getElementById('drop').tagName") == "BUTTON"
    page.focus("#key")
    for _ in range(3):  # Show, Forget, then the drop zone
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "drop"
    choosers = []
    page.on("filechooser", lambda chooser: (choosers.append(chooser),
                                            chooser.set_files(str(ASTRONAUT))))
    page.evaluate("0")  # one round trip, so the chooser is intercepted before Enter
    page.keyboard.press("Enter")  # the drop zone opens the file chooser
    wait_for_result(page, "astronaut-cutout.png")
    assert len(choosers) == 1

    page.focus("#slider")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.input_value("#slider") == "55"
    assert page.evaluate("getComputedStyle(document.getElementById('compare'))"
                         ".getPropertyValue('--pos').trim()") == "55%"
    page.keyboard.press("Home")
    assert page.input_value("#slider") == "0"
    # the focused slider is visibly marked
    outline = page.evaluate("getComputedStyle(document.getElementById('compare')).outlineStyle")
    assert outline == "solid"

    page.click("#view-side")
    expect(page.locator("#side")).to_be_visible()
    expect(page.locator("#view-side")).to_have_attribute("aria-pressed", "true")
    page.focus("#tab-sh")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-httpx"
    expect(page.locator("#sample-code")).to_contain_text("import httpx")


# ---- the fetch sample, in the page ------------------------------------------------------

def test_fetch_sample_runs_in_the_page(page, server, key):
    open_page(page, None)
    page.add_script_tag(url="static/samples/sample_fetch.js")  # 'self': allowed by the CSP
    data = base64.b64encode(ASTRONAUT.read_bytes()).decode()
    url = page.evaluate("""async ([key, data]) => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const image = new Blob([bytes], {type: "image/jpeg"});
        return await removeBackground(location.origin, key, image, "mask", "astronaut.jpg");
    }""", [key, data])
    assert url.startswith(server.url + "/api/results/")
    img = Image.open(io.BytesIO(httpx.get(url, timeout=30).content))
    assert img.format == "PNG" and img.size == (512, 512) and img.mode == "L"
    failed = page.evaluate("""async () => {
        try { await removeBackground("", "nope", new Blob([new Uint8Array(10)]), "");
              return ""; } catch (e) { return e.message; } }""")
    assert "ERROR_APPLICATIONS_NOT_EXISTS" in failed
    assert SAMPLE_FETCH.read_text() == httpx.get(server.url + "/static/samples/sample_fetch.js"
                                                 ).text


# ---- how it looks -----------------------------------------------------------------------

def test_screenshots_desktop_and_phone(browser, server, key, tmp_path):
    for name, options in {
        "desktop": {"viewport": {"width": 1280, "height": 900}},
        "phone": {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2,
                  "is_mobile": True, "has_touch": True},
    }.items():
        ctx = browser.new_context(base_url=server.url + "/", **options)
        ctx.set_default_timeout(TIMEOUT)
        try:
            page = ctx.new_page()
            page.goto("/")
            screenshot(page, tmp_path, f"empty-{name}.png")
            page.fill("#key", key)
            page.set_input_files("#file", str(ASTRONAUT))
            wait_for_result(page, "astronaut-cutout.png")
            page.fill("#slider", "35")
            page.locator("#slider").blur()
            screenshot(page, tmp_path, f"result-{name}.png")
            # nothing sticks out sideways
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= options["viewport"]["width"], width
            page.click("#view-side")
            page.locator("#results").scroll_into_view_if_needed()
            screenshot(page, tmp_path, f"side-{name}.png")
        finally:
            ctx.close()
    assert (tmp_path / "result-phone.png").stat().st_size > 10_000
