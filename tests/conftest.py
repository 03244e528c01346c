from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from humancut import Remover, Settings
from tests.support import services
from tests.support.images import ASTRONAUT
from tests.support.server import Server, start


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


# ---- real backing services (tests/support/services.py), one of each per run --------------------

def _service(kind: str, make):  # noqa: ANN001, ANN202 - a fixture body
    why = services.missing(kind)
    if why:
        pytest.skip(why)
    svc = make()
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    yield from _service("postgres", services.Postgres)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    yield from _service("redis", lambda: services.Redis().start())


@pytest.fixture(scope="session")
def moto() -> Iterator[object]:
    yield from _service("moto", lambda: services.Moto().start())


@pytest.fixture(scope="session")
def s3rver() -> Iterator[object]:
    yield from _service("s3rver", lambda: services.S3rver("humancut-expiry").start())
