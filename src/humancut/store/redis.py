"""Redis limits (`redis://host:port/N`), shared by every server process. Each check is one Lua
script timed by Redis's own clock (atomic, and clock skew between servers does not matter):
a sorted set of the minute's requests, and a sorted set of in-flight leases scored by when
they expire, so the slots of a crashed server free themselves after `lease_ttl`.

Redis unreachable (`limits_unreachable`): `open` admits the call without limits and logs a
warning (credits stay exact: they live in the key store); `busy` answers 503 + Retry-After."""

from __future__ import annotations

import json
import logging
import math
import secrets

import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..settings import Settings
from .limits import WINDOW, Admission, Limiter, too_many_a_minute, too_many_at_once
from .outage import unavailable

# KEYS: the key's requests, its leases. ARGV: per_minute, max_in_flight, lease ms, lease id,
# window ms.
# Returns {verdict, requests in the window before this one, ms until the oldest leaves it};
# verdict 0 = too many a minute, 1 = too many at once, 2 = admitted.
ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[5])
local per_minute, max_in_flight = tonumber(ARGV[1]), tonumber(ARGV[2])
local lease_ms, lease = tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
local reset = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
if per_minute > 0 and count >= per_minute then return {0, count, reset} end
if max_in_flight > 0 and redis.call('ZCARD', KEYS[2]) >= max_in_flight then
  return {1, count, reset}
end
if per_minute > 0 then
  redis.call('ZADD', KEYS[1], now, lease)
  redis.call('PEXPIRE', KEYS[1], window)
end
if max_in_flight > 0 then
  redis.call('ZADD', KEYS[2], now + lease_ms, lease)
  redis.call('PEXPIRE', KEYS[2], lease_ms)
end
return {2, count, reset}
"""
# Failures of one name (an admin client's address) in a sorted set scored by Redis's clock.
# KEYS: the set. ARGV: window ms, limit (0: count one more, a unique member), member.
# Returns ms until the oldest failure leaves the window once `limit` are in it, else 0.
FAILURES = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if limit == 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
if redis.call('ZCARD', KEYS[1]) < limit then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""
OUTAGES = (RedisConnectionError, RedisTimeoutError, OSError)

log = logging.getLogger("humancut.store")


class RedisLimiter(Limiter):
    def __init__(self, url: str, *, lease_ttl: float, timeout: float = 5.0,
                 fail_open: bool = True):
        # Checked now, so a wrong URL stops start-up; later outages follow `fail_open`.
        with redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                  socket_timeout=timeout) as probe:
            probe.ping()
        self.redis = aioredis.Redis.from_url(url, socket_connect_timeout=timeout,
                                             socket_timeout=timeout, retry_on_timeout=False)
        self.acquire_script = self.redis.register_script(ACQUIRE)
        self.failures_script = self.redis.register_script(FAILURES)
        self.lease_ms = max(1000, int(lease_ttl * 1000))
        self.fail_open = fail_open

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> RedisLimiter:
        s = settings or Settings()
        if s.limits_unreachable not in ("open", "busy"):
            raise ValueError(f"HUMANCUT_LIMITS_UNREACHABLE={s.limits_unreachable!r}: "
                             "expected open or busy")
        lease = s.lease_ttl or s.upload_timeout + s.request_timeout + 30
        return cls(url, lease_ttl=lease, timeout=s.backend_timeout,
                   fail_open=s.limits_unreachable == "open")

    @staticmethod
    def _keys(key_id: str) -> list[str]:
        # One hash tag per API key: both sets land on the same Redis Cluster slot.
        return [f"humancut:{{{key_id}}}:requests", f"humancut:{{{key_id}}}:leases"]

    async def acquire(self, key_id: str, per_minute: int, max_in_flight: int) -> Admission:
        lease = secrets.token_hex(8)
        try:
            verdict, count, reset_ms = await self.acquire_script(
                keys=self._keys(key_id), args=[per_minute, max_in_flight, self.lease_ms, lease,
                                                   WINDOW * 1000])
        except OUTAGES as exc:
            return self._outage(exc)
        reset = math.ceil(int(reset_ms) / 1000)
        if verdict == 0:
            raise too_many_a_minute(per_minute, reset)
        admission = Admission(per_minute, per_minute - int(count) - 1, reset,
                              lease if max_in_flight else "")
        if verdict == 1:
            raise too_many_at_once(max_in_flight, admission)
        return admission

    def _outage(self, exc: BaseException) -> Admission:
        if not self.fail_open:
            raise unavailable("limiter", exc)
        log.warning(json.dumps({"event": "limits_skipped", "reason": "redis unreachable",
                                "error": f"{type(exc).__name__}: {exc}"[:300]}))
        return Admission(0, 0, 0)  # no limit counted: no X-RateLimit-* headers

    async def release(self, key_id: str, admission: Admission) -> None:
        if not admission.lease:
            return
        try:
            await self.redis.zrem(self._keys(key_id)[1], admission.lease)
        except OUTAGES as exc:  # the lease expires by itself
            log.warning(json.dumps({"event": "lease_not_released", "error": str(exc)[:300]}))

    async def failure_wait(self, name: str, limit: int, window: float) -> int | None:
        try:
            ms = await self.failures_script(keys=[f"humancut:failures:{{{name}}}"],
                                            args=[int(window * 1000), max(1, limit), ""])
        except OUTAGES as exc:  # counted in this process meanwhile
            log.warning(json.dumps({"event": "failures_local", "error": str(exc)[:300]}))
            return None
        return max(1, math.ceil(int(ms) / 1000)) if int(ms) > 0 else 0

    async def count_failure(self, name: str, window: float) -> bool:
        try:
            await self.failures_script(keys=[f"humancut:failures:{{{name}}}"],
                                       args=[int(window * 1000), 0, secrets.token_hex(8)])
        except OUTAGES as exc:
            log.warning(json.dumps({"event": "failures_local", "error": str(exc)[:300]}))
            return False
        return True

    async def close(self) -> None:
        await self.redis.aclose()


