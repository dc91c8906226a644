"""Snapshot API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

MAX_SECONDS_AROUND = 600


class SnapshotCreate(BaseModel):
    note: str = Field("", max_length=2000, description="what the analyst saw")
    at: datetime | None = Field(
        None, description="the moment to mark (UTC); default now. A past moment takes its frame from the recording"
    )
    seconds_around: int = Field(
        30, ge=1, le=MAX_SECONDS_AROUND, description="records captured this many seconds either side are kept"
    )


class SnapshotRead(BaseModel):
    id: int
    case_id: int
    session_id: UUID
    marked_at: datetime
    note: str
    frame_sha256: str | None  # None: no frame (the session records no video, or none could be decoded)
    frame_source: str  # where the frame came from, or why there is none
    records: list[dict[str, Any]]  # seq, kind, captured_at, who, text and chain_hash of each record
    sha256: str  # of the bookmark's canonical JSON (scis.evidence.bookmarks.canonical)
    intact: bool  # the stored bookmark still hashes to sha256
    created_by: str
    created_at: datetime
