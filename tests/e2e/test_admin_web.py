"""The operator console (GET /admin) in a real browser (Debian's chromium driven by
Playwright) against a real server with the real model: create a key on the page, call the
API with it, see the calls in the table and the chart, top up, disable, revoke, and see the
revoked key refused; key names are shown as text, never as markup.

The screenshots in docs/admin.md come from this test (copied from /tmp/humancut-screens)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from humancut.settings import Settings
from humancut.store import open_keys
from humancut.store.keys import VIDEO_OK, utc_day
from tests.support.browser import CHROMIUM, watched_page
from tests.support.images import FIXTURES, encode
from tests.support.server import ROUTE, start

SCREENS = Path("/tmp/humancut-screens")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no chromium at {CHROMIUM}", allow_module_level=True)
expect = sync_api.expect

TOKEN = "console-" + "k3" * 16
XSS = "<img src=x onerror=alert(1)>"
TIMEOUT = 60_000  # ms: one cut on a slow shared CPU
HISTORY = {0: 3, 3: 4, 9: 7, 17: 2, 40: 5}  # days ago -> images of the "nightly batch" key


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    srv = start(tmp_path_factory.mktemp("console"), env={
        "HUMANCUT_ADMIN_TOKEN": TOKEN, "HUMANCUT_THREADS": "1", "HUMANCUT_FUSION_SIZE": "0",
        "HUMANCUT_CLOSER_SIZE": "0", "HUMANCUT_ZOOM": "0"})
    yield srv
    srv.stop()


@pytest.fixture
def page(browser, console):
    with watched_page(browser, console.url, TIMEOUT) as pg:
        pg.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
        yield pg



def screenshot(target, tmp_path: Path, name: str) -> None:
    """A page (whole) or an element, kept in SCREENS for docs/admin.md."""
    path = tmp_path / name
    if hasattr(target, "goto"):
        target.screenshot(path=str(path), full_page=True)
    else:
        target.screenshot(path=str(path))
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / name)


def photo() -> bytes:
    from PIL import Image

    img = Image.open(FIXTURES / "astronaut.jpg").convert("RGB")
    img.thumbnail((128, 128))
    return encode(img, "JPEG", quality=85)


def call(console, secret: str) -> int:
    resp = httpx.post(console.url + ROUTE, headers={"ailabapi-api-key": secret},
                      files={"image": ("a.jpg", photo(), "image/jpeg")}, timeout=120)
    return resp.status_code


def test_console_create_call_chart_top_up_revoke(page, console, tmp_path):
    # Some history from before today, written into the server's store as its calls would.
    store = open_keys(Settings.from_env(console.env, data_dir=console.data_dir))
    nightly, _ = store.create("nightly batch", None)
    now = time.time()
    for days_ago, images in HISTORY.items():
        for _ in range(images):
            store.record_usage(nightly.id, "ok", 1, at=now - days_ago * 86400)
    store.record_usage(nightly.id, "no_person", at=now - 3 * 86400)
    for seconds in (12.5, 4.0):  # two video tasks, as the video worker counts them
        store.record_usage(nightly.id, VIDEO_OK, 2, at=now - 86400, seconds=seconds)

    dialogs: list[tuple[str, str]] = []
    page.on("dialog", lambda d: (dialogs.append((d.type, d.message)), d.accept()))
    page.goto("/admin")
    expect(page.locator("h1")).to_have_text("humancut console")
    page.fill("#token", "not-the-token")
    page.click("#connect")
    expect(page.locator("#status")).to_contain_text("refused")
    expect(page.locator("#console")).to_be_hidden()
    page.fill("#token", TOKEN)
    page.click("#connect")
    expect(page.locator("#console")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('humancut.adminToken')") == TOKEN
    assert page.evaluate("localStorage.length") == 0
    assert TOKEN not in page.url

    # A key made on the page, named to try to inject markup: its secret shown once.
    page.fill("#new-name", XSS)
    page.fill("#new-credits", "2")
    page.click("#create-button")
    expect(page.locator("#secret-box")).to_be_visible()
    secret = page.text_content("#secret") or ""
    assert secret.startswith("hc_")
    key_id = secret.split("_")[1]
    page.click("#copy")
    expect(page.locator("#copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page.locator("#create").locator(".."), tmp_path, "admin-new-key.png")
    row = page.locator(f"#keys tr[data-key-id='{key_id}']")
    expect(row.locator("td.name")).to_have_text(XSS)
    expect(row.locator("td.credits")).to_have_text("2")
    assert page.locator("img").count() == 0  # the name stayed text

    # Calls through the API: two cut-outs, then no credits left.
    assert [call(console, secret) for _ in range(3)] == [200, 200, 429]
    page.click("#refresh")
    expect(row.locator("td.today")).to_have_text("2")
    expect(row.locator("td.month")).to_have_text("2")
    expect(row.locator("td.credits")).to_have_text("0")
    today = utc_day()
    expect(page.locator(f"#chart rect.bar[data-key='{key_id}'][data-day='{today}']")
           ).to_have_attribute("data-images", "2")
    for days_ago, images in HISTORY.items():  # stacked with the other key's history
        bar = page.locator(f"#chart rect.bar[data-key='{nightly.id}']"
                           f"[data-day='{utc_day(now - days_ago * 86400)}']")
        if days_ago < 30:
            expect(bar).to_have_attribute("data-images", str(images))
        else:
            expect(bar).to_have_count(0)  # outside the last 30 days
    nightly_row = page.locator(f"#keys tr[data-key-id='{nightly.id}']")
    expect(nightly_row.locator("td.month")).to_have_text(str(3 + 4 + 7 + 2))
    expect(nightly_row.locator("td.credits")).to_have_text("unlimited")
    expect(nightly_row.locator("td.video")).to_have_text("2 / 16.5 s")
    expect(page.locator("#failures tr[data-problem='no_credits'] td.num")).to_have_text("1")
    expect(page.locator("#failures tr[data-problem='no_person'] td.num")).to_have_text("1")
    expect(page.locator("#legend")).to_contain_text(XSS)
    assert "<img" not in (page.inner_html("#legend") + page.inner_html("#keys"))

    # One key's chart.
    page.select_option("#chart-key", key_id)
    expect(page.locator("#chart rect.bar")).to_have_count(1)
    expect(page.locator("#failures tr[data-problem='no_person']")).to_have_count(0)
    page.select_option("#chart-key", "")
    expect(page.locator(f"#chart rect.bar[data-key='{nightly.id}']")).to_have_count(4)

    # Top up, then the key works again.
    row.locator(".topup input").fill("5")
    row.locator(".topup button[type=submit]").click()
    expect(row.locator("td.credits")).to_have_text("5")
    assert call(console, secret) == 200
    page.click("#refresh")
    expect(row.locator("td.today")).to_have_text("3")
    expect(row.locator("td.credits")).to_have_text("4")
    screenshot(page, tmp_path, "admin-console.png")

    # Disable and enable, confirmed; then revoke, and the API refuses the key.
    row.locator("button[data-action='disabled']").click()
    expect(row.locator(".status")).to_have_text("disabled")
    assert call(console, secret) == 403
    row.locator("button[data-action='active']").click()
    expect(row.locator(".status")).to_have_text("active")
    row.locator("button[data-action='revoked']").click()
    expect(row.locator(".status")).to_have_text("revoked")
    expect(row.locator("button")).to_have_count(0)  # nothing left to do with it
    assert call(console, secret) == 401
    assert [t for t, _ in dialogs] == ["confirm"] * 3  # and never an alert
    assert all(XSS in message for _, message in dialogs)

    # Every change made on the page is in the audit trail.
    audit = httpx.get(console.url + f"/admin/v1/audit?key={key_id}",
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()["audit"]
    assert [e["action"] for e in audit] == ["update", "update", "update", "credits", "create"]
    store.close()


def test_forgetting_the_token_and_a_narrow_screen(page, console, tmp_path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin")
    page.fill("#token", TOKEN)
    page.click("#connect")
    expect(page.locator("#console")).to_be_visible()
    page.reload()  # the token survives a reload of the tab ...
    expect(page.locator("#console")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot(page, tmp_path, "admin-phone.png")
    page.click("#logout")  # ... until forgotten
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0

