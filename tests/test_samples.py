"""The sample programs (curl, httpx, ailabtools-sdk, fetch in Node) run for real against a
server: each prints a result URL that downloads a PNG of the right size and kind."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from conftest import FIXTURES
from server import Server

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "src" / "humancut" / "web" / "static" / "samples"
DOC = ROOT / "README.md"
ASTRONAUT = FIXTURES / "astronaut.jpg"


def _command(name: str) -> list[str]:
    path = str(SAMPLES / name)
    if name.endswith(".sh"):
        if not (shutil.which("sh") and shutil.which("curl")):
            pytest.skip("sh or curl is missing")
        return ["sh", path]
    if name.endswith(".js"):
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            pytest.skip("node is missing")
        return [node, path]
    return [sys.executable, path]


# sample -> (return_form it is run with, PIL mode of the result)
CASES = {
    "sample.sh": ("", "RGBA"),
    "sample_httpx.py": ("mask", "L"),
    "sample_sdk.py": ("whiteBK", "RGB"),
    "sample_fetch.js": ("crop", "RGBA"),
}


def run(name: str, server: Server, key: str, tmp_path: Path, **env: str
        ) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("OUTPUT", "RETURN_FORM")}
    full = {**inherited, "HUMANCUT_URL": server.url, "HUMANCUT_KEY": key,
            "IMAGE": str(ASTRONAUT), **env}
    return subprocess.run(_command(name), env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", list(CASES))
def test_sample_prints_a_result_url(name, server, key, tmp_path):
    form, mode = CASES[name]
    out = tmp_path / "out.png"
    done = run(name, server, key, tmp_path, RETURN_FORM=form, OUTPUT=str(out))
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(server.url) + r"/api/results/[\w-]+\.png", url), done.stdout
    img = Image.open(io.BytesIO(httpx.get(url, timeout=30).content))
    assert img.format == "PNG" and img.mode == mode
    if form == "crop":
        assert img.width <= 512 and img.height <= 512 and img.width * img.height < 512 * 512
    else:
        assert img.size == (512, 512)
    saved = Image.open(out)  # OUTPUT: the same PNG, saved
    assert saved.size == img.size and saved.mode == mode


@pytest.mark.parametrize("name", list(CASES))
def test_sample_reports_the_servers_error(name, server, tmp_path):
    done = run(name, server, "hc_000000000000_" + "x" * 43, tmp_path)
    assert done.returncode != 0
    assert "ERROR_APPLICATIONS_NOT_EXISTS" in done.stderr, done.stderr
    assert not done.stdout.strip()


def test_sample_without_a_form_gives_the_cutout(server, key, tmp_path):
    done = run("sample_httpx.py", server, key, tmp_path)
    assert done.returncode == 0, done.stderr
    img = Image.open(io.BytesIO(httpx.get(done.stdout.strip(), timeout=30).content))
    assert img.mode == "RGBA" and img.size == (512, 512)


def test_the_doc_shows_the_samples_as_they_are():
    doc = DOC.read_text()
    for name in CASES:
        assert (SAMPLES / name).read_text().strip() in doc, f"{name} differs from {DOC.name}"
