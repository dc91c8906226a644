"""Analyser API models: monitors (running captures), stored events, verification results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, get_args
from uuid import UUID

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from scis.capture.stats import CaptureStats
from scis.capture.targets import InvalidTarget, parse_target
from scis.core.fields import BIGINT_MAX, Text
from scis.core.status import SessionStatus
from scis.evidence.records import PUBLISHED_FIELDS, EventField
from scis.evidence.verify import ChainVerdict


class CaptureSourceKind(StrEnum):
    websocket = "websocket"
    browser = "browser"
    replay = "replay"


class MonitorCreate(BaseModel):
    target: str = Field(..., description="TikTok @handle or live URL (https://www.tiktok.com/@handle/live)")
    case_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="case the capture belongs to")
    source: CaptureSourceKind = Field(CaptureSourceKind.websocket, description="websocket, browser or replay")
    replay_file: Text | None = Field(None, description="capture file to replay (source=replay only)")
    video: bool = Field(False, description="record the live's video too, and let analysts watch it over WebRTC")
    wait: bool = Field(
        False,
        description="if the target is offline, poll it (SCIS_WAIT_POLL_SECONDS, jitter, back-off) and capture it "
        "once it goes live; listed with status 'waiting' meanwhile",
    )
    again: bool = Field(
        False,
        description="with wait: after a live ends, wait for the next one (each live is a session of its own, "
        "started by the analyser and audited); stopping any session of the chain stops it",
    )

    @field_validator("target")
    @classmethod
    def _handle(cls, value: str) -> str:
        try:
            return parse_target(value)
        except InvalidTarget as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _replay_needs_file(self) -> MonitorCreate:
        if self.source is CaptureSourceKind.replay and not self.replay_file:
            raise ValueError("replay_file is required when source='replay'")
        if self.source is CaptureSourceKind.replay and self.wait:
            raise ValueError("wait applies to a TikTok live, not to source='replay'")
        if self.again and not self.wait:
            raise ValueError("again needs wait: set wait true too (again waits for the next live after one ends)")
        return self


class MonitorRead(BaseModel):
    session_id: UUID
    target: str
    source: str
    case_id: int | None
    status: SessionStatus
    status_reason: str
    room_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    events_total: int
    events_by_kind: dict[str, int]
    viewers: int | None
    likes_total: int | None
    last_event_at: datetime | None
    chain_head: str | None
    gaps: int
    malformed: int
    duplicates: int
    spilled: int
    queued: int
    reconnects: int

    @classmethod
    def from_stats(cls, stats: CaptureStats) -> MonitorRead:
        return cls(
            session_id=stats.session_id,
            target=stats.target,
            source=stats.source,
            case_id=stats.case_id,
            status=stats.status,
            status_reason=stats.status_reason,
            room_id=stats.room_id,
            started_at=stats.started_at,
            ended_at=stats.ended_at,
            events_total=stats.events_total,
            events_by_kind=dict(stats.events_by_kind),
            viewers=stats.viewers,
            likes_total=stats.likes_total,
            last_event_at=stats.last_event_at,
            chain_head=stats.chain_head,
            gaps=stats.gaps,
            malformed=stats.malformed,
            duplicates=stats.duplicates,
            spilled=stats.spilled,
            queued=stats.queued,
            reconnects=stats.reconnects,
        )


def _api_type(event_field: EventField) -> Any:
    """The type the API gives a field: the JSON form of scis.capture.payloads (ids and times as text)."""
    nullable = type(None) in get_args(event_field.annotation)
    if event_field.json == "id":
        return str | None
    if event_field.json == "time":
        return str | None if nullable else str
    return event_field.annotation


# Derived from the event's one definition (scis.evidence.records), like the bus payload.
_EventFields: type[BaseModel] = create_model("EventFields", **{f.name: (_api_type(f), ...) for f in PUBLISHED_FIELDS})  # type: ignore[call-overload]


class EventRead(_EventFields):  # type: ignore[misc,valid-type]
    """One stored event; 64-bit ids are strings (JavaScript loses precision above 2**53).

    The same JSON as the message on scis:live:{session_id}:events (docs/events.md).
    """


class EventPage(BaseModel):
    items: list[EventRead]
    next_after_seq: int | None = Field(None, description="pass as after_seq for the next page; null at the end")


class GapFillRef(BaseModel):
    session_id: UUID
    seq: int


class GapRead(BaseModel):
    """One gap record of a session and whether re-sent messages filled it (gap records are never edited)."""

    seq: int = Field(description="the gap record's place in the session's chain")
    reason: str = Field(description="disconnect, stall, restart, overflow or crash")
    started: str = Field(description="the gap record's `from` (UTC)")
    ended: str = Field(description="the gap record's `to` (UTC)")
    detail: str
    filled: str = Field(description="open, partly or completely: what `gap_filled` records say")
    remaining: dict[str, str] | None = Field(None, description="for partly: {from, to} still missing")
    filled_by: GapFillRef | None = Field(None, description="the `gap_filled` record that says so")
    filled_records: int | None = Field(
        None, description="message records the filling capture stored from within the gap's span; null while open"
    )


class ChainFailureRead(BaseModel):
    seq: int
    msg_id: str | None
    kind: str | None
    check: str
    detail: str


class VerifyResult(BaseModel):
    session_id: UUID
    intact: bool
    sealed: bool
    records_checked: int
    chain_head: str | None
    failure: ChainFailureRead | None
    message: str

    @classmethod
    def from_verdict(cls, verdict: ChainVerdict) -> VerifyResult:
        failure = verdict.failure
        return cls(
            session_id=verdict.session_id,
            intact=verdict.intact,
            sealed=verdict.sealed,
            records_checked=verdict.records_checked,
            chain_head=verdict.chain_head,
            failure=None
            if failure is None
            else ChainFailureRead(
                seq=failure.seq,
                msg_id=None if failure.msg_id is None else str(failure.msg_id),
                kind=failure.kind,
                check=failure.check,
                detail=failure.detail,
            ),
            message=verdict.describe(),
        )
