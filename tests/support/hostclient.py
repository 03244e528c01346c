"""The client side of the two-host tests, run inside host A (`ip netns exec`): the test
process lives in the root namespace, which has no route to the hosts' /30. One command per
run, JSON on stdout:

    hostclient.py ready URL SECONDS               -> {"status": 200} once /readyz answers
    hostclient.py key KEYS_URL [CREDITS]          -> {"id": ..., "secret": ...} (no rate or
                                                     concurrency limit of its own)
    hostclient.py balance KEYS_URL ID             -> {"credits": N}
    hostclient.py burst URL SECRET PHOTO N        -> N calls at once: [{"status", "body",
                                                     "content_type"}, ...]
    hostclient.py sdk URL SECRET PHOTO FORM       -> the AILabTools SDK's check (FORM: none,
                                                     mask, whiteBK, crop)
    hostclient.py removebg URL SECRET PHOTO       -> {"status", "content_type", "size"}
    hostclient.py replicas GCS_ADDRESS            -> [{"name", "node"}, ...]
    hostclient.py actors GCS_ADDRESS CLASS        -> [{"class", "state", "node"}, ...]
    hostclient.py tasks GCS_ADDRESS NAME          -> [{"state", "node"}, ...] of Ray tasks
    hostclient.py video URL SECRET CLIP OUT       -> submit CLIP, wait, save the result at
                                                     OUT: {"task_status", "seconds", "data"}
"""

from __future__ import annotations

import io
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROUTE = "/api/cutout/portrait/portrait-background-removal"


def ready(url: str, seconds: str) -> dict[str, Any]:
    deadline = time.monotonic() + float(seconds)
    status = None
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url + "/readyz", timeout=5).status_code
            if status == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return {"status": status}


def _keys(keys_url: str):  # noqa: ANN202 - a KeyStore
    from humancut.settings import Settings
    from humancut.store import open_keys

    return open_keys(Settings.from_env({}, keys_url=keys_url, data_dir=Path("/nonexistent")))


def key(keys_url: str, credits: str = "") -> dict[str, Any]:
    store = _keys(keys_url)
    k, secret = store.create("netns", int(credits) if credits else None, rate_per_minute=0,
                             max_in_flight=0)
    return {"id": k.id, "secret": secret}


def balance(keys_url: str, key_id: str) -> dict[str, Any]:
    found = _keys(keys_url).get(key_id)
    assert found is not None
    return {"credits": found.credits}


def _call(url: str, secret: str, data: bytes) -> dict[str, Any]:
    try:
        r = httpx.post(url + ROUTE, headers={"ailabapi-api-key": secret},
                       files={"image": ("a.jpg", data)}, timeout=300)
    except httpx.HTTPError as exc:  # no answer at all: the test fails on it
        return {"status": 0, "body": f"{type(exc).__name__}: {exc}", "content_type": ""}
    return {"status": r.status_code, "body": r.text[:2000],
            "content_type": r.headers.get("content-type", "")}


def burst(url: str, secret: str, photo: str, n: str) -> list[dict[str, Any]]:
    data = Path(photo).read_bytes()
    with ThreadPoolExecutor(int(n)) as pool:
        return list(pool.map(lambda _: _call(url, secret, data), range(int(n))))


def sdk(url: str, secret: str, photo: str, form: str) -> dict[str, Any]:
    from tests.support.checks import check_sdk_cut

    check_sdk_cut(url, secret, Path(photo).read_bytes(), None if form == "none" else form,
                  timeout=300)
    return {"ok": True}


def removebg(url: str, secret: str, photo: str) -> dict[str, Any]:
    from PIL import Image

    r = httpx.post(url + "/v1.0/removebg", headers={"X-Api-Key": secret},
                   files={"image_file": ("a.jpg", Path(photo).read_bytes())},
                   data={"size": "auto"}, timeout=300)
    out: dict[str, Any] = {"status": r.status_code, "content_type": r.headers.get(
        "content-type", ""), "body": "" if r.status_code == 200 else r.text[:2000]}
    if r.status_code == 200:
        img = Image.open(io.BytesIO(r.content))
        out |= {"size": list(img.size), "mode": img.mode}
    return out


def replicas(gcs: str) -> list[dict[str, Any]]:
    """The humancut app's live Serve replicas and the address of the node each is on, as
    Ray's state API reports them."""
    import ray
    from ray.util.state import list_actors

    ray.init(address=gcs, log_to_driver=False)
    try:
        nodes = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
        return sorted(({"name": a.name, "node": nodes.get(a.node_id, "")}
                       for a in list_actors(address=gcs, filters=[("state", "=", "ALIVE")],
                                             limit=1000)
                       if (a.name or "").startswith("SERVE_REPLICA::humancut#")),
                      key=lambda r: r["name"])
    finally:
        ray.shutdown()


def actors(gcs: str, class_name: str) -> list[dict[str, Any]]:
    """Every actor the cluster has had (alive or dead) whose class name contains
    `class_name`, with its node."""
    import ray
    from ray.util.state import list_actors

    ray.init(address=gcs, log_to_driver=False)
    try:
        nodes = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
        return [{"class": a.class_name, "state": a.state, "node": nodes.get(a.node_id, "")}
                for a in list_actors(address=gcs, limit=1000)
                if class_name in a.class_name]
    finally:
        ray.shutdown()


def tasks(gcs: str, name: str) -> list[dict[str, Any]]:
    """Every Ray task the cluster has had named `name`, with its state and node."""
    import ray
    from ray.util.state import list_tasks

    ray.init(address=gcs, log_to_driver=False)
    try:
        nodes = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
        return [{"state": t.state, "node": nodes.get(t.node_id or "", "")}
                for t in list_tasks(address=gcs, filters=[("name", "=", name)], limit=1000)]
    finally:
        ray.shutdown()


def video(url: str, secret: str, clip: str, out: str) -> dict[str, Any]:
    """A clip through the video API, timed from submission to its end."""
    from humancut.api.video import QUERY_ROUTE
    from humancut.api.video import ROUTE as VIDEO_ROUTE

    headers = {"ailabapi-api-key": secret}
    started = time.monotonic()
    r = httpx.post(url + VIDEO_ROUTE, headers=headers,
                   files={"video": (Path(clip).name, Path(clip).read_bytes())}, timeout=120)
    assert r.status_code == 200, r.text
    while True:
        body = httpx.get(url + QUERY_ROUTE, params={"task_id": r.json()["task_id"]},
                         headers=headers, timeout=30).json()
        if body["task_status"] in (2, 3) or time.monotonic() - started > 900:
            break
        time.sleep(0.2)
    seconds = time.monotonic() - started
    if body["task_status"] == 2:
        Path(out).write_bytes(httpx.get(body["data"]["video_url"], timeout=120).content)
    return {"task_status": body["task_status"], "seconds": seconds, "data": body["data"],
            "error": body["error_msg"]}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps(globals()[command](*args)))
