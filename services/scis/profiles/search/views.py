"""The full-text search route."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import Query

from scis.core.app import api_router
from scis.core.deps import CurrentUser, Db
from scis.core.fields import BIGINT_MAX, Text
from scis.profiles.search import service
from scis.profiles.search.models import EventSearchPage

router = api_router("profiles")


@router.get(
    "/search/events",
    response_model=EventSearchPage,
    tags=["search"],
    summary="Full-text search over every captured chat line, handle and nickname you may see",
)
async def search_events(
    db: Db,
    user: CurrentUser,
    q: Text = Query(..., min_length=1, max_length=200,
                    description='words (all must match), "a phrase", -excluded, or; accents and case ignored'),
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    session_id: UUID | None = Query(None),
    user_id: int | None = Query(None, ge=1, le=BIGINT_MAX, description="TikTok's numeric user id"),
    since: datetime | None = Query(None, description="captured at or after"),
    until: datetime | None = Query(None, description="captured before"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000),
    around: int = Query(0, ge=0, le=10, description="also give this many records before and after each hit"),
) -> EventSearchPage:  # fmt: skip
    return await service.search_events(
        db, user=user, q=q, case_id=case_id, session_id=session_id, user_id=user_id, since=since, until=until,
        limit=limit, offset=offset, around=around,
    )  # fmt: skip
