"""The operator's console under /admin (docs/admin.md): a JSON API for keys, credits, usage and
the audit trail, and the page that drives it. Off (every /admin path 404) unless an admin
token is configured; never in the OpenAPI docs; no CORS, and cross-origin requests refused;
the token is checked in constant time, with a lockout after repeated failures (counted by
every server process when the limits are in Redis)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import admin
from ..admin import AdminError, key_json, usage_json
from ..errors import HumancutError
from ..store import KeyStore, Limiter
from .family import Family
from .pages import PAGE_HEADERS, STATIC
from .service import service_of

PREFIX = "/admin"
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css"}
MAX_FAILURES, WINDOW = 10, 60.0  # failed tokens a minute per client address, then 429
MAX_BODY = 64 * 1024

router = APIRouter(include_in_schema=False)


class Guard:
    """The configured token and the failures per client address: counted by every process
    when the limiter is shared (Redis), else in this one's memory."""

    def __init__(self, token: str, limiter: Limiter | None = None):
        self._digest = hashlib.sha256(token.encode()).digest()
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.limiter = limiter

    async def wait(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        shared = None if self.limiter is None else \
            await self.limiter.failure_wait(f"admin:{client}", MAX_FAILURES, WINDOW)
        return self.retry_after(client) if shared is None else shared

    async def failed(self, client: str) -> None:
        if self.limiter is None or \
                not await self.limiter.count_failure(f"admin:{client}", WINDOW):
            self.fail(client)

    def matches(self, offered: str) -> bool:
        # Digests of equal length: the comparison takes the same time whatever is offered.
        return hmac.compare_digest(hashlib.sha256(offered.encode()).digest(), self._digest)

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < MAX_FAILURES:
                return 0
            return max(1, int(recent[0] + WINDOW - now + 0.999))

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # forget clients whose failures have expired
                for c in [c for c, q in self._failures.items() if not q or q[-1] < now - WINDOW]:
                    del self._failures[c]

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        return recent


def guard_of(request: Request) -> Guard | None:
    return getattr(request.app.state, "admin", None)


def render_error(request: Request, exc: HumancutError) -> JSONResponse:
    """Errors on /admin paths from outside this module (unknown path, wrong method, ...)."""
    if guard_of(request) is None:  # off: nothing here, whatever was asked
        return error_response(AdminError(404, "not_found",
                                          f"There is nothing at {request.url.path}."))
    return error_response(AdminError(exc.status, exc.code, exc.message, exc.headers))


def error_response(exc: AdminError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}},
                        status_code=exc.status, headers={**exc.headers,
                                                         "Cache-Control": "no-store"})


def cross_origin(request: Request) -> bool:
    """A request a page of another origin made: its Origin is not this server's, or the
    browser says it comes from another site (other than a plain navigation to the page)."""
    origin = request.headers.get("origin")
    if origin is not None:
        ours = {request.headers.get("host", ""), request.url.netloc}
        settings = service_of(request).settings
        if settings.public_base_url:
            ours.add(urlsplit(settings.public_base_url).netloc)
        forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        if forwarded:
            ours.add(forwarded)
        if urlsplit(origin).netloc not in ours - {""}:
            return True
    site = request.headers.get("sec-fetch-site", "")
    return site in ("cross-site", "same-site") and \
        request.headers.get("sec-fetch-mode") != "navigate"


def _enabled(request: Request) -> Guard:
    guard = guard_of(request)
    if guard is None:
        raise AdminError(404, "not_found", f"There is nothing at {request.url.path}.")
    if cross_origin(request):
        raise AdminError(403, "cross_origin", "The console does not answer other origins.")
    return guard


async def authorize(request: Request) -> str:
    """The fingerprint of the valid token the request carries; AdminError otherwise."""
    guard = _enabled(request)
    client = request.client.host if request.client else ""
    wait = await guard.wait(client)
    if wait:
        raise AdminError(429, "too_many_failures",
                         f"Too many wrong admin tokens from {client}; try again in {wait} s.",
                         {"Retry-After": str(wait)})
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    bearer = scheme.lower() == "bearer" and bool(token)
    if not bearer or not guard.matches(token):
        await guard.failed(client)
        raise AdminError(401, "unauthorized", "The admin token is wrong." if bearer else
                         "Send the admin token as `Authorization: Bearer <token>`.",
                         {"WWW-Authenticate": "Bearer"})
    return admin.fingerprint(token)


def _store(request: Request) -> KeyStore:
    return service_of(request).keys


async def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise AdminError(415, "unsupported_type", "Send JSON (Content-Type: application/json).")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise AdminError(413, "body_too_large", f"At most {MAX_BODY} bytes of JSON.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise AdminError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_json", "The body must be a JSON object.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise AdminError(400, "invalid_parameter", f"Unknown fields: {', '.join(unknown)} "
                         f"(known: {', '.join(allowed)}).")
    return data


def _count(data: dict[str, Any], name: str, *, negative: bool = False) -> int | None:
    """An integer field (null allowed); booleans and strings refused."""
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise AdminError(400, "invalid_parameter", f"{name} must be an integer or null.")
    if value is not None and value < 0 and not negative:
        raise AdminError(400, "invalid_parameter", f"{name} must be 0 or more.")
    return value


def _name(data: dict[str, Any]) -> str:
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise AdminError(400, "invalid_parameter", "name must be a string of at most 200 "
                                                   "characters.")
    return name


def _ok(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


# ---- the page --------------------------------------------------------------------------

@router.get(PREFIX)
async def page(request: Request) -> Response:
    _enabled(request)
    html = (STATIC / "admin" / "index.html").read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8",
                    headers={**PAGE_HEADERS, "Cache-Control": "no-store"})


@router.get(PREFIX + "/static/{name}")
async def asset(request: Request, name: str) -> Response:
    _enabled(request)
    if name not in ASSETS:
        raise AdminError(404, "not_found", f"There is nothing at {request.url.path}.")
    return Response((STATIC / "admin" / name).read_bytes(), media_type=ASSETS[name],
                    headers={"X-Content-Type-Options": "nosniff"})


# ---- the API ---------------------------------------------------------------------------

@router.post(PREFIX + "/v1/keys")
async def create_key(request: Request) -> JSONResponse:
    actor = await authorize(request)
    data = await _body(request, ("name", "credits", "rate_per_minute", "max_in_flight"))
    key, secret = await run_in_threadpool(
        admin.create_key, _store(request), actor, name=_name(data),
        credits=_count(data, "credits"), rate_per_minute=_count(data, "rate_per_minute"),
        max_in_flight=_count(data, "max_in_flight"))
    request.state.log["key_id"] = key.id
    return _ok({"key": key_json(key), "secret": secret}, 201)


@router.get(PREFIX + "/v1/keys")
async def list_keys(request: Request) -> JSONResponse:
    await authorize(request)
    keys = await run_in_threadpool(_store(request).list)
    return _ok({"keys": [key_json(k) for k in keys]})


@router.get(PREFIX + "/v1/keys/{key_id}")
async def get_key(request: Request, key_id: str) -> JSONResponse:
    await authorize(request)
    return _ok({"key": key_json(await run_in_threadpool(admin.get_key, _store(request),
                                                        key_id))})


@router.patch(PREFIX + "/v1/keys/{key_id}")
async def update_key(request: Request, key_id: str) -> JSONResponse:
    actor = await authorize(request)
    data = await _body(request, admin.CHANGEABLE)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _name(data)
    if "status" in data:
        if data["status"] not in ("active", "disabled", "revoked"):
            raise AdminError(400, "invalid_parameter",
                             "status must be active, disabled or revoked.")
        changes["status"] = data["status"]
    for field in ("rate_per_minute", "max_in_flight"):
        if field in data:
            changes[field] = _count(data, field)
    key = await run_in_threadpool(admin.update_key, _store(request), actor, key_id, changes)
    return _ok({"key": key_json(key)})


@router.post(PREFIX + "/v1/keys/{key_id}/credits")
async def credits(request: Request, key_id: str) -> JSONResponse:
    actor = await authorize(request)
    data = await _body(request, ("add", "set"))
    if len(data) != 1:
        raise AdminError(400, "invalid_parameter",
                         'Send exactly one of {"add": N} or {"set": N or null}.')
    if "add" in data:
        add = _count(data, "add", negative=True)
        if add is None:
            raise AdminError(400, "invalid_parameter", "add must be an integer.")
        key = await run_in_threadpool(admin.change_credits, _store(request), actor, key_id,
                                      add=add)
    else:
        value = _count(data, "set")
        key = await run_in_threadpool(admin.change_credits, _store(request), actor, key_id,
                                      set_to=value, unlimited=value is None)
    return _ok({"key": key_json(key)})


@router.get(PREFIX + "/v1/usage")
async def usage(request: Request) -> JSONResponse:
    await authorize(request)
    q = request.query_params
    first, last = admin.day_span(q.get("from"), q.get("to"))
    rows = await run_in_threadpool(admin.usage, _store(request), first, last, q.get("key"))
    return _ok({"from": first, "to": last, "usage": [usage_json(u) for u in rows]})


@router.get(PREFIX + "/v1/audit")
async def audit(request: Request) -> JSONResponse:
    await authorize(request)
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise AdminError(400, "invalid_parameter", "limit must be 1 to 1000.")
    entries = await run_in_threadpool(_store(request).audit_log,
                                      request.query_params.get("key"), int(raw))
    return _ok({"audit": [{"at": e.at, "action": e.action, "key_id": e.key_id,
                           "fields": e.fields, "token": e.token} for e in entries]})


family = Family("admin", router, (PREFIX,), render_error)
