"""Live session models, shared by the lives and analyser services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from scis.core.status import SessionStatus


class LiveSessionRead(BaseModel):
    id: UUID
    case_id: int | None
    target: str
    room_id: str | None
    source: str
    status: SessionStatus
    status_reason: str
    started_at: datetime
    ended_at: datetime | None
    events_count: int
    chain_head: str | None
    config: dict[str, Any]


class OpenSession(BaseModel):
    """A session listed as active, and how long ago its newest record was stored."""

    id: UUID
    target: str
    status: str
    source: str
    events_count: int
    started_at: datetime
    last_record_at: datetime
    idle_seconds: float


class CaptureHealth(BaseModel):
    """One open session as `scis status` shows it: the store's view and its capture process's gauges."""

    session: OpenSession
    runner: str | None  # the service whose /metrics reports this capture running; None when none does
    queue_depth: int | None
    spill_bytes: int | None
    verdict: str


class VideoOffer(BaseModel):
    """A viewer's WebRTC offer (SDP), made by the browser's RTCPeerConnection."""

    sdp: str = Field(min_length=1, max_length=100_000)
    type: Literal["offer"]


class VideoAnswer(BaseModel):
    """The lives service's answer; `viewer_id` names this viewer for leaving."""

    viewer_id: str
    sdp: str
    type: Literal["answer"]


class LiveVideoRead(BaseModel):
    """The relay of one live in this lives process."""

    session_id: UUID
    recorded: bool  # the capture records this live's video (the relay needs its stream)
    viewers: int
    packets_relayed: int
    decodes: int  # frames decoded by the relay: 0, the video is passed through
    skipped: int  # packets dropped to catch up at a keyframe when the relay fell behind (viewers only)


class ActiveLive(BaseModel):
    """A live being captured now, as the lives list shows it."""

    session: LiveSessionRead
    duration_seconds: float  # since the capture started
    recorded_video: bool
    webrtc_viewers: int  # analysts watching it through this lives process
