"""The frontend server (3000): static files of the web UI, plus health routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from scis import __version__
from scis.core.observability import RequestContextMiddleware

STATIC_DIR = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(title="SCIS frontend", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestContextMiddleware, service="frontend")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "frontend"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready", "service": "frontend"}

    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
