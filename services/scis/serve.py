"""`scis serve NAME`: one service in this process, as in its container."""

from __future__ import annotations

import importlib

import uvicorn
from fastapi import FastAPI

from scis.core.observability import configure_logging
from scis.core.settings import SERVICE_NAMES, Settings
from scis.embedded.ports import require_free


class ServeError(Exception):
    pass


def load_app(service: str, settings: Settings | None = None) -> FastAPI:
    if service not in SERVICE_NAMES:
        raise ServeError(f"unknown service {service!r}; choose one of: {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"scis.{service}.app")
    return module.create_app(settings)  # type: ignore[no-any-return]


def serve(service: str, settings: Settings) -> int:
    if service != "frontend" and not (settings.database_url and settings.redis_url):
        raise ServeError("SCIS_DATABASE_URL and SCIS_REDIS_URL must be set (or use `scis up`, which sets them)")
    port = settings.port_of(service)
    require_free(port, f"SCIS_{service.upper()}_PORT", settings.host)
    configure_logging(service, settings.log_level)
    app = load_app(service, settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
        ws_ping_interval=20,
    )
    return 0
