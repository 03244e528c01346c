"""Fixtures of the in-process API tests (httpx's ASGI transport on anyio)."""

from __future__ import annotations

import pytest

from tests.support.images import encode


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def jpeg(astronaut) -> bytes:
    """A small portrait: the calls test the flow, not the model."""
    return encode(astronaut.resize((128, 128)), "JPEG", quality=90)
