"""The lives service (3004)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings, get_settings
from scis.lives import metrics
from scis.lives.push import LivesPush
from scis.lives.views import router
from scis.lives.webrtc import Viewers
from scis.snapshots.views import router as snapshots_router


def create_app(settings: Settings | None = None) -> FastAPI:
    ice_servers = [url.strip() for url in (settings or get_settings()).webrtc_ice_servers.split(",") if url.strip()]

    async def open_viewers(app: FastAPI) -> None:
        app.state.viewers = Viewers(ice_servers)
        await app.state.lives_push.start()

    async def close_viewers(app: FastAPI) -> None:
        await app.state.lives_push.stop()
        await app.state.viewers.close()

    app = create_service_app(
        "lives",
        settings=settings,
        description="Active lives, their video (WebRTC) and live updates.",
        routers=[router, snapshots_router],
        on_startup=[metrics.register, open_viewers],
        on_shutdown=[close_viewers],
    )
    app.state.lives_push = LivesPush(app, settings or get_settings())
    app.state.lives_push.mount()
    return app
