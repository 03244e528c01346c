"""humancut on a real single-node Ray (2 CPUs, loopback only): `serve --ray` answers the SDK
and keeps the envelope through credits, a full queue and a killed replica; `cut --ray`
equals the local batch, resumes, and reports a corrupt file.

This process starts the Ray cluster (the head) once for the module; the servers and bulk
jobs join it with --ray-address, and the kill test finds the replica from here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from humancut.api.video import ROUTE as VIDEO_ROUTE
from humancut.cli import main
from tests.support.checks import assert_same_as_local_batch, check_sdk_cut
from tests.support.images import SHARED_EVAL, encode, landscape
from tests.support.server import ROUTE, Server

# `ray` itself is imported inside, after tests/ray/conftest.py set its environment.
if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed: pip install -e '.[ray]'", allow_module_level=True)

# Ray Serve's own pydantic deprecations, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
HUMANCUT = [sys.executable, "-m", "humancut.cli"]
EVAL_IMAGES = Path(os.environ.get("HUMANCUT_EVAL_DIR") or SHARED_EVAL) / "people-masks" / "images"
# Small so the tests share 2 CPUs: one model replica (1 CPU) for the server, 0.5-CPU actors
# for the bulk jobs; one model thread each, like the local batch below.
SERVER_ARGS = ["--ray-max-replicas", "1", "--ray-num-cpus", "1", "--threads", "1",
               "--workers", "1", "--queue-size", "16"]
BULK_ARGS = ["--ray-num-cpus", "0.5", "--ray-max-replicas", "2", "--threads", "1"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A single-node Ray on 127.0.0.1 with 2 CPUs; its address."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def server(cluster: str, ray_env: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("ray") / "data",
               extra_args=["--ray", "--ray-address", cluster, *SERVER_ARGS], env=ray_env,
               ready_timeout=180).start()
    yield s
    assert s.stop(timeout=60) == 0, s.log()


def post(server: Server, key: str, data: bytes) -> httpx.Response:
    return httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key},
                      files={"image": ("a.jpg", data)}, timeout=120)


def many(server: Server, key: str, data: bytes, n: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: post(server, key, data), range(n)))


def outcome(r: httpx.Response) -> str:
    """The envelope's code ("ok" for success); fails on anything not in the envelope."""
    body = r.json()
    assert body["error_detail"]["status_code"] == r.status_code, body
    assert body["request_id"] and body["log_id"], body
    return body["error_code_str"] or "ok"


def model_replicas() -> list[str]:
    import ray

    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["name"].startswith("SERVE_REPLICA::humancut#Model#"))


# ---- serve --ray ------------------------------------------------------------------------

@pytest.mark.parametrize("form", [None, "mask", "whiteBK", "crop"])
def test_official_sdk_every_return_form(server, astronaut_bytes, form):
    check_sdk_cut(server.url, server.create_key(), astronaut_bytes, form, timeout=120)


def test_the_replicas_own_errors_reach_the_client(server, astronaut_bytes):
    """HumancutError raised in the Model replica, not Ray's wrapping of it."""
    key = server.create_key()
    r = post(server, key, astronaut_bytes[:20000])
    assert r.status_code == 422 and outcome(r) == "FILE_DECODING_FAILURE"
    r = post(server, key, encode(landscape()))
    assert r.status_code == 422 and outcome(r) == "ERROR_NO_RECOGNITION_TARGET_DETECTED"


def test_a_video_task_through_the_ray_app(server):
    """Video tasks run on the ingress's own video worker (docs/video.md), beside the Ray
    model replicas that serve photos."""
    from tests.e2e.test_video_server import status, submit, wait_until
    from tests.support.videoclips import clip, face, webm_alpha_frames

    key = server.create_key(2)
    task_id = submit(server, key, clip())
    done = wait_until(lambda: (s := status(server, key, task_id))["task_status"] in (2, 3)
                      and s, 180, "ended")
    assert done["task_status"] == 2, done
    frames = webm_alpha_frames(httpx.get(done["data"]["video_url"], timeout=30).content)
    assert len(frames) == 20 and frames[10][..., 3][face(index=10)] == 255
    assert frames[10][2, 2, 3] == 0


def test_a_long_clips_chunks_run_as_ray_tasks_like_local_chunks(server, tmp_path):
    """A clip over chunks.MIN_SECONDS is cut in two chunks (2 CPUs, 1 per slot) on Ray
    tasks: the same frames and alpha as the same chunks in local processes, which differ
    from one pass at the seam (so the chunks did run)."""
    from humancut import Settings, remove_video
    from humancut.bench.videoclips import Scene
    from tests.e2e.test_video_server import status, wait_until
    from tests.support.clips import make_gop_clip
    from tests.support.videoclips import webm_alpha_frames

    scene = Scene(160, 120, 64)  # 4.3 s at 15 fps, a keyframe every 12 frames
    clip = make_gop_clip(tmp_path / "walk.mp4", scene, 12)
    key = server.create_key(2)
    r = httpx.post(server.url + VIDEO_ROUTE, headers={"ailabapi-api-key": key},
                   files={"video": ("walk.mp4", clip.read_bytes())}, timeout=60)
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    done = wait_until(lambda: (s := status(server, key, task_id))["task_status"] in (2, 3)
                      and s, 300, "ended")
    assert done["task_status"] == 2, done
    ray_alpha = alpha_of(webm_alpha_frames(httpx.get(done["data"]["video_url"],
                                                     timeout=30).content))

    def local(name: str, **settings: object) -> list[np.ndarray]:
        remove_video(clip, tmp_path / name, settings=Settings.from_env(threads=1, **settings))
        return alpha_of(webm_alpha_frames((tmp_path / name).read_bytes()))

    chunked = local("chunked.webm", workers=2, video_chunks="on")
    one_pass = local("one.webm", workers=1)
    assert len(ray_alpha) == len(chunked) == len(one_pass) == scene.frames
    same = [float(np.abs(a - b).mean()) for a, b in zip(ray_alpha, chunked, strict=True)]
    seam = [float(np.abs(a - b).mean()) for a, b in zip(ray_alpha, one_pass, strict=True)]
    assert max(same) < 0.05, same
    assert max(seam) > 10 * max(max(same), 0.01), seam


def test_chunk_slots_are_dealt_node_by_node():
    from humancut.rayvideo import slots

    def node(name: str, cpus: float, alive: bool = True) -> dict[str, object]:
        return {"NodeID": name, "Alive": alive, "Resources": {"CPU": cpus}}

    nodes = [node("a", 3), node("b", 1), node("c", 4, alive=False), node("d", 0)]
    assert slots(1, nodes) == ["a", "b", "a", "a"]
    assert slots(2, nodes) == ["a"]  # b's one CPU is no slot of 2
    assert slots(0.5, [node("a", 1), node("b", 1)]) == ["a", "b", "a", "b"]
    assert slots(1, []) == []


def alpha_of(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [f[..., 3].astype(np.int16) for f in frames]


def ingress_metrics(server: Server) -> dict[tuple[str, str], float]:
    """The ingress's /metrics: {(name, labels as text): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    resp = httpx.get(server.url + "/metrics", timeout=30)
    assert resp.status_code == 200, resp.text
    return {(s.name, ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(resp.text) for s in f.samples}


def test_credits_are_exact_through_the_ray_app(server, small_jpeg):
    """... and the ingress's /metrics counts them as the plain server does."""
    before = ingress_metrics(server)
    key = server.create_key(10, "--concurrency", "0", "--rate", "0")
    codes = Counter(outcome(r) for r in many(server, key, small_jpeg, 100))
    assert codes == {"ok": 10, "ERROR_NOT_ENOUGH_CREDITS": 90}
    after = ingress_metrics(server)

    def delta(name: str, labels: str = "") -> float:
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert delta("humancut_requests_total", "family=ailab,outcome=ok") == 10
    assert delta("humancut_requests_total", "family=ailab,outcome=no_credits") == 90
    assert delta("humancut_credits_charged_total") == 10
    assert delta("humancut_model_duration_seconds_count") == 10
    assert after[("humancut_in_flight", "")] == 0
    assert any(name == "humancut_build_info" for name, _ in after)


def test_a_full_model_queue_answers_503_with_retry_after(server, astronaut_bytes):
    """One replica, one request at a time, 16 queued: the rest are refused at once (40 of
    the larger photo, so the queue fills even when the machine is idle and the model fast)."""
    key = server.create_key(None, "--concurrency", "0", "--rate", "0")
    responses = many(server, key, astronaut_bytes, 40)
    codes = Counter(outcome(r) for r in responses)
    assert codes["AI_SERVICE_FLOW_RESTRICTION"] >= 1 and codes["ok"] >= 1, codes
    assert set(codes) == {"ok", "AI_SERVICE_FLOW_RESTRICTION"}, codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "2" and "Ray" not in busy.text


def test_a_killed_model_replica_is_replaced_and_calls_keep_the_envelope(server, small_jpeg,
                                                                       astronaut_bytes):
    key = server.create_key(None, "--concurrency", "0", "--rate", "0")
    [before] = model_replicas()
    # The larger photo, 24 of them: calls are still running after the second below even on
    # an idle machine (with 12 small ones all could be done by then).
    with ThreadPoolExecutor(24) as pool:
        pending = [pool.submit(post, server, key, astronaut_bytes) for _ in range(24)]
        time.sleep(1.0)  # calls are queued and one is running on the replica
        import ray

        ray.kill(ray.get_actor(before, namespace="serve"), no_restart=True)
        codes = Counter(outcome(f.result()) for f in pending)
    # The call running on the killed replica fails (the queued ones go to the replacement).
    assert codes["PROCESSING_FAILURE"] >= 1, codes
    assert set(codes) <= {"ok", "PROCESSING_FAILURE", "AI_SERVICE_FLOW_RESTRICTION"}, codes
    deadline = time.monotonic() + 120
    while outcome(post(server, key, small_jpeg)) != "ok":  # a replacement serves
        assert time.monotonic() < deadline, "no replica replaced the killed one"
        time.sleep(2)
    assert model_replicas() and model_replicas() != [before]


def listening(pids: list[int]) -> set[str]:
    """The addresses these processes listen on (TCP)."""
    import psutil

    found = set()
    for pid in pids:
        try:
            found |= {c.laddr.ip for c in psutil.Process(pid).net_connections("tcp")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return found


def test_serve_ray_starts_its_own_ray_on_loopback_and_stops_it(tmp_path, small_jpeg, ray_env):
    """Without --ray-address: a Ray of its own, every port on 127.0.0.1, all of it gone
    after SIGTERM."""
    import psutil

    s = Server(tmp_path / "data", ["--ray", "--ray-cpus", "1", "--ray-num-cpus", "0.5",
                                   "--threads", "1", "--ray-max-replicas", "1"],
               env=ray_env, ready_timeout=180).start()
    try:
        assert post(s, s.create_key(), small_jpeg).status_code == 200
        tree = [s.pid] + [p.pid for p in psutil.Process(s.pid).children(recursive=True)]
        assert len(tree) > 5  # gcs_server, raylet, Serve's actors, the replicas...
        assert listening(tree) <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening(tree)
    finally:
        assert s.stop(timeout=60) == 0, s.log()
    time.sleep(2)
    assert not [p for p in tree if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_the_committed_serve_config_builds_the_app():
    """deploy/ray-serve.yaml passes Serve's own schema and its import path builds the app
    (`serve deploy` itself needs a cluster with the dashboard: not run here)."""
    import yaml
    from ray import serve
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from humancut.rayserve import app_builder

    config = Path(__file__).resolve().parents[2] / "deploy" / "ray-serve.yaml"
    [app] = ServeDeploySchema.model_validate(yaml.safe_load(config.read_text())).applications
    assert app.import_path == "humancut.rayserve:app_builder"
    built = call_user_app_builder_with_args_if_necessary(app_builder, app.args)
    assert isinstance(built, serve.Application)


# ---- cut --ray --------------------------------------------------------------------------

def cut_on_ray(cluster: str, src: Path | str, out: Path | str,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUMANCUT, "cut", str(src), "-o", str(out), "--ray",
                           "--ray-address", cluster, "--form", "rgba", *BULK_ARGS],
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **(env or {})})


def four_photos_and_a_broken_one(src: Path, astronaut, astronaut_bytes: bytes) -> Path:
    """p0.jpg, p2.jpg, sub/p1.jpg, sub/p3.jpg and sub/broken.jpg under `src`."""
    (src / "sub").mkdir(parents=True)
    for i in range(4):
        photo = astronaut.rotate(4 * i).resize((360 + 40 * i, 400))
        (src / ("sub" if i % 2 else "") / f"p{i}.jpg").write_bytes(encode(photo, "JPEG"))
    (src / "sub" / "broken.jpg").write_bytes(astronaut_bytes[:3000])
    return src


def assert_one_corrupt_of_five(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 1, run.stderr
    assert "4 of 5 images cut" in run.stderr
    assert "failed: " in run.stderr and "broken.jpg: undecodable" in run.stderr



def test_bulk_equals_the_local_batch_resumes_and_reports_a_corrupt_file(
        cluster, tmp_path, astronaut, astronaut_bytes):
    src = four_photos_and_a_broken_one(tmp_path / "photos", astronaut, astronaut_bytes)
    local, out = tmp_path / "local", tmp_path / "out"
    assert main(["cut", str(src), "-o", str(local), "-q", "--threads", "1"]) == 1

    first = cut_on_ray(cluster, src, out)
    assert_one_corrupt_of_five(first)
    assert assert_same_as_local_batch(out, local) == 4
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}

    again = cut_on_ray(cluster, src, out)
    assert again.returncode == 1 and "(4 already cut, skipped)" in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == written


def test_bulk_from_s3_to_s3_equals_the_local_batch_and_resumes(
        cluster, moto, tmp_path, astronaut, astronaut_bytes):
    """The driver lists keys; the actors GET and PUT the objects on moto (loopback), with
    the endpoint and credentials of this command's environment."""
    from tests.support import services

    moto.create_bucket("hc-bulk")
    s3 = services.s3_client(moto.endpoint)
    src = four_photos_and_a_broken_one(tmp_path / "photos", astronaut, astronaut_bytes)
    for f in src.rglob("*.jpg"):
        s3.put_object(Bucket="hc-bulk", Key=f"in/{f.relative_to(src).as_posix()}",
                      Body=f.read_bytes())
    local = tmp_path / "local"
    assert main(["cut", str(src), "-o", str(local), "-q", "--threads", "1"]) == 1
    env = {**services.AWS_ENV, "HUMANCUT_S3_ENDPOINT_URL": moto.endpoint}

    first = cut_on_ray(cluster, "s3://hc-bulk/in", "s3://hc-bulk/out/", env)
    assert_one_corrupt_of_five(first)
    assert "failed: s3://hc-bulk/in/sub/broken.jpg: undecodable" in first.stderr
    listed = s3.list_objects_v2(Bucket="hc-bulk", Prefix="out/")["Contents"]
    out = tmp_path / "out"
    for obj in listed:
        got = s3.get_object(Bucket="hc-bulk", Key=obj["Key"])["Body"].read()
        (out / obj["Key"].removeprefix("out/")).parent.mkdir(parents=True, exist_ok=True)
        (out / obj["Key"].removeprefix("out/")).write_bytes(got)
    assert assert_same_as_local_batch(out, local) == 4

    again = cut_on_ray(cluster, "s3://hc-bulk/in", "s3://hc-bulk/out", env)
    assert again.returncode == 1 and "(4 already cut, skipped)" in again.stderr, again.stderr
    assert s3.list_objects_v2(Bucket="hc-bulk", Prefix="out/")["Contents"] == listed


@pytest.mark.skipif(not EVAL_IMAGES.is_dir(), reason=f"{EVAL_IMAGES} is absent")
def test_bulk_on_the_shared_people_photos(cluster, tmp_path):
    local, out = tmp_path / "local", tmp_path / "out"
    assert main(["cut", str(EVAL_IMAGES), "-o", str(local), "-q", "--threads", "1"]) == 0
    first = cut_on_ray(cluster, EVAL_IMAGES, out)
    assert first.returncode == 0, first.stderr
    n = assert_same_as_local_batch(out, local)
    assert n == len(list(EVAL_IMAGES.iterdir()))
    again = cut_on_ray(cluster, EVAL_IMAGES, out)
    assert again.returncode == 0 and f"{n} of {n} images cut ({n} already cut" in again.stderr


# ---- bench --ray ------------------------------------------------------------------------

def test_bench_ray_runs_and_writes_its_report(tmp_path):
    """Bounded: one request per server at concurrency 1, the astronaut as the bulk folder.
    The bench starts Rays of its own (its Serve app cannot share the module's: Serve is one
    per cluster and the `server` fixture's app lives there)."""
    path = tmp_path / "ray-bench.json"
    done = subprocess.run([*HUMANCUT, "bench", "--ray", "--requests", "2", "--concurrency", "1",
                           "--json", str(path)], capture_output=True, text=True, timeout=600,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(path.read_text())
    assert set(report) == {"meta", "serve", "ray_overhead_ms", "bulk"}
    for name in ("plain", "ray"):
        [lv] = report["serve"][name]
        assert (lv["concurrency"], lv["requests"], lv["errors"]) == (1, 2, 0), lv
        assert lv["images_per_second"] > 0 and lv["p95_ms"] >= lv["p50_ms"] > 0
    assert set(report["ray_overhead_ms"]) == {"1"}
    assert {k: (b["images"], b["exit"]) for k, b in report["bulk"].items()} == {
        "local": (1, 0), "ray": (1, 0)}
    assert "Ray overhead ms" in done.stdout and "cut ray" in done.stdout


@pytest.fixture(scope="module")
def small_jpeg(astronaut) -> bytes:
    return encode(astronaut.resize((256, 256)), "JPEG")
