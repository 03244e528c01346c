"""SQLite's one connection a thread: the connections of threads that ended are closed, so
a pool that retires idle threads does not leave their files open (the soak's fds)."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from humancut.store.sqlite import Database


def open_files(path: str) -> int:
    return sum(os.path.realpath(f"/proc/self/fd/{fd}") == path
               for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_connections_of_ended_threads_are_closed(tmp_path):
    db = Database(tmp_path / "t.db", "CREATE TABLE IF NOT EXISTS t (x INTEGER);")
    made: list[sqlite3.Connection] = []

    def work() -> None:
        conn = db.connect()
        conn.execute("INSERT INTO t VALUES (1)")
        made.append(conn)

    for _ in range(20):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert db.connect().execute("SELECT count(*) FROM t").fetchone()[0] == 20
    # all but the last thread's connection are closed; this thread's stays open
    for conn in made[:-1]:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    assert open_files(str((tmp_path / "t.db").resolve())) <= 3
