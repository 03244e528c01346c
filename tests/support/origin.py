"""Loopback HTTP servers that count their hits, as image_url origins: routes are handlers
(`send`, `redirect`, `trickle`)."""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from collections.abc import Callable


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
