"""The profiles service (3003)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.profiles.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "profiles",
        settings=settings,
        description="Forensic profiles of the people seen: CRUD, validation, Redis cache.",
        routers=[router],
    )
