"""Real remove.bg clients against a real `humancut serve`, each pointed at it by its own
configuration; every cut-out is compared with the AILabTools route's mask for the photo.
Also the AILabTools HD route and query-credits through the official SDK."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from ailabtools import AILabClient
from PIL import Image

from tests.support.images import decode
from tests.support.server import ROUTE

NODE_CLIENT = Path(__file__).resolve().parents[2] / ".node" / "node_modules" / "remove.bg"


@pytest.fixture(scope="module")
def reference(server, astronaut_bytes) -> np.ndarray:
    """The AILabTools route's alpha for the astronaut (float, 0..1)."""
    key = server.create_key()
    resp = httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key},
                      files={"image": ("a.jpg", astronaut_bytes)}, data={"return_form": "mask"},
                      timeout=60)
    return np.asarray(decode(httpx.get(resp.json()["data"]["image_url"]).content)) / 255


def assert_same_cut(png: bytes, reference: np.ndarray) -> None:
    """An RGBA cut-out whose alpha matches the reference (resized when `size` capped it)."""
    img = decode(png)
    assert img.mode == "RGBA"
    alpha = img.getchannel("A")
    if alpha.size != reference.shape[::-1]:
        assert abs(alpha.width / alpha.height - reference.shape[1] / reference.shape[0]) < 0.01
        alpha = alpha.resize(reference.shape[::-1], Image.Resampling.BILINEAR)
    a = np.asarray(alpha) / 255
    assert np.abs(a - reference).mean() < 0.02
    assert ((a > 0.5) == (reference > 0.5)).mean() > 0.98


def balance(server, key: str) -> float:
    resp = httpx.get(server.url + "/v1.0/account", headers={"X-Api-Key": key})
    return resp.json()["data"]["attributes"]["credits"]["total"]


def test_pypi_removebg(server, reference, tmp_path, astronaut_bytes, monkeypatch):
    import removebg.removebg as module

    monkeypatch.setattr(module, "API_ENDPOINT", server.url + "/v1.0/removebg")
    key = server.create_key(5)
    client = module.RemoveBg(key, str(tmp_path / "errors.log"))
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_bytes)
    client.remove_background_from_img_file(str(photo))  # multipart, size=regular
    out = Path(str(photo) + "_no_bg.png").read_bytes()
    assert decode(out).width * decode(out).height <= 250_000
    assert_same_cut(out, reference)
    b64 = base64.b64encode(astronaut_bytes).decode()  # urlencoded
    client.remove_background_from_base64_img(b64, size="full",
                                             new_file_name=str(tmp_path / "b64.png"))
    assert decode((tmp_path / "b64.png").read_bytes()).size == (512, 512)
    assert_same_cut((tmp_path / "b64.png").read_bytes(), reference)
    assert balance(server, key) == 3.0


def test_pypi_remove_bg_api(server, reference, astronaut_bytes, monkeypatch):
    import remove_bg_api

    monkeypatch.setattr(remove_bg_api, "API_URL", server.url + "/v1.0")
    key = server.create_key(4)
    client = remove_bg_api.RemoveBg(key)  # reads /account at once
    assert client.account.balance() == 4.0
    assert_same_cut(client.remove_bg_bytes(astronaut_bytes, size="full"), reference)
    data_uri = "data:image/jpeg;base64," + base64.b64encode(astronaut_bytes).decode()
    assert_same_cut(client.remove_bg_base64(data_uri, size="full"), reference)
    assert client.account.balance() == 2.0  # it int()s X-Credits-Charged
    assert balance(server, key) == 2.0
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode400):
        client.remove_bg_bytes(b"not an image")
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode403):
        remove_bg_api.RemoveBg("wrong key")
    assert balance(server, key) == 2.0


NODE_SCRIPT = """
const rbg = require(process.argv[2]);
const [apiKey, file, b64] = process.argv.slice(3);
(async () => {
  const out = {};
  out.file = await rbg.removeBackgroundFromImageFile({path: file, apiKey, size: "full",
                                                     type: "person", crop: false});
  out.b64 = await rbg.removeBackgroundFromImageBase64({base64img: b64, apiKey,
                                                       size: "regular"});
  try { await rbg.removeBackgroundFromImageFile({path: file, apiKey: "wrong"}); }
  catch (errors) { out.errors = errors; }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None or not NODE_CLIENT.exists(),
                    reason="node or the npm client is missing: make node-clients")
def test_npm_remove_bg(server, reference, tmp_path, astronaut_bytes):
    client = tmp_path / "remove.bg"  # a copy whose hard-coded endpoint points at us
    shutil.copytree(NODE_CLIENT, client, symlinks=True)
    shutil.copytree(NODE_CLIENT.parent, tmp_path / "node_modules", symlinks=True,
                    ignore=lambda d, names: ["remove.bg"] if Path(d) == NODE_CLIENT.parent
                    else [])
    index = client / "dist" / "index.js"
    original = 'const API_ENDPOINT = "https://api.remove.bg/v1.0/removebg";'
    assert original in index.read_text()
    index.write_text(index.read_text().replace(
        original, f'const API_ENDPOINT = "{server.url}/v1.0/removebg";'))
    (tmp_path / "node_modules" / "remove.bg").symlink_to(client)
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_bytes)
    (tmp_path / "run.js").write_text(NODE_SCRIPT)
    key = server.create_key(3)
    done = subprocess.run(["node", str(tmp_path / "run.js"), "remove.bg", key, str(photo),
                           base64.b64encode(astronaut_bytes).decode()], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["file"]["creditsCharged"] == "1" and out["file"]["detectedType"] == "person"
    assert (out["file"]["resultWidth"], out["file"]["resultHeight"]) == ("512", "512")
    assert int(out["file"]["rateLimit"]) > 0
    assert_same_cut(base64.b64decode(out["file"]["base64img"]), reference)
    assert_same_cut(base64.b64decode(out["b64"]["base64img"]), reference)
    assert out["errors"][0]["code"] == "invalid_api_key"
    assert balance(server, key) == 1.0


def test_ailabtools_hd_route_and_credits(server, reference, astronaut_bytes):
    key = server.create_key(3)

    async def call() -> tuple[dict, dict]:
        client = AILabClient(key, base_url=server.url, timeout=60)
        try:
            cut = await client.cutout.cutoutHdHumanBodyBackgroundRemoval(
                {"image": astronaut_bytes})
            return cut, await client.common.commonQueryCredits({})
        finally:
            await client.aclose()

    cut, credits = asyncio.run(call())
    assert cut["error_code"] == 0
    url = cut["data"]["elements"][0]["image_url"]
    assert_same_cut(httpx.get(url).content, reference)
    row = credits["data"][0]
    assert row["unique_sign"] == key.split("_")[1] and row["balance"] == 2.0
    assert set(row) == {"unique_sign", "name", "balance", "total", "last_recharge_balance",
                        "balance_warning", "first_buy_time", "last_update_time"}
    assert isinstance(row["first_buy_time"], int) and row["first_buy_time"] > 1.6e9
