"""The analyser service (3002)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.analyser.views import router
from scis.core.app import create_service_app
from scis.core.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "analyser",
        settings=settings,
        description="Real-time capture of TikTok lives and Socket.IO fan-out.",
        routers=[router],
    )
