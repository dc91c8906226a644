"""A SCIS service served over real HTTP (uvicorn, its lifespan run) for as long as a test needs it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.serve import load_app


@contextlib.asynccontextmanager
async def served(service: str, settings: Settings) -> AsyncIterator[str]:
    """The service's base URL on a free port; stopped (lifespan shutdown included) on leaving."""
    port = free_port()
    app = load_app(service, settings.model_copy(update={f"{service}_port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        assert not task.done(), f"the {service} service stopped while starting"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
