"""Ray's settings, for this folder's tests only: loopback only, no token auth, no usage stats.
Set before `ray` is first imported (the tests import it inside, after this fixture: Ray reads
some of them at import) and restored afterwards; the servers and jobs these tests start
inherit them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="package", autouse=True)
def ray_env() -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in RAY_ENV.items():
            patch.setenv(name, value)
        yield RAY_ENV
