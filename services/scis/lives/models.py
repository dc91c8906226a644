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
