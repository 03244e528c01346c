"""Webhooks of video tasks (`callback_url`, docs/video.md#webhooks): the query result POSTed
as JSON once a task ends, signed `X-Humancut-Signature: sha256=<hex HMAC-SHA256 of the
body>` with the webhook_secret setting, tried 3 times with backoff. The receiver is checked
with the SSRF rules of image_url / bg_image_url (fetch.py) when the task is submitted and
again at every try, and the POST goes to the checked address (no second DNS answer)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx

from ..errors import HumancutError
from ..settings import Settings
from .fetch import allowed_networks, parse, resolve

SIGNATURE = "X-Humancut-Signature"
TRIES = 3
BACKOFF = (1.0, 4.0)  # seconds before the second and third tries
log = logging.getLogger("humancut.api")


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def check(url: str, settings: Settings) -> str:
    """The callback URL when this server would POST to it, else invalid_parameter (bad URL,
    a loopback or private address not allowed by fetch_allow, no webhook_secret)."""
    url = url.strip()
    if not settings.webhook_secret:
        raise HumancutError("invalid_parameter", "callback_url is off on this server (no "
                            "webhook_secret is set to sign the callbacks).")
    if len(url) > 2048:
        raise HumancutError("invalid_parameter", "callback_url is over 2048 characters.")
    _, host, port = parse(url)
    try:
        await resolve(host, port, allowed_networks(settings.fetch_allow))
    except HumancutError as exc:
        raise HumancutError("invalid_parameter", f"callback_url: {exc.message}") from None
    return url


async def _post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> int:
    scheme, host, port = parse(url)
    ip = await resolve(host, port, allowed_networks(settings.fetch_allow))
    target = httpx.URL(url).copy_with(host=str(ip), port=port)
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    host_header = host if port in (80, 443) else f"{host}:{port}"
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                 timeout=settings.webhook_timeout) as client:
        request = client.build_request("POST", target, content=body, extensions=extensions,
                                       headers={**headers, "Host": host_header})
        response = await client.send(request)
        return response.status_code


async def deliver(url: str, answer: dict[str, Any], settings: Settings) -> bool:
    """POST `answer` to `url` until a 2xx, at most TRIES times; whether one was accepted."""
    body = json.dumps(answer, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json",
               SIGNATURE: sign(body, settings.webhook_secret),
               "User-Agent": "humancut-webhook"}
    for attempt in range(TRIES):
        if attempt:
            await asyncio.sleep(BACKOFF[attempt - 1])
        try:
            status = await _post(url, body, headers, settings)
            if 200 <= status < 300:
                return True
            why = f"HTTP {status}"
        except HumancutError as exc:
            why = exc.message
        except (httpx.HTTPError, OSError) as exc:
            why = type(exc).__name__
        log.warning(json.dumps({"event": "webhook_failed", "task_id": answer.get("task_id"),
                                "try": attempt + 1, "why": why}))
    return False
