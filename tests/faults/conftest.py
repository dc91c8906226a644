"""The fault suite reuses the capture tests' fixtures (simulator, pool, Redis client, settings), and
kills any capture process a failing test left running."""

from collections.abc import AsyncIterator

import pytest

from tests.capture.conftest import pool, redis_client, settings, sim
from tests.faults.support import kill_leftovers

__all__ = ["pool", "redis_client", "settings", "sim"]


@pytest.fixture(autouse=True)
async def no_process_left_behind() -> AsyncIterator[None]:
    yield
    await kill_leftovers()
