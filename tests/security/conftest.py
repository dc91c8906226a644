"""The attack suite reuses the service fixtures: every app with its real lifespan, real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from scis.core.db import open_pool
from scis.database.app import EXPLORER_CONNECTION_OPTIONS, reset_explorer_connection
from tests.services.conftest import accounts, apps, clients, settings, tokens  # noqa: F401


@pytest.fixture
async def explorer_pool(explorer_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """The explorer's own pool, configured as the database service configures it, with one connection:
    each query is sure to reuse the session the previous one left behind."""
    pool = open_pool(
        explorer_url,
        min_size=1,
        max_size=1,
        name="test-explorer",
        reset=reset_explorer_connection,
        connection_options=EXPLORER_CONNECTION_OPTIONS,
    )
    await pool.open(wait=True, timeout=30)
    yield pool
    await pool.close()
