"""The analyser service (3002)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.analyser.views import router
from scis.core.app import create_service_app


def create_app() -> FastAPI:
    return create_service_app(
        "analyser", description="Real-time capture of TikTok lives and Socket.IO fan-out.", routers=[router]
    )
