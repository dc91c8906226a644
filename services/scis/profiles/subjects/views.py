"""Subject routes, served by the profiles service under /api/profiles/subjects."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, Path, Query, status

from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import CurrentUser, Db
from scis.core.fields import BIGINT_MAX, RowId
from scis.profiles.subjects import service
from scis.profiles.subjects.models import SubjectRead, TimelinePage

router = api_router("profiles")

# The kinds a user's record can have (docs/events.md); chain records carry no user.
USER_EVENT_KINDS = frozenset(
    {"chat", "gift", "gift_update", "like", "join", "follow", "share", "control", "pin", "emote", "unknown"}
)


def _not_found(subject_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no subject with id {subject_id} in the lives you may see")


@router.get(
    "/subjects/by-user-id/{tiktok_user_id}",
    response_model=SubjectRead,
    tags=["subjects"],
    summary="The subject with this TikTok numeric user id",
    responses=error_responses(404),
)
async def get_subject_by_user_id(
    db: Db, user: CurrentUser, tiktok_user_id: int = Path(..., ge=1, le=BIGINT_MAX)
) -> SubjectRead:
    subject_id = await service.subject_id_for_user(db, tiktok_user_id=tiktok_user_id)
    subject = None if subject_id is None else await service.get_subject(db, user=user, subject_id=subject_id)
    if subject is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no subject with TikTok user id {tiktok_user_id} seen")
    return subject


@router.get(
    "/subjects/{subject_id}",
    response_model=SubjectRead,
    tags=["subjects"],
    summary="A subject: handles and nicknames over time, lives, counters",
    responses=error_responses(404),
)
async def get_subject(subject_id: RowId, db: Db, user: CurrentUser) -> SubjectRead:
    subject = await service.get_subject(db, user=user, subject_id=subject_id)
    if subject is None:
        raise _not_found(subject_id)
    return subject


@router.get(
    "/subjects/{subject_id}/timeline",
    response_model=TimelinePage,
    tags=["subjects"],
    summary="Every record of a subject across lives, oldest first, each with its session and seq",
    responses=error_responses(404),
)
async def get_timeline(
    subject_id: RowId,
    db: Db,
    user: CurrentUser,
    kind: list[str] | None = Query(None, description="keep only these event kinds (repeatable)"),
    since: datetime | None = Query(None, description="captured at or after (ISO 8601 with time zone)"),
    until: datetime | None = Query(None, description="captured before (ISO 8601 with time zone)"),
    after: str | None = Query(None, max_length=200, description="`next_cursor` of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> TimelinePage:
    for index, value in enumerate(kind or []):
        if value not in USER_EVENT_KINDS:
            raise InvalidRequest(f"kind[{index}]", value, f"unknown event kind; one of {sorted(USER_EVENT_KINDS)}")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidRequest(name, moment.isoformat(), "give a time zone, e.g. 2025-06-01T20:00:00Z")
    try:
        page = await service.timeline(
            db, user=user, subject_id=subject_id, kinds=kind, since=since, until=until, after=after, limit=limit
        )
    except service.BadCursor as error:
        raise InvalidRequest("after", after, str(error)) from None
    if page is None:
        raise _not_found(subject_id)
    return page
