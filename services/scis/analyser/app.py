"""The analyser service (3002): captures lives in-process and fans their events out over Socket.IO."""

from __future__ import annotations

from fastapi import FastAPI

from scis.analyser.captures import CaptureManager
from scis.analyser.live_socket import mount_live_socket
from scis.analyser.runners import InProcessRunner, KubernetesRunner
from scis.analyser.views import router
from scis.capture.adoption import Reaper
from scis.capture.runner import tune_gc
from scis.core.app import create_service_app
from scis.core.settings import CaptureRunner, Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def start_capture(app: FastAPI) -> None:
        tune_gc()
        if settings.capture_runner is CaptureRunner.kubernetes:
            app.state.captures = KubernetesRunner()
        else:
            manager = CaptureManager(pool=app.state.pool, settings=settings, redis=app.state.redis)
            app.state.captures = InProcessRunner(manager)
        app.state.reaper = Reaper(app.state.pool, settings, by="analyser reaper", redis=app.state.redis)
        app.state.reaper.start()
        await app.state.fanout.start()
        await app.state.case_alerts.start()
        await app.state.socket_guard.start()

    async def stop_capture(app: FastAPI) -> None:
        # Every running capture is flushed and sealed before the process goes.
        await app.state.reaper.stop()
        await app.state.captures.close()
        await app.state.fanout.stop()
        await app.state.case_alerts.stop()
        await app.state.socket_guard.stop()

    app = create_service_app(
        "analyser",
        settings=settings,
        description="Real-time capture of TikTok lives and Socket.IO fan-out.",
        routers=[router],
        on_startup=[start_capture],
        on_shutdown=[stop_capture],
    )
    app.state.fanout = mount_live_socket(app, settings)
    return app
