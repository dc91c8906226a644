"""Analyser routes: start and stop monitoring, follow monitors, read and verify a live's evidence."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import HTTPException, Query, Request, status

from scis.analyser.runners import MonitorRunner, UnsupportedMonitor
from scis.capture import service as capture
from scis.capture.models import EventPage, MonitorCreate, MonitorRead, VerifyResult
from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import Audit, Db, Investigator
from scis.core.fields import BIGINT_MAX, Text
from scis.lives import service as sessions
from scis.lives.models import LiveSessionRead

router = api_router("analyser")


def runner(request: Request) -> MonitorRunner:
    return request.app.state.captures  # type: ignore[no-any-return]


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
    cur = await db.execute("SELECT 1 FROM cases WHERE id = %s", (body.case_id,)) if body.case_id else None
    if cur is not None and await cur.fetchone() is None:
        raise InvalidRequest("case_id", body.case_id, "no such case; create the case first")
    try:
        started = await runner(request).start(body, created_by=user.username)
    except UnsupportedMonitor as error:
        raise InvalidRequest(error.field, error.value, error.problem) from None
    except capture.MonitorExists as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    # The capture runs now: its start is audited even if this request's connection broke meanwhile.
    await capture.audit_done(
        db, request.app.state.pool, context, action="monitor.start", target=f"session:{started.session_id}",
        details={"target": started.target, "source": started.source, "case_id": started.case_id},
    )  # fmt: skip
    return started


@router.get("/monitors", response_model=list[MonitorRead], tags=["monitors"], summary="Captures run by this analyser")
async def list_monitors(request: Request, active: bool = False) -> list[MonitorRead]:
    return await runner(request).list(active_only=active)


@router.get(
    "/monitors/{session_id}",
    response_model=MonitorRead,
    tags=["monitors"],
    summary="One capture's counters",
    responses=error_responses(404),
)
async def get_monitor(session_id: UUID, request: Request) -> MonitorRead:
    try:
        return await runner(request).get(session_id)
    except capture.MonitorNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.delete(
    "/monitors/{session_id}",
    response_model=MonitorRead,
    tags=["monitors"],
    summary="Stop a capture: stored, sealed, then answered",
    responses=error_responses(403, 404),
)
async def stop_monitor(session_id: UUID, request: Request, db: Db, _: Investigator, context: Audit) -> MonitorRead:
    try:
        stopped = await runner(request).stop(session_id)
    except capture.MonitorNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    await capture.audit_done(
        db, request.app.state.pool, context, action="monitor.stop", target=f"session:{session_id}",
        details={"status": stopped.status, "events": stopped.events_total},
    )  # fmt: skip
    return stopped


@router.get("/sessions", response_model=list[LiveSessionRead], tags=["sessions"], summary="Capture sessions")
async def list_sessions(
    db: Db,
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    active: bool = False,
    limit: int = Query(100, ge=1, le=1000),
) -> list[LiveSessionRead]:
    return await sessions.list_sessions(db, active_only=active, case_id=case_id, limit=limit)


@router.get(
    "/sessions/{session_id}/events",
    response_model=EventPage,
    tags=["sessions"],
    summary="A live's stored events in chain order, paged",
)
async def list_events(
    session_id: UUID,
    db: Db,
    kind: list[Text] | None = Query(None, description="chat, gift, like, join, follow, share, viewers, …"),
    user_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = Query(None, ge=-1, le=BIGINT_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> EventPage:
    return await capture.list_events(
        db, session_id, kinds=kind, user_id=user_id, since=since, until=until, limit=limit, after_seq=after_seq
    )


@router.get(
    "/sessions/{session_id}/verify",
    response_model=VerifyResult,
    tags=["sessions"],
    summary="Recompute the session's hash chain; names the first event that does not match",
    responses=error_responses(404),
)
async def verify_session(session_id: UUID, db: Db) -> VerifyResult:
    try:
        return await capture.verify(db, session_id)
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
