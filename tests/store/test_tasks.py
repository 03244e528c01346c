"""Video tasks in the key store (store/tasks.py), on SQLite and on a real PostgreSQL: credits
taken with the task or not at all, one claim per task (also under concurrent claimers:
SKIP LOCKED), credits given back exactly once, a lease that ends lets another worker take
the task and the first can no longer end it, attempts bounded, a clean hand-back."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from humancut.settings import Settings
from humancut.store import open_backend
from humancut.store.tasks import DONE, FAILED, PROCESSING, QUEUED, Task, TaskStore, new_task_id


def _postgres_url(postgres: object) -> str:
    psycopg = pytest.importorskip("psycopg")
    name = f"tasks_{uuid.uuid4().hex[:12]}"  # a database of its own: claims see only ours
    with psycopg.connect(postgres.url(), autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url(name)  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'keys.db'}"
    return _postgres_url(request.getfixturevalue("postgres"))


def open_store(url: str) -> TaskStore:
    return open_backend(Settings(keys_url=url, backend_timeout=5), "keys_url")


def task(key_id: str, credits: int = 1) -> Task:
    return Task(new_task_id(), key_id, QUEUED, credits, "webm", "", "", "http://x", "u.clip",
                2.0, 20)


def test_credits_are_taken_with_the_task_or_nothing_is_stored(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    first = store.submit(task(key.id, 3))
    assert first is not None and first.status == QUEUED and first.credits == 3
    assert store.get(key.id).credits == 2
    assert store.submit(task(key.id, 3)) is None
    assert store.get(key.id).credits == 2 and store.open_tasks(key.id) == 1
    unlimited, _ = store.create("u")
    assert store.submit(task(unlimited.id, 4)) is not None
    assert store.get(unlimited.id).credits is None and store.open_tasks() == 2
    store.close()


def test_one_claim_and_one_end_per_task(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    submitted = store.submit(task(key.id, 2))
    claimed = store.claim("w1", lease=30, attempts=2)
    assert claimed.id == submitted.id and claimed.status == PROCESSING and claimed.attempts == 1
    assert store.claim("w2", lease=30, attempts=2) is None
    assert not store.heartbeat(claimed.id, "w2", 5, 20, 30)
    assert store.heartbeat(claimed.id, "w1", 5, 20, 30)
    assert store.task(claimed.id).progress == 25
    assert not store.finish(claimed.id, "w2", {"token": "t"})
    assert store.finish(claimed.id, "w1", {"token": "t"})
    assert not store.finish(claimed.id, "w1", {"token": "u"})
    assert not store.fail(claimed.id, None, "processing_failed", "late")
    done = store.task(claimed.id)
    assert done.status == DONE and done.result == {"token": "t"} and done.progress == 100
    assert store.get(key.id).credits == 3  # charged once, kept
    store.close()


def test_a_failure_gives_the_credits_back_once(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    store.submit(task(key.id, 3))
    claimed = store.claim("w1", 30, 2)
    assert store.get(key.id).credits == 2
    assert store.fail(claimed.id, "w1", "undecodable", "frame 11")
    assert not store.fail(claimed.id, "w1", "undecodable", "again")
    assert not store.fail(claimed.id, None, "undecodable", "again")
    ended = store.task(claimed.id)
    assert (ended.status, ended.error, ended.message) == (FAILED, "undecodable", "frame 11")
    assert store.get(key.id).credits == 5 and store.open_tasks() == 0
    store.close()


def test_a_lost_lease_moves_the_task_and_the_first_worker_cannot_end_it(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    store.submit(task(key.id, 1))
    first = store.claim("w1", lease=0.2, attempts=3)
    time.sleep(0.4)  # w1's server died: no heartbeat
    again = store.claim("w2", lease=30, attempts=3)
    assert again.id == first.id and again.attempts == 2 and again.worker == "w2"
    assert not store.heartbeat(first.id, "w1", 1, 20, 30)
    assert not store.finish(first.id, "w1", {"token": "w1"})
    assert not store.fail(first.id, "w1", "processing_failed", "w1")
    assert store.finish(first.id, "w2", {"token": "w2"})
    assert store.task(first.id).result == {"token": "w2"} and store.get(key.id).credits == 4
    store.close()


def test_a_task_started_too_often_fails_with_its_credits_back(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    submitted = store.submit(task(key.id, 2))
    store.claim("w1", lease=0.1, attempts=1)
    time.sleep(0.3)
    failed: list[Task] = []
    assert store.claim("w2", lease=30, attempts=1, failed=failed) is None
    ended = store.task(submitted.id)
    assert ended.status == FAILED and ended.error == "processing_failed"
    assert [t.id for t in failed] == [submitted.id] and failed[0].status == FAILED
    assert store.get(key.id).credits == 5
    store.close()


def test_a_clean_shutdown_hands_the_task_back(url):
    store = open_store(url)
    key, _ = store.create("k", 5)
    store.submit(task(key.id))
    claimed = store.claim("w1", 30, 1)
    assert not store.requeue(claimed.id, "w2")
    assert store.requeue(claimed.id, "w1")
    back = store.task(claimed.id)
    assert back.status == QUEUED and back.attempts == 0 and back.worker == ""
    assert store.claim("w2", 30, 1).attempts == 1  # the hand-back did not use the attempt
    store.close()


def test_concurrent_claimers_take_each_task_exactly_once(url):
    stores = [open_store(url) for _ in range(2)]
    key, _ = stores[0].create("k")
    ids = {stores[0].submit(task(key.id)).id for _ in range(24)}

    def drain(n: int) -> list[str]:
        store, got = stores[n % 2], []
        while (claimed := store.claim(f"w{n}", 30, 2)) is not None:
            got.append(claimed.id)
        return got

    with ThreadPoolExecutor(6) as pool:
        taken = [i for got in pool.map(drain, range(6)) for i in got]
    assert sorted(taken) == sorted(ids)  # every task, none twice
    for store in stores:
        store.close()


def test_keys_copy_carries_the_video_seconds(url, tmp_path):
    from humancut.store.copy import copy_store
    from humancut.store.keys import VIDEO_OK, utc_day

    source = open_store(url)
    key, _ = source.create("k", 5)
    source.record_usage(key.id, VIDEO_OK, 2, seconds=12.5)
    target = open_store(f"sqlite://{tmp_path / 'copy.db'}")
    copy_store(source, target, "cli", "test")
    copied = target.usage(utc_day(), utc_day(), key.id)[0]
    assert (copied.video_tasks, copied.video_seconds, copied.credits) == (1, 12.5, 2)
    source.close()
    target.close()
