"""`humancut keys credits` and `humancut usage` (cli/admin.py) on SQLite (in-process) and on a
real PostgreSQL (the command in a subprocess, as an operator runs it)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest

from humancut.cli import main
from humancut.settings import Settings
from humancut.store import open_keys
from humancut.store.keys import utc_day


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_credits_add_set_unlimited_and_errors(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path)]
    store = open_keys(Settings(data_dir=tmp_path))
    key, _ = store.create("shop", 3)
    assert run(capsys, "keys", "credits", key.id, "--add", "5", *data)[:2] == (
        0, f"key {key.id}: credits 8\n")
    code, _, err = run(capsys, "keys", "credits", key.id, "--add", "-9", *data)
    assert code == 1 and "8 credits" in err
    assert run(capsys, "keys", "credits", key.id, "--set", "2", *data)[1].endswith("credits 2\n")
    assert run(capsys, "keys", "credits", key.id, "--unlimited", *data)[1].endswith(
        "credits unlimited\n")
    assert store.get(key.id).credits is None
    code, _, err = run(capsys, "keys", "credits", key.id, "--add", "1", *data)
    assert code == 1 and "unlimited" in err
    for bad in ([key.id], [key.id, "--add", "1", "--unlimited"], ["--add", "1"]):
        code, _, err = run(capsys, "keys", "credits", *bad, *data)
        assert code == 2 and "--add N" in err
    code, _, err = run(capsys, "keys", "credits", "000000000000", "--add", "1", *data)
    assert code == 1 and "no key" in err
    actions = [(e.action, e.fields, e.token) for e in store.audit_log(key.id)]
    assert actions == [("credits", {"set": None, "credits": None}, "cli"),
                       ("credits", {"set": 2, "credits": 2}, "cli"),
                       ("credits", {"add": 5, "credits": 8}, "cli")]


def test_usage_table_and_json(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path)]
    store = open_keys(Settings(data_dir=tmp_path))
    alice, _ = store.create("alice")
    bob, _ = store.create("bob")
    now = time.time()
    for _ in range(3):
        store.record_usage(alice.id, "ok", 1, at=now)
    store.record_usage(alice.id, "no_person", at=now)
    store.record_usage(bob.id, "ok", 1, at=now - 3 * 86400)
    store.record_usage(bob.id, "ok", 1, at=now - 40 * 86400)  # outside the default 30 days
    today = utc_day(now)
    three_ago = utc_day(now - 3 * 86400)

    code, out, _ = run(capsys, "usage", "--json", *data)
    assert code == 0
    report = json.loads(out)
    assert report["to"] == today
    assert report["from"] == (dt.date.fromisoformat(today) - dt.timedelta(days=29)).isoformat()
    assert report["usage"] == [
        {"day": three_ago, "key_id": bob.id, "images": 1, "credits": 1, "failures": {},
         "video_tasks": 0, "video_seconds": 0.0},
        {"day": today, "key_id": alice.id, "images": 3, "credits": 3,
         "failures": {"no_person": 1}, "video_tasks": 0, "video_seconds": 0.0}]

    code, out, _ = run(capsys, "usage", "--key", alice.id, "--days", "2", *data)
    lines = out.splitlines()
    assert code == 0 and lines[1].split() == ["day", "key", "name", "images", "videos",
                                              "video_s", "credits", "failures"]
    assert lines[2].split() == [today, alice.id, "alice", "3", "0", "0", "3", "no_person=1"]
    assert lines[3].split() == ["total", "3", "0", "0", "3", "1"] and len(lines) == 4
    assert bob.id not in run(capsys, "usage", "--days", "2", *data)[1]
    assert bob.id in run(capsys, "usage", "--days", "41", *data)[1]
    code, _, err = run(capsys, "usage", "--days", "0", *data)
    assert code == 1 and "days" in err
    code, _, err = run(capsys, "usage", "--key", "000000000000", *data)
    assert code == 1 and "no key" in err


def test_credits_and_usage_against_postgres(postgres):
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    env = {**os.environ, "HUMANCUT_KEYS_URL": postgres.url()}
    store = open_keys(Settings(keys_url=postgres.url()))
    key, _ = store.create("pg", 1)
    store.record_usage(key.id, "ok", 1)

    def humancut(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "humancut.cli", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert humancut("keys", "credits", key.id, "--add", "4").strip().endswith("credits 5")
    assert store.get(key.id).credits == 5
    report = json.loads(humancut("usage", "--key", key.id, "--json"))
    assert report["usage"] == [{"day": utc_day(), "key_id": key.id, "images": 1, "credits": 1,
                                "failures": {}, "video_tasks": 0, "video_seconds": 0.0}]
    store.close()
