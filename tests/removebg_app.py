"""An in-process humancut app for the remove.bg tests: the real pipeline around a stand-in
model that calls pure red pixels "person", so geometry can be asserted exactly and no
model is loaded. Also loopback HTTP servers that count their hits (for image_url)."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from conftest import encode
from humancut import Remover, Settings
from humancut.api.app import create_app
from humancut.engine import Matte, Model
from humancut.runner import ThreadRunner
from humancut.store import open_backends


class RedModel(Model):
    name = "red"

    def __init__(self, path: Path | None = None, **_: object) -> None:
        pass

    def predict(self, rgb: np.ndarray, size: int) -> Matte:
        r, g, b = (rgb[..., i].astype(int) for i in range(3))
        return Matte(((r > 200) & (g < 60) & (b < 60)).astype(np.float32))


def photo(size: tuple[int, int] = (200, 100), box: tuple[int, int, int, int] = (50, 20, 150, 80),
          fmt: str = "PNG") -> bytes:
    """A grey photo with a red "person" filling `box` (left, top, right, bottom)."""
    img = Image.new("RGB", size, (128, 128, 128))
    img.paste((255, 0, 0), box)
    return encode(img, fmt)


class App:
    """The app and a key; `call` sends one request on a loop kept for the whole module."""

    def __init__(self, tmp: Path, **overrides: object):
        self.settings = Settings(data_dir=tmp, zoom=False, closer_size=0, clean_up=False,
                                 fusion_size=0, threads=1, **overrides)  # type: ignore[arg-type]
        self.backends = open_backends(self.settings)
        runner = ThreadRunner(Remover(self.settings, model=RedModel()), workers=1,
                              queue_size=8, timeout=30)
        self.app = create_app(self.settings, runner=runner, backends=self.backends)
        self.loop = asyncio.new_event_loop()
        self.key = self.new_key()

    def new_key(self, credits: int | None = None, **limits: int) -> str:
        return self.backends.keys.create("test", credits, **limits)[1]

    def credits(self, key: str) -> int | None:
        found = self.backends.keys.authenticate(key)
        return None if found is None else found.credits

    def call(self, method: str, path: str, key: str | None = "", **kw: object) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if key is not None:
            headers.setdefault("X-Api-Key", key or self.key)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://humancut",
                                         timeout=60) as client:
                return await client.request(method, path, headers=headers, **kw)

        return self.loop.run_until_complete(go())

    def cut(self, key: str | None = "", **kw: object) -> httpx.Response:
        return self.call("POST", "/v1.0/removebg", key, **kw)

    def close(self) -> None:
        self.loop.close()


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Callable[[Handler], None]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.hits[self.path.split("?")[0]] += 1  # type: ignore[attr-defined]
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


class Origin:
    """A loopback HTTP server on `host` with `routes` (path -> handler); counts hits."""

    def __init__(self, host: str = "127.0.0.1", routes: dict | None = None):
        handler = type("H", (Handler,), {"routes": routes or {}})
        self.httpd = http.server.ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.hits = Counter()  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def hits(self) -> Counter:
        return self.httpd.hits  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler: http.server.BaseHTTPRequestHandler, body: bytes, status: int = 200,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(to: str) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    return lambda h: send(h, b"", 302, {"Location": to})


def trickle(h: http.server.BaseHTTPRequestHandler, endless: bool = False) -> None:
    """A byte a second (or endless megabytes): the fetch must give up."""
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.end_headers()
    for _ in range(10**6):
        h.wfile.write(b"x" * (1 << 20) if endless else b"\x89")
        h.wfile.flush()
        if not endless:
            time.sleep(1)
