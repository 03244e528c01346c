"""The app in-process, for fast tests of the request flow, limits, envelopes, the error table
and the remove.bg and AILabTools families: the real app, stores, ThreadRunner and Remover,
called through httpx's ASGI transport, with a stand-in `model` (no model file is loaded).

    app = App(tmp_path, RedModel())           # synchronous: one loop kept for the module
    resp = app.cut(files={"image_file": ("a.png", photo())})

    async with serving(tmp_path, EllipseModel(delay=0.3), rate_per_minute=3) as app:
        key = app.new_key(credits=1)          # lifespan running: trial key, sweeper
        resp = await app.post(key, image=jpeg)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from humancut import Remover, Settings
from humancut.api import ROUTE, create_app
from humancut.engine import Matte, Model
from humancut.runner import ThreadRunner
from humancut.store import KeyStore, open_backends

# The pipeline's extra looks off: one model call per photo, so the stand-in's matte is the cut.
ONE_LOOK = {"zoom": False, "closer_size": 0, "clean_up": False, "fusion_size": 0, "flip": False,
            "threads": 1}


class RedModel(Model):
    """Pure red pixels are the person, so geometry can be asserted exactly."""

    name = "red"

    def __init__(self, path: Path | None = None, **_: object) -> None:
        pass

    def predict(self, rgb: np.ndarray, size: int) -> Matte:
        r, g, b = (rgb[..., i].astype(int) for i in range(3))
        return Matte(((r > 200) & (g < 60) & (b < 60)).astype(np.float32))


def ellipse(shape: tuple[int, ...]) -> np.ndarray:
    """An opaque ellipse filling the middle of the frame, soft at its rim."""
    h, w = shape[:2]
    y, x = np.ogrid[:h, :w]
    r = ((y - h / 2) / (h / 2.5)) ** 2 + ((x - w / 2) / (w / 3.5)) ** 2
    return np.clip((1.2 - r) * 5, 0, 1).astype(np.float32)


class EllipseModel(Model):
    """A person in the middle of every photo, after `delay` seconds; counts its calls."""

    name = "ellipse"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def predict(self, rgb: np.ndarray, size: int) -> Matte:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return Matte(ellipse(rgb.shape))


class App:
    """The app on SQLite + files under `data_dir` around `model` (default RedModel);
    `settings` override ONE_LOOK and the defaults. `call`/`cut` send one request on a loop
    kept until `close`; inside `serving`, `client` and `post` are the async way."""

    def __init__(self, data_dir: Path, model: Model | None = None, **settings: Any):
        self.model = model or RedModel()
        self.settings = Settings(data_dir=data_dir, **(ONE_LOOK | settings))
        s = self.settings
        self.backends = open_backends(s)
        runner = ThreadRunner(Remover(s, model=self.model), workers=s.workers,
                              queue_size=s.queue_size, timeout=s.request_timeout)
        self.app = create_app(s, runner=runner, backends=self.backends)
        self.client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._key = ""

    @property
    def keys(self) -> KeyStore:
        return self.backends.keys

    @property
    def key(self) -> str:
        """An unlimited key, made on first use."""
        if not self._key:
            self._key = self.new_key()
        return self._key

    def new_key(self, credits: int | None = None, **limits: int | None) -> str:
        return self.keys.create("test", credits, **limits)[1]

    def credits(self, key: str) -> int | None:
        found = self.keys.authenticate(key)
        return None if found is None else found.credits

    def call(self, method: str, path: str, key: str | None = "", **kw: object) -> httpx.Response:
        """One request with `key` as X-Api-Key ("": the app's own key, None: none)."""
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if key is not None:
            headers.setdefault("X-Api-Key", key or self.key)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://humancut",
                                         timeout=60) as client:
                return await client.request(method, path, headers=headers, **kw)

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(go())

    def cut(self, key: str | None = "", **kw: object) -> httpx.Response:
        return self.call("POST", "/v1.0/removebg", key, **kw)

    async def post(self, key: str | None, image: bytes | None = None, name: str = "a.jpg",
                   form: str | None = None, **kw: Any) -> httpx.Response:
        """The AILabTools cut through `client` (inside `serving`)."""
        assert self.client is not None, "post needs serving()"
        headers = {"ailabapi-api-key": key} if key is not None else {}
        files = {"image": (name, image)} if image is not None else None
        data = {"return_form": form} if form is not None else None
        if files is None and data is None and "content" not in kw:
            data = {"other": "x"}  # still multipart
        return await self.client.post(ROUTE, headers=headers | kw.pop("headers", {}),
                                      files=files, data=data, **kw)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, model: Model | None = None,
                  **settings: Any) -> AsyncIterator[App]:
    """App(tmp_path / "data", model or EllipseModel(), ...) with its lifespan running (trial
    key, sweeper) and an async `client`."""
    app = App(tmp_path / "data", model or EllipseModel(), **settings)
    async with app.app.router.lifespan_context(app.app):
        transport = httpx.ASGITransport(app=app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     timeout=30) as client:
            app.client = client
            yield app
