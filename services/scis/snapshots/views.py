"""Snapshot routes, served by the lives service: mark a moment, list a session's or a case's bookmarks."""

from __future__ import annotations

from uuid import UUID

from fastapi import HTTPException, Path, Response, status

from scis.core import cases
from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import AppSettings, CurrentUser, Db, Investigator
from scis.core.fields import BIGINT_MAX
from scis.lives.views import visible_session
from scis.snapshots import service
from scis.snapshots.models import SnapshotCreate, SnapshotRead

router = api_router("lives")


@router.post(
    "/lives/{session_id}/snapshots",
    response_model=SnapshotRead,
    status_code=status.HTTP_201_CREATED,
    tags=["snapshots"],
    summary="Mark this moment: the live's still frame and the records around it become a hashed bookmark",
    responses=error_responses(404, 409),
)
async def mark_moment(
    session_id: UUID, body: SnapshotCreate, db: Db, user: Investigator, settings: AppSettings
) -> SnapshotRead:
    session = await visible_session(db, user, session_id)
    try:
        return await service.mark(
            db, session, note=body.note, at=body.at, seconds_around=body.seconds_around, created_by=user.username,
            settings=settings,
        )  # fmt: skip
    except service.NotInACase as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except service.MomentOutsideSession as error:
        raise InvalidRequest("at", body.at.isoformat() if body.at else None, str(error)) from None


@router.get(
    "/lives/{session_id}/snapshots",
    response_model=list[SnapshotRead],
    tags=["snapshots"],
    summary="The moments marked in this live, oldest first",
    responses=error_responses(404),
)
async def session_snapshots(session_id: UUID, db: Db, user: CurrentUser) -> list[SnapshotRead]:
    await visible_session(db, user, session_id)
    return await service.list_snapshots(db, session_id=session_id)


@router.get(
    "/lives/{session_id}/snapshots/{snapshot_id}/frame",
    response_class=Response,
    tags=["snapshots"],
    summary="The still frame of a marked moment (JPEG)",
    responses={**error_responses(404), 200: {"content": {"image/jpeg": {}}}},
)
async def snapshot_frame(
    session_id: UUID, db: Db, user: CurrentUser, snapshot_id: int = Path(ge=1, le=BIGINT_MAX)
) -> Response:
    await visible_session(db, user, session_id)
    jpeg = await service.frame_of(db, session_id=session_id, snapshot_id=snapshot_id)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"snapshot {snapshot_id} of {session_id} has no frame")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/cases/{case_id}/snapshots",
    response_model=list[SnapshotRead],
    tags=["snapshots"],
    summary="Every moment marked in the case's lives, oldest first",
    responses=error_responses(404),
)
async def case_snapshots(db: Db, user: CurrentUser, case_id: int = Path(ge=1, le=BIGINT_MAX)) -> list[SnapshotRead]:
    try:
        await cases.require_member(db, user=user, case_id=case_id)
    except cases.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return await service.list_snapshots(db, case_id=case_id)
