"""Keys and results on SQLite files on disk."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from humancut.store import FileResultStore, SQLiteKeyStore


def test_keys_are_stored_only_as_hashes(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, secret = store.create("alice", credits=3)
    raw = (tmp_path / "keys.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("keys.db-*"))
    assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw
    assert store.authenticate(secret) == key
    assert store.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert store.authenticate("") is None and store.authenticate("hc_x") is None


def test_status_changes_and_restart(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, secret = store.create()
    assert store.set_status(key.id, "disabled") and not store.set_status("missing", "active")
    with pytest.raises(ValueError):
        store.set_status(key.id, "weird")
    again = SQLiteKeyStore(tmp_path / "keys.db")  # a new process would see the same
    assert again.authenticate(secret).status == "disabled"
    assert [k.id for k in again.list()] == [key.id]


def test_credits_are_exact_under_threads(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, _ = store.create(credits=10)
    wins: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        ok = store.reserve_credit(key.id)
        with lock:
            wins.append(ok)

    threads = [threading.Thread(target=take) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 10 and store.get(key.id).credits == 0
    store.refund_credit(key.id)
    assert store.get(key.id).credits == 1
    unlimited, _ = store.create()
    assert all(store.reserve_credit(unlimited.id) for _ in range(5))
    assert store.get(unlimited.id).credits is None


def test_results_expire_and_sweep(tmp_path):
    store = FileResultStore(tmp_path)
    live = store.put(b"png-bytes", "image/png", ttl=60)
    dead = store.put(b"old", "image/png", ttl=0.01)
    time.sleep(0.05)
    assert store.get(live.token).path.read_bytes() == b"png-bytes"
    assert store.get(dead.token) is None
    assert store.sweep() == 1 and not dead.path.exists() and live.path.exists()
    assert store.get("../../etc/passwd") is None and store.get("") is None
    live.path.unlink()  # removed behind the store's back
    assert store.get(live.token) is None
    conn = sqlite3.connect(tmp_path / "results.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
