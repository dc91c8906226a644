"""The lives service (3004)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.lives import metrics
from scis.lives.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "lives",
        settings=settings,
        description="Active lives, their video and live updates.",
        routers=[router],
        on_startup=[metrics.register],
    )
