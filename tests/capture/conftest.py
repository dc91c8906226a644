from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, opened_pool


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return capture_settings(tmp_path)


@pytest.fixture
async def pool(postgres_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with opened_pool(postgres_url) as opened:
        yield opened


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
