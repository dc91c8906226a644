"""The create service (3005)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.create.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "create",
        settings=settings,
        description="Profile creation wizard: validation, then creation via the profiles service.",
        routers=[router],
    )
