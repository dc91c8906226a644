"""Analyser routes: capture sessions."""

from __future__ import annotations

from fastapi import Query

from scis.core.app import api_router
from scis.core.deps import Db
from scis.lives import service as sessions
from scis.lives.models import LiveSessionRead

router = api_router("analyser")


@router.get("/sessions", response_model=list[LiveSessionRead], tags=["sessions"], summary="Capture sessions")
async def list_sessions(
    db: Db, case_id: int | None = Query(None, ge=1), active: bool = False, limit: int = Query(100, ge=1, le=1000)
) -> list[LiveSessionRead]:
    return await sessions.list_sessions(db, active_only=active, case_id=case_id, limit=limit)
