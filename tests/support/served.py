"""A service over real HTTP on a free loopback port (uvicorn, lifespan run), for as long as a test needs
it: Socket.IO and WebSocket clients, and other services' replicas, need a real one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.serve import load_app

SHUTDOWN_SECONDS = 120


@contextlib.asynccontextmanager
async def served(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` until the block ends (lifespan shutdown included); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        assert not task.done(), "the app stopped while starting"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        # The lifespan shutdown stops what the app runs (an analyser's captures): one that never stops
        # must fail the test here, not hang the suite.
        done, _ = await asyncio.wait([task], timeout=SHUTDOWN_SECONDS)
        if not done:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            pytest.fail(f"the app's shutdown did not finish in {SHUTDOWN_SECONDS} s")
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def served_service(service: str, settings: Settings) -> AsyncIterator[str]:
    """A SCIS service by name (its port setting set to the free port it got); yields its base URL."""
    port = free_port()
    async with served(load_app(service, settings.model_copy(update={f"{service}_port": port})), port) as url:
        yield url
