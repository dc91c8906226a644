"""The reports service (3007)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.reports.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "reports", settings=settings, description="PDF case reports from templates.", routers=[router]
    )
