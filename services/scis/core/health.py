"""Liveness, readiness and metrics routes every service exposes outside authentication."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scis.core.db import schema_status

READY_TIMEOUT_SECONDS = 2.0
log = logging.getLogger(__name__)


async def dependency_status(request: Request) -> dict[str, str]:
    """'ok' or the reason for each dependency this service needs."""
    checks: dict[str, str] = {}
    state = request.app.state
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with state.pool.connection() as conn:
                await conn.execute("SELECT 1")
                checks["postgres"] = "ok"
                # Not ready until the migration Job brought the schema to what this code needs.
                checks["schema"] = await schema_status(conn)
    except Exception as error:  # noqa: BLE001 - any failure means not ready, and says why
        reason = f"unavailable: {type(error).__name__}: {error}"[:200]
        checks["schema" if "postgres" in checks else "postgres"] = reason
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["redis"] = f"unavailable: {type(error).__name__}: {error}"[:200]
    return checks


def health_router(service: str, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="PostgreSQL and Redis answer", responses={503: {"description": "Not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        checks = await dependency_status(request)
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not ready", "service": service, "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    return router


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        # Gauges read from the store (app.state.metrics_refreshers) are brought up to date first.
        for refresh in getattr(request.app.state, "metrics_refreshers", ()):
            try:
                async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                    await refresh(request.app)
            except Exception as error:  # noqa: BLE001 - stale gauges beat a failed scrape
                log.warning("could not refresh metrics with %s: %s", getattr(refresh, "__qualname__", refresh), error)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
