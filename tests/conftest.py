from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from humancut import Remover, Settings
from humancut.bench import photos
from server import Server, start

# The astronaut ships inside the package (the bench generates its sizes from it): one copy.
ASTRONAUT = Path(str(photos.ASTRONAUT))
FIXTURES = ASTRONAUT.parent
SHARED_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(threads=2)


@pytest.fixture(scope="session")
def remover(settings: Settings) -> Remover:
    """The real model, loaded once for the whole run."""
    r = Remover(settings)
    r.model  # noqa: B018 - fail here, clearly, if the model file is missing
    return r


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `humancut serve` on a free loopback port, one per test module."""
    s = start(tmp_path_factory.mktemp("server"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.create_key()


@pytest.fixture(scope="session")
def astronaut_bytes() -> bytes:
    return ASTRONAUT.read_bytes()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def landscape(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo with no person in it: a smooth sky-to-grass gradient."""
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    sky, grass = np.array([120, 170, 230]), np.array([60, 140, 50])
    rows = (sky * (1 - y) + grass * y).astype(np.uint8)
    return Image.fromarray(np.broadcast_to(rows, (h, w, 3)).copy())


# ---- real backing services (tests/services.py), one of each per run --------------------

def _service(kind: str, make):  # noqa: ANN001, ANN202 - a fixture body
    import services

    why = services.missing(kind)
    if why:
        pytest.skip(why)
    svc = make()
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    import services

    yield from _service("postgres", services.Postgres)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    import services

    yield from _service("redis", lambda: services.Redis().start())


@pytest.fixture(scope="session")
def moto() -> Iterator[object]:
    import services

    yield from _service("moto", lambda: services.Moto().start())


@pytest.fixture(scope="session")
def s3rver() -> Iterator[object]:
    import services

    yield from _service("s3rver", lambda: services.S3rver("humancut-expiry").start())
