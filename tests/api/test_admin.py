"""The admin API (api/admin.py), in-process (tests/support/inproc.py) on SQLite and on a real
PostgreSQL: keys, credits, usage per key and day, the audit trail, the token checks and the
lockout, no CORS and no cross-origin requests, the token file, and the key store's
migrations. The console page is tested in a real browser in tests/e2e/test_admin_web.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import sqlite3
import uuid

import httpx
import pytest

from humancut import Settings
from humancut.api import ROUTE, create_app
from humancut.errors import ConfigError
from humancut.store.keys import utc_day
from humancut.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from humancut.store.sqlite import SQLiteKeyStore
from tests.support.images import encode
from tests.support.inproc import EllipseModel, serving

pytestmark = pytest.mark.anyio
TOKEN = "adm-" + "x7" * 16
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FINGERPRINT = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:12]


@pytest.fixture(params=["sqlite", "postgres"])
def keys_url(request) -> str:
    """The key store of the app under test: the embedded SQLite, or a real PostgreSQL (one
    database shared by the run: tests look only at the keys they create)."""
    if request.param == "sqlite":
        return ""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    return request.getfixturevalue("postgres").url()


def error_of(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


async def admin(app, method: str, path: str, body: object = None, **kw) -> httpx.Response:
    return await app.client.request(method, "/admin/v1/" + path, json=body,
                                    headers=AUTH | kw.pop("headers", {}), **kw)


async def new_key(app, **fields: object) -> tuple[dict, str]:
    resp = await admin(app, "POST", "keys", {"name": "t", **fields})
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["secret"]


# ---- off, token, lockout ---------------------------------------------------------------

async def test_admin_is_off_without_a_token(tmp_path):
    async with serving(tmp_path) as app:
        for method, path in [("GET", "/admin"), ("GET", "/admin/v1/keys"),
                             ("POST", "/admin/v1/keys"), ("DELETE", "/admin/v1/keys"),
                             ("GET", "/admin/static/admin.js"), ("GET", "/admin/v1/nothing")]:
            resp = await app.client.request(method, path, headers=AUTH)
            error_of(resp, 404, "not_found")


async def test_wrong_or_missing_tokens_then_lockout_per_address(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with serving(tmp_path, admin_token=TOKEN) as app:
        c = app.client
        assert (await c.get("/admin/v1/keys", headers=AUTH)).status_code == 200
        missing = await c.get("/admin/v1/keys")
        assert "Bearer" in error_of(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = TOKEN[:-1] + "Q"
        for headers in ({"Authorization": f"Bearer {wrong}"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": TOKEN}, {"Authorization": "Bearer " + TOKEN * 2}):
            error_of(await c.get("/admin/v1/keys", headers=headers), 401, "unauthorized")
        for _ in range(5):  # 10 failures in all
            error_of(await c.post("/admin/v1/keys", headers={"Authorization": f"Bearer {wrong}"},
                                  json={}), 401, "unauthorized")
        locked = await c.get("/admin/v1/keys", headers=AUTH)  # even the right token now
        error_of(locked, 429, "too_many_failures")
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        # Another client address is not locked out.
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.app,
                                                                client=("10.9.8.7", 4000)),
                                  base_url="http://testserver")
        async with other:
            assert (await other.get("/admin/v1/keys", headers=AUTH)).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and wrong not in logged and "/admin/v1/keys" in logged


async def test_token_from_a_file_is_stripped(tmp_path):
    path = tmp_path / "admin-token"
    path.write_text(f"  {TOKEN}\n")
    settings = Settings.from_env({"HUMANCUT_ADMIN_TOKEN_FILE": str(path)})
    assert settings.admin_token_file == path and settings.admin_secret() == TOKEN
    async with serving(tmp_path, admin_token_file=path) as app:
        assert (await app.client.get("/admin/v1/keys", headers=AUTH)).status_code == 200
    path.write_text(" \n")
    with pytest.raises(ConfigError, match="ADMIN_TOKEN_FILE.*empty"):
        create_app(Settings(data_dir=tmp_path, admin_token_file=path))
    with pytest.raises(ConfigError, match="ADMIN_TOKEN_FILE"):
        create_app(Settings(data_dir=tmp_path, admin_token_file=tmp_path / "missing"))


# ---- keys ------------------------------------------------------------------------------

async def test_key_lifecycle(tmp_path, jpeg, keys_url):
    async with serving(tmp_path, admin_token=TOKEN, keys_url=keys_url) as app:
        key, secret = await new_key(app, name="alice", credits=3, rate_per_minute=50,
                                    max_in_flight=2)
        assert secret.startswith(f"hc_{key['id']}_")
        assert set(key) == {"id", "name", "status", "credits", "created_at", "rate_per_minute",
                            "max_in_flight"}
        assert (key["name"], key["status"], key["credits"], key["rate_per_minute"],
                key["max_in_flight"]) == ("alice", "active", 3, 50, 2)
        assert (await app.post(secret, jpeg)).status_code == 200  # the secret works
        listed = await admin(app, "GET", "keys")
        assert key["id"] in [k["id"] for k in listed.json()["keys"]]
        assert secret not in listed.text and "sha256" not in listed.text
        got = (await admin(app, "GET", f"keys/{key['id']}")).json()["key"]
        assert got == key | {"credits": 2}
        error_of(await admin(app, "GET", "keys/000000000000"), 404, "not_found")
        error_of(await admin(app, "PATCH", "keys/000000000000", {"name": "x"}), 404,
                 "not_found")

        changed = await admin(app, "PATCH", f"keys/{key['id']}",
                              {"name": "alice b", "rate_per_minute": None, "max_in_flight": 4})
        assert changed.json()["key"] | {} == got | {"name": "alice b", "rate_per_minute": None,
                                                    "max_in_flight": 4}
        for status, code in [("disabled", 403), ("active", 200), ("revoked", 401)]:
            patched = await admin(app, "PATCH", f"keys/{key['id']}", {"status": status})
            assert patched.json()["key"]["status"] == status
            assert (await app.post(secret, jpeg)).status_code == code, status
        error_of(await admin(app, "PATCH", f"keys/{key['id']}", {"status": "active"}), 409,
                 "conflict")
        error_of(await admin(app, "PATCH", f"keys/{key['id']}", {"name": "again"}), 409,
                 "conflict")
        same = await admin(app, "PATCH", f"keys/{key['id']}", {"status": "revoked"})
        assert same.status_code == 200 and same.json()["key"]["name"] == "alice b"


async def test_bad_admin_requests_are_refused_clearly(tmp_path):
    async with serving(tmp_path, admin_token=TOKEN) as app:
        key, _ = await new_key(app)
        for body, code in [({"credits": "5"}, "invalid_parameter"),
                           ({"credits": -1}, "invalid_parameter"),
                           ({"credits": True}, "invalid_parameter"),
                           ({"name": 5}, "invalid_parameter"),
                           ({"name": "x" * 201}, "invalid_parameter"),
                           ({"secret": "hc_x"}, "invalid_parameter"),
                           ([1, 2], "invalid_json")]:
            error_of(await admin(app, "POST", "keys", body), 400, code)
        for body in ({"status": "gone"}, {"max_in_flight": -2}, {"id": "abc"}):
            error_of(await admin(app, "PATCH", f"keys/{key['id']}", body), 400,
                     "invalid_parameter")
        bad = await app.client.post("/admin/v1/keys", content=b"{nope", headers=AUTH | {
            "content-type": "application/json"})
        error_of(bad, 400, "invalid_json")
        form = await app.client.post("/admin/v1/keys", data={"name": "x"}, headers=AUTH)
        error_of(form, 415, "unsupported_type")
        error_of(await admin(app, "DELETE", "keys"), 405, "method_not_allowed")
        error_of(await admin(app, "GET", "nothing"), 404, "not_found")
        assert len((await admin(app, "GET", "keys")).json()["keys"]) == 1  # nothing made


async def test_credits_add_set_and_unlimited(tmp_path, jpeg, keys_url):
    async with serving(tmp_path, admin_token=TOKEN, keys_url=keys_url) as app:
        key, secret = await new_key(app, credits=1)
        path = f"keys/{key['id']}/credits"
        assert (await admin(app, "POST", path, {"add": 4})).json()["key"]["credits"] == 5
        message = error_of(await admin(app, "POST", path, {"add": -6}), 409, "conflict")
        assert "5 credits" in message
        assert (await admin(app, "POST", path, {"add": -5})).json()["key"]["credits"] == 0
        assert (await app.post(secret, jpeg)).status_code == 429  # no credits
        assert (await admin(app, "POST", path, {"set": None})).json()["key"]["credits"] is None
        assert (await app.post(secret, jpeg)).status_code == 200  # unlimited now
        error_of(await admin(app, "POST", path, {"add": 1}), 409, "conflict")
        assert (await admin(app, "POST", path, {"set": 7})).json()["key"]["credits"] == 7
        for body in ({}, {"add": 1, "set": 2}, {"add": None}, {"add": 1.5}, {"set": -1},
                     {"add": 10**13}, {"take": 1}):
            error_of(await admin(app, "POST", path, body), 400, "invalid_parameter")
        error_of(await admin(app, "POST", "keys/000000000000/credits", {"add": 1}), 404,
                 "not_found")
        assert (await admin(app, "GET", f"keys/{key['id']}")).json()["key"]["credits"] == 7


async def test_top_up_is_atomic_with_calls_in_flight(tmp_path, jpeg, keys_url):
    """Calls spending credits and top-ups at once: nothing lost, nothing made up."""
    async with serving(tmp_path, EllipseModel(delay=0.01), admin_token=TOKEN, keys_url=keys_url,
                       workers=4, queue_size=64, rate_per_minute=0, max_in_flight=0) as app:
        key, secret = await new_key(app, credits=5)
        path = f"keys/{key['id']}/credits"
        calls = [app.post(secret, jpeg) for _ in range(30)]
        top_ups = [admin(app, "POST", path, {"add": 1}) for _ in range(20)]
        answers = await asyncio.gather(*calls, *top_ups)
        ok = sum(r.status_code == 200 for r in answers[:30])
        refused = sum(r.status_code == 429 for r in answers[:30])
        assert ok + refused == 30 and all(r.status_code == 200 for r in answers[30:])
        assert ok >= 5
        balance = (await admin(app, "GET", f"keys/{key['id']}")).json()["key"]["credits"]
        assert balance == 5 + 20 - ok
        (row,) = (await admin(app, "GET", f"usage?key={key['id']}")).json()["usage"]
        assert row["images"] == row["credits"] == ok
        assert row["failures"] == ({"no_credits": refused} if refused else {})


# ---- usage and audit -------------------------------------------------------------------

async def test_usage_counts_every_outcome_per_key_and_day(tmp_path, jpeg, keys_url):
    async with serving(tmp_path, admin_token=TOKEN, keys_url=keys_url) as app:
        day_before = utc_day()
        key, secret = await new_key(app, credits=2, rate_per_minute=4)
        other, other_secret = await new_key(app)
        assert (await app.post(secret, encode_gif())).status_code == 415
        assert (await app.post(secret, jpeg)).status_code == 200
        removebg = await app.client.post("/v1.0/removebg", headers={"X-Api-Key": secret},
                                         files={"image_file": ("a.jpg", jpeg)})
        assert removebg.status_code == 200  # every family counts
        assert (await app.post(secret, jpeg)).status_code == 429  # no credits
        assert (await app.post(secret, jpeg)).status_code == 429  # the rate limit
        assert (await app.post(other_secret, jpeg)).status_code == 200
        await admin(app, "PATCH", f"keys/{other['id']}", {"status": "disabled"})
        assert (await app.post(other_secret, jpeg)).status_code == 403
        assert (await app.post("hc_000000000000_" + "A" * 43, jpeg)).status_code == 401

        mine = (await admin(app, "GET", f"usage?key={key['id']}")).json()
        today = mine["to"]
        assert today in (day_before, utc_day())
        first = dt.date.fromisoformat(today) - dt.timedelta(days=29)
        assert mine["from"] == first.isoformat()
        assert mine["usage"] == [{"day": today, "key_id": key["id"], "images": 2,
                                  "credits": 2, "failures": {"no_credits": 1,
                                                             "rate_limited": 1,
                                                             "unsupported_type": 1},
                                  "video_tasks": 0, "video_seconds": 0.0}]
        everyone = (await admin(app, "GET", f"usage?from={today}&to={today}")).json()["usage"]
        by_key = {u["key_id"]: u for u in everyone}
        assert by_key[other["id"]] == {"day": today, "key_id": other["id"], "images": 1,
                                       "credits": 1, "failures": {"key_disabled": 1},
                                       "video_tasks": 0, "video_seconds": 0.0}
        assert by_key[key["id"]] == mine["usage"][0]
        yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
        long_ago = (dt.date.fromisoformat(today) - dt.timedelta(days=365)).isoformat()
        old = await admin(app, "GET", f"usage?key={key['id']}&from={long_ago}&to={yesterday}")
        assert old.json()["usage"] == []
        for query in ("from=2026-13-01", "to=yesterday", "from=2026-02-01&to=2026-01-01",
                      "from=2020-01-01&to=2022-01-01"):
            error_of(await admin(app, "GET", "usage?" + query), 400, "invalid_parameter")
        error_of(await admin(app, "GET", "usage?key=000000000000"), 404, "not_found")


def encode_gif() -> bytes:
    from PIL import Image

    return encode(Image.new("RGB", (8, 8)), "GIF")


async def test_every_change_is_audited_and_logged_without_the_token(tmp_path, caplog,
                                                                    keys_url):
    caplog.set_level(logging.INFO, logger="humancut.admin")
    async with serving(tmp_path, admin_token=TOKEN, keys_url=keys_url) as app:
        key, secret = await new_key(app, name="bob", credits=1)
        kid = key["id"]
        await admin(app, "POST", f"keys/{kid}/credits", {"add": 9})
        await admin(app, "PATCH", f"keys/{kid}", {"name": "bob", "status": "disabled"})
        await admin(app, "POST", f"keys/{kid}/credits", {"set": None})
        await admin(app, "POST", f"keys/{kid}/credits", {"add": -50})  # refused: not audited
        resp = await admin(app, "GET", f"audit?key={kid}")
        entries = resp.json()["audit"]
        assert [(e["action"], e["fields"]) for e in entries] == [
            ("credits", {"set": None, "credits": None}),
            ("update", {"status": "disabled"}),  # the unchanged name is not a change
            ("credits", {"add": 9, "credits": 10}),
            ("create", {"name": "bob", "credits": 1, "rate_per_minute": None,
                        "max_in_flight": None})]
        assert {e["token"] for e in entries} == {FINGERPRINT} and {e["key_id"]
                                                                  for e in entries} == {kid}
        assert entries[0]["at"] >= entries[-1]["at"]
        assert TOKEN not in resp.text and secret not in resp.text
        assert len((await admin(app, "GET", "audit?limit=2")).json()["audit"]) == 2
        error_of(await admin(app, "GET", "audit?limit=0"), 400, "invalid_parameter")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "humancut.admin"]
    mine = [line for line in lines if line["key_id"] == kid]
    assert [line["action"] for line in mine] == ["create", "credits", "update", "credits"]
    assert all(line["token"] == FINGERPRINT for line in mine)
    assert not any(TOKEN in r.getMessage() or secret in r.getMessage() for r in caplog.records)


# ---- no CORS, no other origins, not in the docs ----------------------------------------

async def test_no_cors_no_other_origins_not_in_openapi(tmp_path):
    async with serving(tmp_path, admin_token=TOKEN, cors_origins="https://app.example") as app:
        c = app.client
        preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        api = await c.options(ROUTE, headers=preflight)
        assert api.headers["access-control-allow-origin"] == "https://app.example"  # CORS on
        for path in ("/admin/v1/keys", "/admin"):
            refused = await c.options(path, headers=preflight)
            assert refused.status_code >= 400
            assert not any(h.startswith("access-control-") for h in refused.headers)
        for origin in ("https://app.example", "https://evil.example", "null"):
            resp = await c.get("/admin/v1/keys", headers=AUTH | {"Origin": origin})
            error_of(resp, 403, "cross_origin")
            assert "access-control-allow-origin" not in resp.headers
        error_of(await c.get("/admin/v1/keys", headers=AUTH | {"Sec-Fetch-Site": "cross-site",
                                                               "Sec-Fetch-Mode": "cors"}),
                 403, "cross_origin")
        error_of(await c.get("/admin/static/admin.js", headers={"Sec-Fetch-Site": "cross-site",
                                                                "Sec-Fetch-Mode": "no-cors"}),
                 403, "cross_origin")
        same = await c.get("/admin/v1/keys", headers=AUTH | {"Origin": "http://testserver",
                                                             "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 200
        page = await c.get("/admin", headers={"Sec-Fetch-Site": "cross-site",
                                              "Sec-Fetch-Mode": "navigate"})
        assert page.status_code == 200 and "humancut console" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        for name in ("admin.js", "admin.css"):
            assert (await c.get(f"/admin/static/{name}")).status_code == 200
        error_of(await c.get("/admin/static/..%2F..%2Fkeys.db"), 404, "not_found")
        spec = (await c.get("/openapi.json")).json()
        assert ROUTE in spec["paths"] and not [p for p in spec["paths"] if "admin" in p]


# ---- the key store's migrations --------------------------------------------------------

OLD_KEYS_TABLE = """CREATE TABLE keys (id TEXT PRIMARY KEY, name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active', credits INTEGER,
    created_at REAL NOT NULL, rate_per_minute INTEGER, max_in_flight INTEGER)"""


def test_sqlite_file_from_before_versioning_is_migrated(tmp_path):
    path = tmp_path / "keys.db"
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_KEYS_TABLE)
        conn.execute("INSERT INTO keys VALUES ('0123456789ab', 'old', 'h', 'active', 4, 1.0, "
                     "NULL, NULL)")
    store = SQLiteKeyStore(path)
    assert store.get("0123456789ab").credits == 4
    store.record_usage("0123456789ab", "ok", 1)
    assert store.usage(utc_day(), utc_day())[0].images == 1
    again = SQLiteKeyStore(path)  # a second open changes nothing
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM humancut_schema_version")]
    assert versions == list(range(1, len(SQLITE_MIGRATIONS) + 1))
    assert again.usage(utc_day(), utc_day())[0].images == 1


def test_postgres_database_at_version_1_is_migrated(postgres):
    psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from humancut.store.postgres import MIGRATIONS, PostgresKeyStore

    db = f"v1_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(postgres.url(db), autocommit=True) as conn:  # a version 1 deployment
        conn.execute("CREATE TABLE humancut_schema_version (version INTEGER NOT NULL, "
                     "migrated_at TIMESTAMPTZ DEFAULT now())")
        conn.execute(MIGRATIONS[0])
        conn.execute("INSERT INTO humancut_schema_version (version) VALUES (1)")
        conn.execute("INSERT INTO keys VALUES ('0123456789ab', 'old', 'h', 'active', 4, 1.0, "
                     "NULL, NULL)")
    store = PostgresKeyStore(postgres.url(db))
    assert store.get("0123456789ab").credits == 4
    store.record_usage("0123456789ab", "ok", 1)
    store.record_usage("0123456789ab", "no_person")
    (u,) = store.usage(utc_day(), utc_day())
    assert (u.images, u.credits, u.failures) == (1, 1, {"no_person": 1})
    store.close()
    with psycopg.connect(postgres.url(db)) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM humancut_schema_version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


async def test_a_usage_write_that_fails_leaves_the_answer_and_is_logged(tmp_path, jpeg, caplog,
                                                                       monkeypatch):
    caplog.set_level(logging.ERROR, logger="humancut.api")
    async with serving(tmp_path, admin_token=TOKEN) as app:
        key, secret = await new_key(app, credits=1)

        def broken(*args: object, **kw: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(app.keys, "record_usage", broken)
        assert (await app.post(secret, jpeg)).status_code == 200
        assert app.credits(secret) == 0  # charged once, as without usage
    (line,) = [json.loads(r.getMessage()) for r in caplog.records
               if "usage_failed" in r.getMessage()]
    assert line["key_id"] == key["id"] and line["outcome"] == "ok" and "disk I/O" in line["error"]
