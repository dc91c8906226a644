"""The one way every SCIS service app is built: lifespan, middleware, health, error handlers.

Errors live in scis.core.errors and the /api router in scis.core.routers; the names are re-exported
here for code that still imports them from this module.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from scis import __version__
from scis.core import bus
from scis.core.db import open_pool
from scis.core.discovery import make_discovery
from scis.core.docs import openapi_url, serve_api_docs

# Re-exported while other branches still import them from here (errors and routers moved out).
from scis.core.errors import (  # noqa: F401
    ErrorDetail,
    InvalidRequest,
    ValidationFailure,
    ValidationProblem,
    error_responses,
    install_error_handlers,
    validation_failure,
)
from scis.core.health import health_router, metrics_router
from scis.core.observability import RequestContextMiddleware
from scis.core.origin import CookieWriteOriginMiddleware
from scis.core.peers import PeerClient
from scis.core.routers import api_router  # noqa: F401 - re-exported, see above
from scis.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

Hook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    service: str,
    *,
    routers: Sequence[APIRouter],
    description: str,
    settings: Settings | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("SCIS_DATABASE_URL and SCIS_REDIS_URL must be set to serve a service")
        app.state.pool = open_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        # Not waiting lets the service start while PostgreSQL is still coming up; /readyz says when.
        await app.state.pool.open(wait=False)
        app.state.redis = bus.connect(settings.redis_url)
        app.state.discovery = make_discovery(settings)
        app.state.peers = PeerClient(app.state.discovery)
        try:
            await app.state.discovery.register(service, settings.port_of(service))
        except Exception as error:  # noqa: BLE001 - a missing agent must not stop the service
            log.warning("could not register with discovery: %s", error)
        for hook in on_startup:
            await hook(app)
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            try:
                await app.state.discovery.deregister(service)
            except Exception as error:  # noqa: BLE001
                log.warning("could not deregister from discovery: %s", error)
            await app.state.discovery.close()
            await app.state.peers.close()
            await app.state.redis.aclose()
            await app.state.pool.close()

    app = FastAPI(
        title=f"SCIS {service}",
        description=description,
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        openapi_url=openapi_url(service) if settings.api_docs_enabled else None,
        redoc_url=None,
    )
    if settings.api_docs_enabled:
        serve_api_docs(app, service)
    app.state.settings = settings
    app.state.service = service
    app.add_middleware(CookieWriteOriginMiddleware, allowed_origins=settings.allowed_origins)
    app.add_middleware(RequestContextMiddleware, service=service, trusted_proxies=settings.trusted_proxy_networks)
    install_error_handlers(app)
    app.include_router(health_router(service))
    app.include_router(health_router(service, prefix=f"/api/{service}"), include_in_schema=False)
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    return app
