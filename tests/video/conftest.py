from __future__ import annotations

from typing import Any

import pytest

from humancut import Settings
from humancut.video import video_session


@pytest.fixture(scope="session")
def session(settings: Settings) -> Any:
    """One RVM session for every video test (the real model)."""
    return video_session(settings)
