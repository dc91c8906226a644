"""Live routes."""

from __future__ import annotations

from uuid import UUID

from fastapi import HTTPException, Query, status

from scis.core.app import api_router, error_responses
from scis.core.deps import CurrentUser, Db
from scis.core.fields import BIGINT_MAX
from scis.lives import service
from scis.lives.models import LiveSessionRead

router = api_router("lives")


@router.get("/lives", response_model=list[LiveSessionRead], tags=["lives"], summary="Lives being captured now")
async def active_lives(
    db: Db, user: CurrentUser, case_id: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> list[LiveSessionRead]:
    return await service.list_sessions(db, user=user, active_only=True, case_id=case_id)


@router.get(
    "/lives/{session_id}",
    response_model=LiveSessionRead,
    tags=["lives"],
    summary="One live session",
    responses=error_responses(404),
)
async def get_live(session_id: UUID, db: Db, user: CurrentUser) -> LiveSessionRead:
    found = await service.get_session(db, user=user, session_id=session_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live session {session_id}")
    return found
