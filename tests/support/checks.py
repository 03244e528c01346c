"""Assertions on the API's answers shared by the test folders: the AILabTools error envelope,
the official SDK's cut in every return form, a POST to a real server, and bodies and values
the parsers must refuse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
from ailabtools import AILabClient

from tests.support.images import decode
from tests.support.server import ROUTE, Server


def post(server: Server, key: str | None, files: dict | None = None,
         data: dict | None = None, **kw: object) -> httpx.Response:
    headers = {"ailabapi-api-key": key} if key is not None else {}
    return httpx.post(server.url + ROUTE, headers=headers, files=files, data=data,
                      timeout=60, **kw)


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    body = resp.json()
    assert resp.status_code == status, body
    assert body["error_code"] == status and body["error_code_str"] == code
    detail = body["error_detail"]
    assert detail["status_code"] == status and detail["code"] == code
    assert detail["code_message"] and detail["message"] and body["error_msg"] == detail["message"]
    assert body["request_id"] and body["log_id"] and "data" not in body
    return body


def check_sdk_cut(base_url: str, key: str, photo: bytes, form: str | None,
                  timeout: float = 60) -> None:
    """The official SDK cuts the astronaut in `form` (None: the RGBA cut-out) at `base_url`;
    the result URL is ours and its pixels are those of that form. The plain and the Ray
    server both pass it."""
    async def call() -> dict:
        client = AILabClient(key, base_url=base_url, timeout=timeout)
        params = {"image": photo} | ({"returnForm": form} if form else {})
        try:
            return await client.cutout.cutoutHumanBackgroundRemoval(params)
        finally:
            await client.aclose()

    result = asyncio.run(call())
    assert result["error_code"] == 0 and result["error_detail"]["status_code"] == 200
    url = result["data"]["image_url"]
    assert url.startswith(base_url + "/api/results/")
    got = httpx.get(url, timeout=10)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    img = decode(got.content)
    alpha_or_grey = np.asarray(img)
    if form is None:
        assert img.mode == "RGBA" and img.size == (512, 512)
        assert alpha_or_grey[80, 220, 3] == 255 and alpha_or_grey[10, 10, 3] == 0
    elif form == "mask":
        assert img.mode == "L" and img.size == (512, 512)
        assert alpha_or_grey[80, 220] == 255 and alpha_or_grey[10, 10] == 0
    elif form == "whiteBK":
        assert img.mode == "RGB" and img.size == (512, 512)
        assert tuple(alpha_or_grey[10, 10]) == (255, 255, 255)
    else:
        assert img.mode == "RGBA" and img.width < 512 and img.height < 512
        a = alpha_or_grey[..., 3]
        assert a[0].max() > 0 and a[-1].max() > 0 and a[:, 0].max() > 0 and a[:, -1].max() > 0


def multipart(fields: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    body = b""
    for name, filename, value in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


# Nonsense values for every remove.bg parameter: each is a 400 with the parameter's code.
REMOVEBG_NONSENSE = {
    "size": "huge", "format": "gif", "channels": "rgb", "crop": "maybe",
    "crop_margin": "1 2 3", "scale": "5%", "position": "left", "roi": "0 0 10",
    "bg_color": "notacolour", "type": "spaceship", "type_level": "3",
    "semitransparency": "sometimes", "add_shadow": "x"}


def assert_same_as_local_batch(out: Path, local: Path) -> int:
    """Every local output exists on the Ray side with the same mode and size, alpha (or
    colour) within 1/255; the number compared."""
    names = sorted(p.relative_to(local) for p in local.rglob("*.png"))
    assert names == sorted(p.relative_to(out) for p in out.rglob("*.png"))
    for name in names:
        a, b = decode((local / name).read_bytes()), decode((out / name).read_bytes())
        assert (a.mode, a.size) == (b.mode, b.size), name
        diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
        assert diff.max() <= 1, f"{name}: differs by {diff.max()}"
    assert not list(out.rglob("*.part"))
    return len(names)
