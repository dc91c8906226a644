"""The database explorer service (3006)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.database.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "database",
        settings=settings,
        description="SQL explorer: sanitised, read-only, time- and row-limited queries.",
        routers=[router],
    )
