"""Video tasks on two `humancut serve` processes sharing one PostgreSQL (tasks and keys), S3
results (moto) and the uploads folder: either server answers the query for any task and
serves its result, each task is processed by exactly one of them (SELECT ... FOR UPDATE
SKIP LOCKED), both take work, and the balance is exact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from humancut.settings import Settings
from humancut.store import open_backend
from tests.e2e.test_video_server import ends_in_log, status, submit, wait_until
from tests.support.server import Server, start
from tests.support.videoclips import clip, face, webm_alpha_frames

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("boto3", reason="the s3 extra is not installed")

from tests.support import services  # noqa: E402 - after the skips above

BUCKET = "hc-video-multi"


@pytest.fixture(scope="module")
def database(postgres) -> str:
    import psycopg

    name = f"video_{uuid.uuid4().hex[:10]}"  # only these servers' tasks in it
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url(name)


@pytest.fixture(scope="module")
def pair(database, moto, tmp_path_factory) -> Iterator[list[Server]]:
    moto.create_bucket(BUCKET)
    uploads = tmp_path_factory.mktemp("shared-uploads")
    env = {**services.AWS_ENV, "HUMANCUT_KEYS_URL": database,
           "HUMANCUT_RESULTS_URL": f"s3://{BUCKET}/results",
           "HUMANCUT_S3_ENDPOINT_URL": moto.endpoint, "HUMANCUT_VIDEO_UPLOAD_DIR": str(uploads),
           "HUMANCUT_VIDEO_SIZE": "128", "HUMANCUT_THREADS": "1",
           "HUMANCUT_VIDEO_QUEUE_PER_KEY": "10"}
    servers = [start(tmp_path_factory.mktemp(f"video{i}"), ["--workers", "1"], env)
               for i in (0, 1)]
    yield servers
    for s in servers:
        s.stop()


def test_two_servers_share_the_tasks_each_taken_once(pair, database):
    a, b = pair
    store = open_backend(Settings(keys_url=database), "keys_url")
    key, secret = store.create("shared", 20)
    ids = [submit(server, secret, clip()) for server in (a, b) * 3]
    for n, task_id in enumerate(ids):
        other = pair[(n + 1) % 2]  # asked on the server that did not accept it
        wait_until(lambda t=task_id, s=other: status(s, secret, t)["task_status"] == 2, 180,
                   "done")
    for n, task_id in enumerate(ids):
        data = status(pair[n % 2], secret, task_id)["data"]
        frames = webm_alpha_frames(httpx.get(data["video_url"], timeout=30).content)
        assert len(frames) == 20 and frames[4][..., 3][face(index=4)] == 255
    # a task's log line is written just after its answer changes
    wait_until(lambda: sum((ends_in_log(a.log()) + ends_in_log(b.log())).values()) >= len(ids),
               10, "logged")
    ends_a, ends_b = ends_in_log(a.log()), ends_in_log(b.log())
    assert all(ends_a[t] + ends_b[t] == 1 for t in ids), (ends_a, ends_b)  # exactly one each
    assert sum(ends_a.values()) >= 1 and sum(ends_b.values()) >= 1  # both took work
    assert store.get(key.id).credits == 20 - 6
    uploads = Path(a.extra_env["HUMANCUT_VIDEO_UPLOAD_DIR"])
    # every upload deleted once its task ended (just after its answer changed)
    wait_until(lambda: not list(uploads.iterdir()), 10, "uploads deleted")
    store.close()
