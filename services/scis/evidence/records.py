"""What the hash chain links: one row of `events`, before and after its seq and chain hash are set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

# Chain records that are not TikTok events: the capture's own statements of fact.
SESSION_START = "session_start"
SESSION_END = "session_end"
GAP = "gap"
MALFORMED = "malformed"
CHAIN_KINDS = frozenset({SESSION_START, SESSION_END, GAP})

GAP_REASONS = ("disconnect", "stall", "restart", "overflow")


@dataclass(slots=True)
class EventRecord:
    """An event as it will be stored; every field is part of the canonical form except `raw` itself."""

    kind: str
    captured_at: datetime
    msg_id: int | None = None
    method: str | None = None
    room_id: str | None = None
    user_id: int | None = None
    unique_id: str | None = None
    nickname: str | None = None
    body: str | None = None
    gift_id: int | None = None
    gift_name: str | None = None
    diamond_count: int | None = None
    repeat_count: int | None = None
    inferred: bool = False
    counts: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    server_time: datetime | None = None
    raw: bytes | None = None


@dataclass(slots=True)
class ChainedRecord:
    """An EventRecord with its place in a session's chain."""

    session_id: UUID
    seq: int
    record: EventRecord
    raw_sha256: str | None
    chain_hash: str
    # JSON texts of counts and data exactly as hashed, handed to PostgreSQL as the jsonb values.
    counts_json: str | None = None
    data_json: str | None = None


# Column order of `events` used by COPY and by the canonical form.
EVENT_COLUMNS = (
    "session_id",
    "seq",
    "msg_id",
    "kind",
    "method",
    "room_id",
    "user_id",
    "unique_id",
    "nickname",
    "body",
    "gift_id",
    "gift_name",
    "diamond_count",
    "repeat_count",
    "inferred",
    "counts",
    "data",
    "server_time",
    "captured_at",
    "raw",
    "raw_sha256",
    "chain_hash",
)
