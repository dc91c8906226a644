"""The dashboard service (3001)."""

from __future__ import annotations

from fastapi import FastAPI

from scis.core.app import create_service_app
from scis.core.audit.views import router as audit_router
from scis.core.auth.views import public as auth_public
from scis.core.auth.views import signed_in as auth_signed_in
from scis.core.settings import Settings
from scis.dashboard.cases.views import router as cases_router
from scis.dashboard.overview.views import router as overview_router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "dashboard",
        settings=settings,
        description="Hub: navigation, health of every service, key figures, cases, accounts and the audit log.",
        routers=[auth_public, auth_signed_in, overview_router, cases_router, audit_router],
    )
