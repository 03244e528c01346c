"""The sample programs (curl, httpx, ailabtools-sdk, fetch in Node) run for real against a
server: each prints a result URL that downloads a PNG of the right size and kind. The docs
show them as they are, and every relative link in README.md and docs/*.md leads somewhere."""

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

from tests.support.images import FIXTURES
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "humancut" / "web" / "static" / "samples"
README = ROOT / "README.md"
DOC = ROOT / "docs" / "samples.md"  # where the samples are shown
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


def test_the_readme_keeps_the_two_set_up_commands():
    readme = README.read_text()
    setup = readme[readme.index("## Set-up"):]
    setup = setup[:setup.index("\n## ", 1)]
    assert re.search(r"^make serve\b", setup, re.M) and re.search(r"^make test\b", setup, re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose(path: Path) -> str:
    """The file without its fenced code blocks (code may look like links or headings)."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)


def test_relative_links_in_the_docs_lead_somewhere():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    shared = ROOT.parent / "shared"
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if dest.is_relative_to(shared.resolve()) and not shared.exists():
                continue  # ../shared sits beside the repo in CI only
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", _prose(dest), re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken
