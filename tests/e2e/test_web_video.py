"""The trial page's video tab in a real browser (Debian's chromium driven by Playwright)
against a real server and the real model: a clip chosen, the progress bar, the result
playing over the checkerboard beside the original, a pixel of it drawn onto a canvas with
alpha 0 on the background and 255 on the person, the download, and an error shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, watched_page
from tests.support.images import encode, landscape
from tests.support.server import Server, start
from tests.support.videoclips import clip, face, webm_alpha_frames

TIMEOUT = 120_000  # ms: a task on a slow shared CPU

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no chromium at {CHROMIUM}", allow_module_level=True)
expect = sync_api.expect

# Seek the result to `t`, draw it onto a canvas, read the alpha at the [row, column] points.
ALPHA_AT = """async ([t, points]) => {
  const v = document.getElementById("vresult");
  v.pause();
  await new Promise((done) => { v.addEventListener("seeked", done, {once: true});
                                v.currentTime = t; });
  const canvas = document.createElement("canvas");
  canvas.width = v.videoWidth;
  canvas.height = v.videoHeight;
  const g = canvas.getContext("2d");
  g.drawImage(v, 0, 0);
  return [v.videoWidth, v.videoHeight,
          ...points.map(([y, x]) => g.getImageData(x, y, 1, 1).data[3])];
}"""
PLAYING = """() => { const v = document.getElementById("vresult");
  return v.readyState >= 2 && !v.paused && v.currentTime > 0; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start(tmp_path_factory.mktemp("web-video"), ["--workers", "1"],
                {"HUMANCUT_VIDEO_SIZE": "128"})
    yield srv
    srv.stop()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    with watched_page(browser, server.url, TIMEOUT, accept_downloads=True) as pg:
        yield pg


def test_the_video_tab_plays_a_transparent_result(page, server, tmp_path):
    key = server.create_key(credits=3)
    video = tmp_path / "walk.mp4"
    video.write_bytes(clip())
    page.goto("/")
    page.fill("#key", key)
    expect(page.locator("#video-panel")).to_be_hidden()
    page.click("#mode-video")
    expect(page.locator("#video-panel")).to_be_visible()
    expect(page.locator("#drop")).to_be_hidden()  # the photo's drop zone
    page.set_input_files("#vfile", str(video))
    expect(page.locator("#vfile-info")).to_contain_text("walk.mp4")
    page.click("#vrun")
    expect(page.locator("#vprogress")).to_be_visible()
    expect(page.locator("#vdownload")).to_be_visible()
    assert page.evaluate("document.getElementById('vprogress').value") == 100
    expect(page.locator("#vstatus")).to_contain_text("20 frames")
    page.wait_for_function(PLAYING)
    assert page.evaluate("document.getElementById('voriginal').src").startswith("blob:")
    expect(page.locator("#vresult")).to_be_visible()
    frame = page.locator("#vresult").evaluate("v => getComputedStyle(v.parentElement)"
                                              ".backgroundImage")
    assert "linear-gradient" in frame  # the checkerboard behind the transparent video
    width, height, wall, on_face = page.evaluate(ALPHA_AT, [1.05, [[3, 3],
                                                                 list(face(index=10))]])
    assert (width, height) == (128, 96)
    assert wall == 0 and on_face == 255
    with page.expect_download() as info:
        page.click("#vdownload")
    assert info.value.suggested_filename == "walk-webm.webm"
    saved = tmp_path / "saved.webm"
    info.value.save_as(saved)
    assert len(webm_alpha_frames(saved.read_bytes())) == 20
    page.click("#mode-photo")
    expect(page.locator("#drop")).to_be_visible()
    expect(page.locator("#video-panel")).to_be_hidden()


def test_the_video_tab_shows_the_servers_error(page, server, tmp_path):
    photo = tmp_path / "not-a-clip.png"
    photo.write_bytes(encode(landscape()))
    page.goto("/#video")
    page.fill("#key", server.create_key(credits=3))
    page.set_input_files("#vfile", str(photo))
    page.click("#vrun")
    expect(page.locator("#verror")).to_contain_text("UNSUPPORTED_FILE_TYPES")
    expect(page.locator("#vresults")).to_be_hidden()
    expect(page.locator("#vprogress")).to_be_hidden()
