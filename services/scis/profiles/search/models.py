"""What a full-text search answers (docs/decisions/613)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

# ts_headline wraps each matched word in these (control characters never typed in chat): a client splits
# on them and renders the pieces as text, so a chat line can never inject markup.
HIGHLIGHT_START = "\u0002"
HIGHLIGHT_STOP = "\u0003"


class ContextRecord(BaseModel):
    """A record of the same live next to a hit (any kind: chat, join, gift, …)."""

    seq: int = Field(description="the record's place in its live's chain")
    kind: str
    captured_at: datetime
    user_id: int | None
    unique_id: str | None
    nickname: str | None
    body: str | None


class EventHit(ContextRecord):
    """A matching record: where it is (its live, its place in the chain, its case) and what matched."""

    session_id: UUID
    case_id: int | None
    highlight: str = Field(description="the matching text with each matched word between \\u0002 and \\u0003")
    rank: float
    before: list[ContextRecord] = Field(default_factory=list, description="the records just before, oldest first")
    after: list[ContextRecord] = Field(default_factory=list, description="the records just after, oldest first")


class EventSearchPage(BaseModel):
    items: list[EventHit]
    has_more: bool = Field(description="another page follows (offset + limit)")
