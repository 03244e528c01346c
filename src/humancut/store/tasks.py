"""Video tasks (docs/video.md#api): durable rows in the key store, so a task outlives the
process that accepted it. Both SQL stores (SQLite, PostgreSQL) share this SQL; a subclass
gives `_rows` and `atomic` (the key store's: several statements in one transaction) and
`_claim_lock` (PostgreSQL's `FOR UPDATE SKIP LOCKED`: two servers never take the same task).

A task's life: submit (credits taken in the same transaction) -> 0 queued -> claim -> 1
processing (a lease renewed by heartbeats) -> 2 done, or 3 failed (credits given back in
the same transaction as the status). A processing task whose lease ran out (its server
died) is claimable again; after `attempts` starts it fails instead. Every end is one
conditional UPDATE on the claiming worker, so a task is completed at most once."""

from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

QUEUED, PROCESSING, DONE, FAILED = 0, 1, 2, 3
OPEN = (QUEUED, PROCESSING)
T = TypeVar("T")
Rows = Callable[[str, Sequence[object]], list[Mapping[str, Any]]]


@dataclass(frozen=True)
class Task:
    id: str
    key_id: str
    status: int
    credits: int  # taken at acceptance (given back when it fails)
    form: str
    bg_color: str
    callback_url: str
    base_url: str  # where the submitting client reached the server (video_url's base)
    upload: str  # the uploaded clip's file name in the uploads folder
    duration: float
    frames: int
    frames_done: int = 0
    worker: str = ""
    attempts: int = 0
    created_at: float = 0.0
    ended_at: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)  # status 2: the stored result
    error: str = ""  # status 3: the problem (errors.PROBLEMS)
    message: str = ""

    @property
    def progress(self) -> int:
        if self.status == DONE:
            return 100
        return min(99, 100 * self.frames_done // self.frames) if self.frames else 0


def new_task_id() -> str:
    return secrets.token_hex(16)


def task_from_row(row: Mapping[str, Any]) -> Task:
    return Task(row["id"], row["key_id"], int(row["status"]), int(row["credits"]), row["form"],
                row["bg_color"], row["callback_url"], row["base_url"], row["upload"],
                float(row["duration"]), int(row["frames"]), int(row["frames_done"]),
                row["worker"] or "", int(row["attempts"]), float(row["created_at"]),
                float(row["ended_at"] or 0), json.loads(row["result"] or "{}"),
                row["error"] or "", row["message"] or "")


TASKS_TABLE = """CREATE TABLE video_tasks (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    credits BIGINT NOT NULL,
    form TEXT NOT NULL,
    bg_color TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    base_url TEXT NOT NULL,
    upload TEXT NOT NULL,
    duration DOUBLE PRECISION NOT NULL,
    frames BIGINT NOT NULL,
    frames_done BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    result TEXT,
    error TEXT,
    message TEXT
)"""
TASKS_INDEX = "CREATE INDEX video_tasks_open ON video_tasks (status, created_at)"
# Video seconds beside photo calls in the usage table (outcome VIDEO_OK rows).
USAGE_SECONDS = ("ALTER TABLE key_usage ADD COLUMN seconds DOUBLE PRECISION NOT NULL "
                 "DEFAULT 0")
TASK_MIGRATIONS = [TASKS_TABLE, TASKS_INDEX, USAGE_SECONDS]

_INSERT = ("INSERT INTO video_tasks (id, key_id, status, credits, form, bg_color, callback_url,"
           " base_url, upload, duration, frames, created_at) "
           "VALUES ({p},{p},0,{p},{p},{p},{p},{p},{p},{p},{p},{p}) RETURNING *")
_TAKE = ("UPDATE keys SET credits = credits - {p} WHERE id = {p} AND "
         "(credits IS NULL OR credits >= {p}) RETURNING id")
_GIVE = "UPDATE keys SET credits = credits + {p} WHERE id = {p} AND credits IS NOT NULL"


class TaskStore(ABC):
    """The task table; methods are synchronous (the API calls them in a thread pool)."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Mapping[str, Any]]:
        """One statement (`{p}` its placeholder); SQLKeyStore's."""

    @abstractmethod
    def atomic(self) -> AbstractContextManager[None]:
        """A transaction over this thread's statements inside it; KeyStore's."""

    def _atomic(self, use: Callable[[Rows], T]) -> T:
        """Run `use(rows)` in one transaction."""
        with self.atomic():
            return use(self._rows)

    _claim_lock = ""  # PostgreSQL: " FOR UPDATE SKIP LOCKED"

    def submit(self, task: Task) -> Task | None:
        """Store a new queued task and take its credits, atomically; None when the key
        has too few credits (nothing stored then)."""
        def run(rows: Rows) -> Task | None:
            if task.credits and not rows(_TAKE, (task.credits, task.key_id, task.credits)):
                return None
            return task_from_row(rows(_INSERT, (
                task.id, task.key_id, task.credits, task.form, task.bg_color,
                task.callback_url, task.base_url, task.upload, task.duration, task.frames,
                time.time()))[0])

        return self._atomic(run)

    def task(self, task_id: str) -> Task | None:
        rows = self._atomic(lambda r: r("SELECT * FROM video_tasks WHERE id = {p}", (task_id,)))
        return task_from_row(rows[0]) if rows else None

    def open_tasks(self, key_id: str | None = None) -> int:
        """Tasks queued or processing (of one key, or all)."""
        sql = "SELECT count(*) AS n FROM video_tasks WHERE status IN (0, 1)"
        params: tuple[object, ...] = ()
        if key_id is not None:
            sql, params = sql + " AND key_id = {p}", (key_id,)
        return int(self._atomic(lambda r: r(sql, params))[0]["n"])

    def claim(self, worker: str, lease: float, attempts: int,
              failed: list[Task] | None = None) -> Task | None:
        """Take the oldest claimable task for `worker` (status 1, leased for `lease` s):
        a queued one, or a processing one whose lease ran out (its server died). Tasks
        already started `attempts` times fail then (credits back) instead, and are added
        to `failed` (the caller ends them: upload, usage, webhook)."""
        now = time.time()

        def run(rows: Rows) -> tuple[Task | None, bool]:
            found = rows("SELECT id, attempts FROM video_tasks WHERE status = 0 OR "
                         "(status = 1 AND lease_until < {p}) ORDER BY created_at LIMIT 1"
                         + self._claim_lock, (now,))
            if not found:
                return None, False
            if int(found[0]["attempts"]) >= attempts:
                ended = _fail(rows, found[0]["id"], None, "processing_failed",
                              f"The task was interrupted {attempts} times; its credits are "
                              "back.")
                if ended is not None and failed is not None:
                    failed.append(ended)
                return None, True
            return task_from_row(rows(
                "UPDATE video_tasks SET status = 1, worker = {p}, lease_until = {p}, "
                "attempts = attempts + 1, frames_done = 0 WHERE id = {p} RETURNING *",
                (worker, now + lease, found[0]["id"]))[0]), False

        while True:  # a task failed for its attempts is not returned: look again at once
            task, again = self._atomic(run)
            if not again:
                return task

    def heartbeat(self, task_id: str, worker: str, frames_done: int, frames: int,
                  lease: float) -> bool:
        """Progress, and the lease renewed; False when the worker lost its claim."""
        return bool(self._atomic(lambda r: r(
            "UPDATE video_tasks SET frames_done = {p}, frames = {p}, lease_until = {p} "
            "WHERE id = {p} AND worker = {p} AND status = 1 RETURNING id",
            (frames_done, frames, time.time() + lease, task_id, worker))))

    def finish(self, task_id: str, worker: str, result: Mapping[str, Any]) -> bool:
        """Done; False (nothing changed) when the worker no longer holds the task."""
        return bool(self._atomic(lambda r: r(
            "UPDATE video_tasks SET status = 2, ended_at = {p}, result = {p}, "
            "frames_done = frames WHERE id = {p} AND worker = {p} AND status = 1 RETURNING id",
            (time.time(), json.dumps(dict(result)), task_id, worker))))

    def fail(self, task_id: str, worker: str | None, error: str, message: str) -> bool:
        """Failed, and its credits given back in the same transaction; `worker` None: a
        task whoever holds it. False when it had already ended (or another holds it)."""
        return self._atomic(lambda rows: _fail(rows, task_id, worker, error, message)) \
            is not None

    def requeue(self, task_id: str, worker: str) -> bool:
        """Hand a task back to the queue (a clean shutdown); the start does not count."""
        return bool(self._atomic(lambda r: r(
            "UPDATE video_tasks SET status = 0, worker = NULL, lease_until = 0, "
            "frames_done = 0, attempts = attempts - 1 WHERE id = {p} AND worker = {p} AND "
            "status = 1 RETURNING id", (task_id, worker))))

    def ended_uploads(self) -> set[str]:
        """Upload names of tasks that have ended (their files may be deleted)."""
        rows = self._atomic(lambda r: r(
            "SELECT upload FROM video_tasks WHERE status IN (2, 3)", ()))
        return {row["upload"] for row in rows}

    def open_uploads(self) -> set[str]:
        rows = self._atomic(lambda r: r(
            "SELECT upload FROM video_tasks WHERE status IN (0, 1)", ()))
        return {row["upload"] for row in rows}


def _fail(rows: Rows, task_id: str, worker: str | None, error: str,
          message: str) -> Task | None:
    """Failed, with its credits given back (in the caller's transaction); None when it had
    already ended or another worker holds it."""
    where, params = ("AND worker = {p} ", (worker,)) if worker is not None else ("", ())
    ended = rows("UPDATE video_tasks SET status = 3, ended_at = {p}, error = {p}, message = {p} "
                 "WHERE id = {p} AND status IN (0, 1) " + where + "RETURNING *",
                 (time.time(), error, message, task_id, *params))
    if not ended:
        return None
    if int(ended[0]["credits"]):
        rows(_GIVE, (int(ended[0]["credits"]), ended[0]["key_id"]))
    return task_from_row(ended[0])
