"""The database explorer service (3006)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI
from psycopg import AsyncConnection

from scis.core.app import create_service_app
from scis.core.db import open_pool
from scis.core.settings import Settings, get_settings
from scis.database.service import follow_cancels
from scis.database.views import router

EXPLORER_POOL_MAX = 4
# DISCARD ALL drops server-side prepared statements psycopg would otherwise still use.
EXPLORER_CONNECTION_OPTIONS = {"prepare_threshold": None}


async def reset_explorer_connection(conn: AsyncConnection[Any]) -> None:
    """Before a connection serves the next query: no advisory lock, setting, cursor or LISTEN survives."""
    await conn.execute("DISCARD ALL")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def open_explorer_pool(app: FastAPI) -> None:
        # The explorer's own pool and credentials (scis_explorer): never the services' role.
        app.state.explorer_pool = None
        if settings.explorer_database_url:
            pool = open_pool(
                settings.explorer_database_url,
                min_size=1,
                max_size=EXPLORER_POOL_MAX,
                name="scis-explorer",
                reset=reset_explorer_connection,
                connection_options=EXPLORER_CONNECTION_OPTIONS,
            )
            await pool.open(wait=False)
            app.state.explorer_pool = pool

        # Cancels asked of another replica reach the one running the query.
        app.state.cancel_listener = asyncio.create_task(follow_cancels(settings.redis_url or ""))

    async def close_explorer_pool(app: FastAPI) -> None:
        app.state.cancel_listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app.state.cancel_listener
        if app.state.explorer_pool is not None:
            await app.state.explorer_pool.close()

    return create_service_app(
        "database",
        settings=settings,
        description="SQL explorer: parsed, read-only, time- and row-limited queries on the explorer views.",
        routers=[router],
        on_startup=[open_explorer_pool],
        on_shutdown=[close_explorer_pool],
    )
