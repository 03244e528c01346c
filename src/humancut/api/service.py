"""The one request flow every route family calls: authenticate and reserve a credit, per-key
limits, read the request, run the cut, store the result; refund on any failure."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..errors import HumancutError
from ..job import Cut, Job
from ..runner import Runner
from ..settings import Settings
from ..store import ApiKey, Backends, Stored
from ..store.keys import OK
from .telemetry import Telemetry

RESULTS = "/api/results"  # the route results are served from (results.py)
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

log = logging.getLogger("humancut.api")


@dataclass
class Call:
    """One call as the flow sees it, without the HTTP request: the key as sent (None: no
    header), the header's name for the error message, the request's log line (the flow adds
    key_id, sizes, outcome and timings), its log id, the base URL results are linked
    under, and the route family's name (the metrics' `family` label). `call_of` builds it
    from a Starlette request."""

    secret: str | None
    header: str
    log: dict[str, Any]
    log_id: str = ""
    base_url: str = ""
    family: str = ""


@dataclass
class Done:
    """A successful call: the cut-out, and where it is stored (when asked to store it)."""

    key: ApiKey
    cut: Cut
    headers: dict[str, str]  # X-RateLimit-*, for the family to send
    stored: Stored | None = None
    url: str = ""


class CutService:
    def __init__(self, settings: Settings, backends: Backends, runner: Runner,
                 telemetry: Telemetry | None = None):
        self.settings, self.backends, self.runner = settings, backends, runner
        self.keys, self.results, self.limiter = backends.keys, backends.results, backends.limiter
        self.telemetry = telemetry or Telemetry(settings, runner)

    async def authenticate(self, secret: str | None, header: str, *,
                           count: bool = False) -> ApiKey:
        """The active key `secret` belongs to; `count`: a refused known key's call goes
        into its usage (the operator sees revoked and disabled keys still being used)."""
        return (await self._accept(secret, header, count=count, charge=False))[0]

    async def _accept(self, secret: str | None, header: str, *, count: bool,
                      charge: bool) -> tuple[ApiKey, bool]:
        """authenticate; `charge`: also take a credit in the same round trip (whether one
        was taken is the second value; never for a key refused here)."""
        if not secret:
            raise HumancutError("missing_parameter", f"The `{header}` header is missing.")
        if charge:
            key, charged = await run_in_threadpool(self.keys.authenticate_and_reserve,
                                                   secret.strip())
        else:
            key, charged = await run_in_threadpool(self.keys.authenticate, secret.strip()), False
        if key is None or key.status == "revoked":
            if key is not None and count:
                await self.record(key, "unknown_key")
            raise HumancutError("unknown_key", "This API key does not exist or was revoked.")
        if key.status != "active":
            if count:
                await self.record(key, "key_disabled")
            raise HumancutError("key_disabled", "This API key is disabled by the operator.")
        return key, charged

    async def record(self, key: ApiKey, outcome: str, credits: int = 0) -> None:
        """Count the call in the key's usage. Never fails the call: a store that cannot be
        written is logged."""
        try:
            await run_in_threadpool(self.keys.record_usage, key.id, outcome, credits)
        except Exception as exc:  # noqa: BLE001 - logged; the answer stands
            log.error(json.dumps({"event": "usage_failed", "key_id": key.id,
                                  "outcome": outcome, "error": f"{type(exc).__name__}: {exc}"}))

    async def handle(self, call: Call, read: Callable[[], Awaitable[Job]], *,
                     store: bool = True) -> Done:
        """The whole flow for one call; `read` parses the family's request into a Job once
        the caller is known and admitted. Raises HumancutError, with the X-RateLimit-*
        headers once admitted; nothing is charged unless it succeeds. Every call, whatever
        its outcome, is counted in the metrics (telemetry.py)."""
        start, outcome, done = time.perf_counter(), "processing_failed", None
        self.telemetry.in_flight.inc()
        try:
            done = await self._handle(call, read, store=store)
            outcome = OK
            return done
        except HumancutError as exc:
            outcome = exc.code
            raise
        finally:
            self.telemetry.in_flight.dec()
            self.telemetry.observe(call.family, outcome, time.perf_counter() - start,
                                   done.cut if done else None)

    async def _handle(self, call: Call, read: Callable[[], Awaitable[Job]], *,
                      store: bool) -> Done:
        # The credit is taken with the key's check (one round trip to a shared store) and
        # given back when the call is then refused or fails (no_credits is still answered
        # after the request is read, so a bad request says what is wrong with it first).
        key, charged = await self._accept(call.secret, call.header, count=True, charge=True)
        call.log["key_id"] = key.id
        try:
            return await self._admitted(call, key, charged, read, store=store)
        except HumancutError as exc:
            await self.record(key, exc.code)
            raise
        except Exception:
            await self.record(key, "processing_failed")
            raise

    async def _admitted(self, call: Call, key: ApiKey, charged: bool,
                        read: Callable[[], Awaitable[Job]], *, store: bool) -> Done:
        s = self.settings
        try:
            admission = await self.limiter.acquire(
                key.id, s.rate_per_minute if key.rate_per_minute is None else key.rate_per_minute,
                s.max_in_flight if key.max_in_flight is None else key.max_in_flight)
        except BaseException:
            await self._refund_if(charged, key)
            raise
        try:
            job = await read()
            call.log["in_bytes"] = len(job.data)
            if not charged:
                raise HumancutError("no_credits", "This API key has no credits left.")
            done = Done(key, await self.runner.cut(job), admission.headers)
            if store:
                done.stored, done.url = await self._store(call, done.cut)
        except BaseException as exc:
            if isinstance(exc, HumancutError):
                exc.headers = {**admission.headers, **exc.headers}
            await asyncio.gather(self.limiter.release(key.id, admission),
                                 self._refund_if(charged, key))
            raise
        # Independent round trips (Redis, the key store), so at once.
        await asyncio.gather(self.limiter.release(key.id, admission), self.record(key, OK, 1))
        call.log.update(outcome="ok", out_bytes=len(done.cut.data),
                        out_size=f"{done.cut.width}x{done.cut.height}",
                        **{k: round(v, 1) for k, v in done.cut.timings.items()})
        return done

    async def _store(self, call: Call, cut: Cut) -> tuple[Stored, str]:
        try:
            stored = await run_in_threadpool(self.results.put, cut.data, cut.content_type,
                                             self.settings.result_ttl)
        except Exception as exc:  # e.g. the data dir is full or read-only, S3 unreachable
            log.error(json.dumps({"event": "store_failed", "log_id": call.log_id,
                                  "error": f"{type(exc).__name__}: {exc}"}))
            raise HumancutError("processing_failed",
                                "The result could not be stored; try again later.") from None
        return stored, self.results.url(stored, call.base_url + RESULTS)

    async def _refund_if(self, charged: bool, key: ApiKey) -> None:
        if charged:
            await self.refund(key)

    async def refund(self, key: ApiKey) -> None:
        await run_in_threadpool(self.keys.refund_credit, key.id)


def service_of(request: Request) -> CutService:
    return request.app.state.service


def call_of(request: Request, header: str, family: str = "") -> Call:
    """What the flow needs of an HTTP request: the key in `header`, the log line the
    middleware writes (api/middleware.py), the server's public address, and the name of
    the `family` that answers it."""
    return Call(request.headers.get(header), header, request.state.log, request.state.log_id,
                base_url(service_of(request).settings, request), family)


def base_url(settings: Settings, request: Request) -> str:
    """Where clients reach this server: the setting, else the proxy's forwarded headers
    (when well-formed), else the request's own."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    proto = proto if proto in ("http", "https") else request.url.scheme
    if not _HOST.match(host):
        host = request.url.netloc
    return f"{proto}://{host}"
