"""Watchlist entries and alerts (docs/decisions/612)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from scis.core.fields import BIGINT_MAX, Text
from scis.profiles.models import HANDLE_PATTERN


class WatchKind(StrEnum):
    user_id = "user_id"
    handle = "handle"
    keyword = "keyword"
    regex = "regex"


class WatchCreate(BaseModel):
    kind: WatchKind = Field(description="user_id and handle watch a person (renames included); keyword and regex "
                                        "watch what is said in chat")  # fmt: skip
    value: Text = Field(min_length=1, max_length=200, description="the user id, @handle, word(s) or expression")
    note: Text = Field("", max_length=2000, description="why this is watched")
    scan_past: bool = Field(False, description="also raise alerts for the evidence the case already holds")

    @field_validator("value")
    @classmethod
    def _value_fits_kind(cls, value: str, info: ValidationInfo) -> str:
        return normalise_watch_value(info.data.get("kind"), value.strip())


def normalise_watch_value(kind: WatchKind | None, value: str) -> str:
    """The value as matched: a user id as digits, a handle lower case without @, a keyword lower case."""
    if not value:
        raise ValueError("the value is blank; give what to watch")
    if kind is WatchKind.user_id:
        if not value.isdigit() or not 1 <= int(value) <= BIGINT_MAX:
            raise ValueError("a user id is TikTok's number (digits only), e.g. 6811000000000000001")
        return str(int(value))
    if kind is WatchKind.handle:
        if not re.fullmatch(HANDLE_PATTERN, value):
            raise ValueError("a handle is 2-24 letters, digits, '.' or '_', with or without @")
        return value.removeprefix("@").lower()
    if kind is WatchKind.keyword:
        return value.lower()
    return value


class WatchRead(BaseModel):
    id: int
    case_id: int
    kind: WatchKind
    value: str
    user_id: int | None = Field(description="the user id a handle or user id watch follows (renames included)")
    note: str
    created_by: str
    created_at: datetime
    scans_past: bool = Field(description="made with scan_past: every stored record of the case is matched")


class WatchAdded(WatchRead):
    past_alerts: int = Field(description="alerts raised on evidence stored before the watch (scan_past)")


class AlertRead(BaseModel):
    """One matching record: where it is in the evidence (session, seq, chain hash) and what matched."""

    id: int
    case_id: int
    watch_id: int
    watch_kind: WatchKind
    watch_value: str
    session_id: UUID
    seq: int
    chain_hash: str
    kind: str = Field(description="the event's kind (chat, join, gift, …)")
    user_id: int | None
    unique_id: str | None
    body: str | None
    captured_at: datetime
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class AlertPage(BaseModel):
    items: list[AlertRead]
    open: int = Field(description="alerts of the case not acknowledged yet")
