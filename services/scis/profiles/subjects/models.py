"""What the API says about a subject: its names over time, its lives and counters, its timeline."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class Counters(BaseModel):
    events: int = 0
    messages: int = 0
    gifts: int = Field(0, description="gifts sent, a streak counted by its final repeat count")
    diamonds: int = 0
    likes: int = Field(0, description="a lower bound: TikTok stops per-user like events")
    joins: int = 0
    follows: int = 0
    shares: int = 0


class Sighting(BaseModel):
    """Where in the evidence something was seen: a live session and the record's place in its chain."""

    at: datetime
    session_id: UUID
    seq: int


class AliasRead(BaseModel):
    kind: str = Field(description="`unique_id` (an @handle without the @) or `nickname`")
    value: str
    first_seen: Sighting
    last_seen: Sighting


class SubjectLive(Counters):
    session_id: UUID
    target: str
    case_id: int | None
    first_seen: Sighting
    last_seen: Sighting


class SubjectRead(BaseModel):
    id: int
    tiktok_user_id: str | None = Field(description="TikTok's numeric user id, as a string (64-bit)")
    unique_id: str | None = Field(description="the latest @handle seen")
    nickname: str | None
    sec_uid: str | None
    avatar_url: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    aliases: list[AliasRead]
    lives: list[SubjectLive] = Field(description="the lives the caller may see, first seen first")
    totals: Counters = Field(description="sums over `lives`")


class TimelineItem(BaseModel):
    session_id: UUID
    seq: int
    kind: str
    captured_at: datetime
    unique_id: str | None
    nickname: str | None
    body: str | None
    gift_name: str | None
    diamond_count: int | None
    repeat_count: int | None
    counts: dict[str, object] | None
    chain_hash: str


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = Field(description="pass as `after` for the next page; null on the last page")
