"""The app in-process, for fast tests of the request flow, limits, envelopes and the error
table: the real app, stores and ThreadRunner, called through httpx's ASGI transport, with
a stand-in for the model (real decoding and rendering, a drawn alpha).

    async with serving(tmp_path, rate_per_minute=3) as app:
        key = app.create_key(credits=1)
        resp = await app.post(key, image=jpeg)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from humancut import Settings, imageops
from humancut.api import ROUTE, create_app
from humancut.remover import Cut, Job
from humancut.runner import ThreadRunner
from humancut.store import KeyStore


def ellipse(shape: tuple[int, ...]) -> np.ndarray:
    """An opaque ellipse filling the middle of the frame, soft at its rim."""
    h, w = shape[:2]
    y, x = np.ogrid[:h, :w]
    r = ((y - h / 2) / (h / 2.5)) ** 2 + ((x - w / 2) / (w / 3.5)) ** 2
    return np.clip((1.2 - r) * 5, 0, 1).astype(np.float32)


class FakeRemover:
    """What ThreadRunner needs of a Remover, without the model: decodes with the real
    imageops (so every input error is the real one), then renders an ellipse alpha."""

    loaded = True
    model = None

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def run(self, job: Job) -> Cut:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        rgb = imageops.to_rgb(imageops.decode(job.data, max_side=job.max_side))
        out = imageops.render(rgb, ellipse(rgb.shape), None, job.form)
        return Cut(imageops.encode_png(out), out.width, out.height, {"model_ms": 0.0})


@dataclass
class InProcess:
    app: FastAPI
    client: httpx.AsyncClient
    remover: FakeRemover

    @property
    def settings(self) -> Settings:
        return self.app.state.service.settings

    @property
    def keys(self) -> KeyStore:
        return self.app.state.service.keys

    def create_key(self, credits: int | None = None, **limits: int | None) -> str:
        return self.keys.create("test", credits, **limits)[1]

    def credits(self, key: str) -> int | None:
        return self.keys.get(key.split("_")[1]).credits  # type: ignore[union-attr]

    async def post(self, key: str | None, image: bytes | None = None, name: str = "a.jpg",
                   form: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"ailabapi-api-key": key} if key is not None else {}
        files = {"image": (name, image)} if image is not None else None
        data = {"return_form": form} if form is not None else None
        if files is None and data is None and "content" not in kw:
            data = {"other": "x"}  # still multipart
        return await self.client.post(ROUTE, headers=headers | kw.pop("headers", {}),
                                      files=files, data=data, **kw)


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, *, delay: float = 0.0,
                  **settings: Any) -> AsyncIterator[InProcess]:
    """The app on SQLite + files under tmp_path, its lifespan running (trial key, sweeper)."""
    s = Settings(data_dir=tmp_path / "data", **settings)
    remover = FakeRemover(delay)
    runner = ThreadRunner(remover, workers=s.workers, queue_size=s.queue_size,  # type: ignore[arg-type]
                          timeout=s.request_timeout)
    app = create_app(s, runner=runner)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     timeout=30) as client:
            yield InProcess(app, client, remover)
