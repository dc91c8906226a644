"""The profiles service (3003): profiles, and the subjects it folds from the evidence as lives run."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.settings import Settings
from scis.profiles.search.views import router as search_router
from scis.profiles.subjects.enricher import SubjectEnricher
from scis.profiles.subjects.views import router as subjects_router
from scis.profiles.views import router
from scis.profiles.watch.views import router as watch_router


async def start_enricher(app: FastAPI) -> None:
    app.state.subject_enricher = SubjectEnricher(app.state.pool, app.state.redis)
    app.state.subject_enricher.start()


async def stop_enricher(app: FastAPI) -> None:
    await app.state.subject_enricher.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "profiles",
        settings=settings,
        description="Forensic profiles of the people seen, and the subjects folded from captured evidence.",
        routers=[router, subjects_router, watch_router, search_router],
        on_startup=[start_enricher],
        on_shutdown=[stop_enricher],
    )
