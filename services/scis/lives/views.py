"""Live routes."""

from __future__ import annotations

from uuid import UUID

from aiortc import RTCSessionDescription
from fastapi import HTTPException, Query, Request, Response, status

from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import CurrentUser, Db
from scis.core.fields import BIGINT_MAX
from scis.lives import service
from scis.lives.models import ActiveLive, LiveSessionRead, LiveVideoRead, VideoAnswer, VideoOffer
from scis.lives.webrtc import Viewers

router = api_router("lives")


@router.get("/lives", response_model=list[LiveSessionRead], tags=["lives"], summary="Lives being captured now")
async def active_lives(
    db: Db, user: CurrentUser, case_id: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> list[LiveSessionRead]:
    return await service.list_sessions(db, user=user, active_only=True, case_id=case_id)


@router.get(
    "/lives/active",
    response_model=list[ActiveLive],
    tags=["lives"],
    summary="Lives being captured now, with duration, video and WebRTC viewers",
)
async def active_lives_detail(
    db: Db, user: CurrentUser, request: Request, case_id: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> list[ActiveLive]:
    return await service.active_lives(db, user=user, case_id=case_id, viewers_of=_viewers(request).count)


@router.get(
    "/lives/{session_id}",
    response_model=LiveSessionRead,
    tags=["lives"],
    summary="One live session",
    responses=error_responses(404),
)
async def get_live(session_id: UUID, db: Db, user: CurrentUser) -> LiveSessionRead:
    return await visible_session(db, user, session_id)


def _viewers(request: Request) -> Viewers:
    viewers: Viewers = request.app.state.viewers
    return viewers


async def visible_session(db: Db, user: CurrentUser, session_id: UUID) -> LiveSessionRead:
    """The session if the caller may see it (case membership), else 404 as if it did not exist."""
    found = await service.get_session(db, user=user, session_id=session_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live session {session_id}")
    return found


@router.get(
    "/lives/{session_id}/video",
    response_model=LiveVideoRead,
    tags=["video"],
    summary="The live's WebRTC relay: viewers, packets relayed, decodes",
    responses=error_responses(404),
)
async def live_video(session_id: UUID, db: Db, user: CurrentUser, request: Request) -> LiveVideoRead:
    session = await visible_session(db, user, session_id)
    return LiveVideoRead(
        session_id=session_id, recorded=service.video_url(session) is not None,
        **_viewers(request).describe(session_id),
    )  # fmt: skip


@router.post(
    "/lives/{session_id}/video/offer",
    response_model=VideoAnswer,
    tags=["video"],
    summary="Watch the live over WebRTC: send the browser's offer, get the answer",
    responses=error_responses(404, 409),
)
async def watch_live(session_id: UUID, offer: VideoOffer, db: Db, user: CurrentUser, request: Request) -> VideoAnswer:
    session = await visible_session(db, user, session_id)
    url = service.video_url(session)
    if url is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"live session {session_id} does not record video (--video)")
    if not session.status.active:
        raise HTTPException(status.HTTP_409_CONFLICT, f"live session {session_id} is {session.status}: not live")
    try:
        viewer_id, answer = await _viewers(request).answer(
            session_id, url, RTCSessionDescription(sdp=offer.sdp, type=offer.type)
        )
    except ValueError as error:
        raise InvalidRequest("sdp", offer.sdp[:80], f"not a usable WebRTC offer: {error}") from None
    return VideoAnswer(viewer_id=viewer_id, sdp=answer.sdp, type="answer")


@router.delete(
    "/lives/{session_id}/video/viewers/{viewer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["video"],
    summary="Stop watching (the recording goes on); a viewer already gone is fine",
    responses=error_responses(404),
)
async def leave_live(session_id: UUID, viewer_id: str, db: Db, user: CurrentUser, request: Request) -> Response:
    await visible_session(db, user, session_id)
    await _viewers(request).leave(session_id, viewer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
