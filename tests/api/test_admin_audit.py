"""Every key change audited, and audited with the change: an operator's change and its audit
entry in one transaction (SQLite and a real PostgreSQL: an audit write that fails leaves the
key as it was); the CLI's own `keys create` / `disable` / `enable` / `revoke` and the trial
page's key audited too; `keys copy` carries usage and the audit trail and audits what it
changes; the admin token's lockout counted by every server sharing Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest

from humancut import admin
from humancut.cli import main
from humancut.settings import Settings
from humancut.store import open_keys, redact
from humancut.store.keys import utc_day
from tests.support.inproc import serving

TOKEN = "adm-" + "q4" * 16
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgres"])
def keys_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'keys.db'}"
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    return fresh_database(request.getfixturevalue("postgres"))


def fresh_database(postgres) -> str:  # noqa: ANN001
    import psycopg

    name = f"audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url(name)


def refuse_audit(url: str, when: str) -> None:
    """A trigger that makes the audit insert fail when `when` (SQL on NEW) holds."""
    if url.startswith("sqlite://"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON admin_audit WHEN {when} "
                         "BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$")
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON admin_audit FOR EACH ROW "
                     f"WHEN ({when}) EXECUTE FUNCTION refuse()")


def test_a_change_and_its_audit_entry_are_one_transaction(keys_url):
    store = open_keys(Settings(keys_url=keys_url))
    try:
        key, _ = store.create("shop", 5)
        refuse_audit(keys_url, f"NEW.key_id = '{key.id}' OR NEW.fields LIKE '%refused%'")
        with pytest.raises(Exception, match="audit refused"):
            admin.change_credits(store, "cli", key.id, add=7)
        with pytest.raises(Exception, match="audit refused"):
            admin.change_credits(store, "cli", key.id, set_to=1)
        with pytest.raises(Exception, match="audit refused"):
            admin.update_key(store, "cli", key.id, {"status": "disabled", "name": "x"})
        with pytest.raises(Exception, match="audit refused"):
            admin.create_key(store, "cli", name="refused", credits=3)
        # Nothing of the refused changes is left: the key as it was, no new key, no entry.
        assert store.get(key.id) == key
        assert [k.name for k in store.list()] == ["shop"]
        assert store.audit_log() == []
        # The store is still usable, and a change whose entry is written stands.
        other, _ = admin.create_key(store, "cli", name="fine", credits=2)
        admin.change_credits(store, "cli", other.id, add=3)
        assert store.get(other.id).credits == 5
        assert [e.action for e in store.audit_log()] == ["credits", "create"]
    finally:
        store.close()


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cli_key_commands_are_audited(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path)]
    code, out, _ = run(capsys, "keys", "create", "--name", "cli-made", "--credits", "4", *data)
    assert code == 0
    store = open_keys(Settings(data_dir=tmp_path))
    (key,) = store.list()
    for action in ("disable", "enable", "revoke"):
        assert run(capsys, "keys", action, key.id, *data)[0] == 0
    code, _, err = run(capsys, "keys", "enable", key.id, *data)
    assert code == 1 and "revoked for good" in err  # refused: nothing changed, not audited
    code, _, err = run(capsys, "keys", "revoke", "000000000000", *data)
    assert code == 1 and "no key with id 000000000000" in err
    entries = [(e.action, e.fields, e.token) for e in store.audit_log(key.id)][::-1]
    assert entries == [
        ("create", {"name": "cli-made", "credits": 4, "rate_per_minute": None,
                    "max_in_flight": None}, "cli"),
        ("update", {"status": "disabled"}, "cli"),
        ("update", {"status": "active"}, "cli"),
        ("update", {"status": "revoked"}, "cli")]
    store.close()


@pytest.mark.anyio
async def test_the_trial_key_is_audited_as_the_servers_own(tmp_path):
    async with serving(tmp_path, trial_key=True) as app:
        first = {e.key_id: e for e in app.keys.audit_log()}
    async with serving(tmp_path, trial_key=True) as app:  # a restart: a new one, old revoked
        entries = [(e.action, e.fields.get("status"), e.token, e.key_id)
                   for e in app.keys.audit_log()][::-1]
    (old_id,) = first
    assert first[old_id].action == "create" and first[old_id].token == "server"
    assert entries[1] == ("update", "revoked", "server", old_id)
    assert entries[2][0] == "create" and entries[2][2] == "server" and entries[2][3] != old_id


def test_keys_copy_carries_usage_and_audit_and_audits_what_it_changes(tmp_path, keys_url,
                                                                      capsys):
    source_url = f"sqlite://{tmp_path / 'source.db'}"
    source = open_keys(Settings(keys_url=source_url))
    a, _ = admin.create_key(source, "sha256:feedc0ffee12", name="a", credits=10)
    b, _ = admin.create_key(source, "cli", name="b")
    admin.change_credits(source, "cli", a.id, add=5)
    for outcome, credits in (("ok", 1), ("ok", 1), ("no_person", 0)):
        source.record_usage(a.id, outcome, credits)
    source.record_usage(b.id, "ok", 1)
    history = [(e.at, e.action, e.key_id, e.fields, e.token) for e in source.audit_log()]
    if keys_url.startswith("sqlite://"):
        keys_url = f"sqlite://{tmp_path / 'target.db'}"

    code, out, err = run(capsys, "keys", "copy", "--from", source_url, "--to", keys_url)
    assert code == 0, err
    assert "2 added, 0 updated" in out and "usage: 3 rows" in out and "audit: 3 entries" in out
    target = open_keys(Settings(keys_url=keys_url))
    today = utc_day()
    assert target.usage(today, today) == source.usage(today, today)
    entries = [(e.at, e.action, e.key_id, e.fields, e.token) for e in target.audit_log()]
    assert entries[2:] == history  # the source's trail, oldest first, before the copy's
    copies = {e[2]: e[3] for e in entries[:2]}
    assert all(e[1] == "copy" and e[4] == "cli" for e in entries[:2])
    assert copies[a.id] == {"from": redact(source_url), "name": "a", "status": "active",
                            "credits": 15, "rate_per_minute": None, "max_in_flight": None}

    # Again: nothing changed, so nothing more (no doubled usage, no new entries).
    code, out, _ = run(capsys, "keys", "copy", "--from", source_url, "--to", keys_url)
    assert code == 0 and "0 added, 2 updated" in out and "audit: 0 entries" in out
    assert target.usage(today, today) == source.usage(today, today)
    assert len(target.audit_log()) == 5
    # Spent in the target meanwhile: the copy sets the source's balance back, and says so.
    target.reserve_credit(a.id)
    run(capsys, "keys", "copy", "--from", source_url, "--to", keys_url)
    newest = target.audit_log(limit=1)[0]
    assert (newest.action, newest.key_id, newest.fields) == (
        "copy", a.id, {"from": redact(source_url), "credits": 15})
    assert target.get(a.id).credits == 15
    source.close()
    target.close()


@pytest.mark.anyio
async def test_admin_lockout_is_counted_by_every_server_sharing_redis(tmp_path, redis_server):
    pytest.importorskip("redis", reason="the redis extra is not installed")
    shared = {"admin_token": TOKEN, "limits_url": redis_server.url(6)}
    async with serving(tmp_path / "a", **shared) as a, serving(tmp_path / "b", **shared) as b:
        assert (await b.client.get("/admin/v1/keys", headers=AUTH)).status_code == 200
        wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "Z"}
        for app in (a, b) * 5:  # 10 failures, half on each server
            assert (await app.client.get("/admin/v1/keys", headers=wrong)).status_code == 401
        for app in (a, b):  # both refuse now, even the right token
            locked = await app.client.get("/admin/v1/keys", headers=AUTH)
            assert locked.status_code == 429, locked.text
            assert 1 <= int(locked.headers["retry-after"]) <= 60
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=b.app,
                                                                client=("10.1.2.3", 4000)),
                                  base_url="http://testserver")
        async with other:  # another address is not locked out
            assert (await other.get("/admin/v1/keys", headers=AUTH)).status_code == 200
