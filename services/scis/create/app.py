"""The create service (3005)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.create.views import router


def create_app() -> FastAPI:
    return create_service_app(
        "create", description="Profile creation wizard: validation, then creation via the profiles service.",
        routers=[router],
    )
