"""Live session models, shared by the lives and analyser services."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

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
