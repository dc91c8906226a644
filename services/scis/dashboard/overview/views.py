"""Overview route."""

from __future__ import annotations

from fastapi import Request

from scis.core.app import api_router
from scis.core.deps import Db
from scis.dashboard.overview import service
from scis.dashboard.overview.models import Overview

router = api_router("dashboard")


@router.get("/overview", response_model=Overview, tags=["overview"], summary="Health of every service and key figures")
async def overview(request: Request, db: Db) -> Overview:
    services = await service.probe_all(request.app.state.peers)
    return Overview(services=services, figures=await service.key_figures(db))
