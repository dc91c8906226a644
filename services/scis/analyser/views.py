"""Analyser routes: start and stop monitoring, follow monitors, read and verify a live's evidence."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import HTTPException, Query, Request, status

from scis.analyser import service
from scis.analyser.captures import MonitorExists, MonitorNotFound
from scis.analyser.models import EventPage, GapRead, MonitorCreate, MonitorRead, VerifyResult
from scis.analyser.runners import MonitorRunner, UnsupportedMonitor
from scis.core import cases
from scis.core.deps import Audit, CurrentUser, Db, Investigator
from scis.core.errors import InvalidRequest, error_responses
from scis.core.fields import BIGINT_MAX, Text
from scis.core.routers import api_router
from scis.lives import service as sessions
from scis.lives.models import LiveSessionRead

router = api_router("analyser")


def runner(request: Request) -> MonitorRunner:
    return request.app.state.captures  # type: ignore[no-any-return]


async def may_see_monitor(db: Db, user: CurrentUser, monitor: MonitorRead) -> bool:
    if monitor.case_id is not None:
        return await cases.may_see(db, user=user, case_id=monitor.case_id, owner=None)
    return await cases.may_see_session(db, user=user, session_id=monitor.session_id)


async def visible_monitor(request: Request, db: Db, user: CurrentUser, session_id: UUID) -> MonitorRead:
    """The monitor when the caller may see it; 404 alike for a missing one and one of another case."""
    try:
        monitor = await runner(request).get(session_id)
    except MonitorNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    if not await may_see_monitor(db, user, monitor):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no capture with session id {session_id} in this analyser")
    return monitor


async def require_session(db: Db, user: CurrentUser, session_id: UUID) -> None:
    if not await cases.may_see_session(db, user=user, session_id=session_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live session {session_id}")


@router.post(
    "/monitors",
    response_model=MonitorRead,
    status_code=201,
    tags=["monitors"],
    summary="Start monitoring a live",
    responses=error_responses(403, 409),
)
async def start_monitor(
    body: MonitorCreate, request: Request, db: Db, user: Investigator, context: Audit
) -> MonitorRead:
    try:
        return await service.start_monitor(
            db, runner(request), body, username=user.username, context=context, pool=request.app.state.pool
        )
    except service.UnknownCase:
        raise InvalidRequest("case_id", body.case_id, cases.UNKNOWN_CASE_PROBLEM) from None
    except UnsupportedMonitor as error:
        raise InvalidRequest(error.field, error.value, error.problem) from None
    except MonitorExists as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("/monitors", response_model=list[MonitorRead], tags=["monitors"], summary="Captures run by this analyser")
async def list_monitors(request: Request, db: Db, user: CurrentUser, active: bool = False) -> list[MonitorRead]:
    return [m for m in await runner(request).list(active_only=active) if await may_see_monitor(db, user, m)]


@router.get(
    "/monitors/{session_id}",
    response_model=MonitorRead,
    tags=["monitors"],
    summary="One capture's counters",
    responses=error_responses(404),
)
async def get_monitor(session_id: UUID, request: Request, db: Db, user: CurrentUser) -> MonitorRead:
    return await visible_monitor(request, db, user, session_id)


@router.delete(
    "/monitors/{session_id}",
    response_model=MonitorRead,
    tags=["monitors"],
    summary="Stop a capture: stored, sealed, then answered",
    responses=error_responses(403, 404),
)
async def stop_monitor(session_id: UUID, request: Request, db: Db, user: Investigator, context: Audit) -> MonitorRead:
    await visible_monitor(request, db, user, session_id)
    try:
        return await service.stop_monitor(db, runner(request), session_id, context=context, pool=request.app.state.pool)
    except MonitorNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/sessions", response_model=list[LiveSessionRead], tags=["sessions"], summary="Capture sessions")
async def list_sessions(
    db: Db,
    user: CurrentUser,
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    active: bool = False,
    limit: int = Query(100, ge=1, le=1000),
) -> list[LiveSessionRead]:
    return await sessions.list_sessions(db, user=user, active_only=active, case_id=case_id, limit=limit)


@router.get(
    "/sessions/{session_id}/events",
    response_model=EventPage,
    tags=["sessions"],
    summary="A live's stored events in chain order, paged",
    responses=error_responses(404),
)
async def list_events(
    session_id: UUID,
    db: Db,
    user: CurrentUser,
    kind: list[Text] | None = Query(None, description="chat, gift, like, join, follow, share, viewers, …"),
    user_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = Query(None, ge=-1, le=BIGINT_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> EventPage:
    await require_session(db, user, session_id)
    return await service.list_events(
        db, session_id, kinds=kind, user_id=user_id, since=since, until=until, limit=limit, after_seq=after_seq
    )


@router.get(
    "/sessions/{session_id}/gaps",
    response_model=list[GapRead],
    tags=["sessions"],
    summary="A live's capture gaps, each open, partly or completely filled by re-sent messages",
    responses=error_responses(404),
)
async def list_gaps(session_id: UUID, db: Db, user: CurrentUser) -> list[GapRead]:
    await require_session(db, user, session_id)
    return await service.list_gaps(db, session_id)


@router.get(
    "/sessions/{session_id}/verify",
    response_model=VerifyResult,
    tags=["sessions"],
    summary="Recompute the session's hash chain; names the first event that does not match",
    responses=error_responses(404),
)
async def verify_session(session_id: UUID, db: Db, user: CurrentUser) -> VerifyResult:
    await require_session(db, user, session_id)
    try:
        return await service.verify(db, session_id)
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
