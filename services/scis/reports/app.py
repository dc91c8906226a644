"""The reports service (3007): report jobs, run by a worker in each replica, and their PDFs."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings, get_settings
from scis.evidence.media import media_store
from scis.reports import service
from scis.reports.jobs import Worker, WorkerConfig
from scis.reports.views import router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def start_worker(app: FastAPI) -> None:
        app.state.report_worker = None
        if settings.report_workers:
            await asyncio.to_thread(service.warm_up)  # WeasyPrint and fonts loaded now, not in the first job
            config = WorkerConfig(
                heartbeat_seconds=settings.report_job_heartbeat_seconds,
                stale_seconds=settings.report_job_stale_seconds,
                max_attempts=settings.report_job_max_attempts,
                media=media_store(settings),  # exports copy the cases' video into the archive
            )
            app.state.report_worker = Worker(app.state.pool, config, slots=settings.report_workers,
                                             redis=app.state.redis)  # fmt: skip
            app.state.report_worker.start()

    async def stop_worker(app: FastAPI) -> None:
        if app.state.report_worker is not None:
            await app.state.report_worker.stop()

    return create_service_app(
        "reports",
        settings=settings,
        description="PDF case and subject reports from templates, produced as jobs with progress.",
        routers=[router],
        on_startup=[start_worker],
        on_shutdown=[stop_worker],
    )
