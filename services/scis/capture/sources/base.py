"""What every capture source produces, and the interface the pipeline drives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scis.core.status import SessionStatus
from scis.evidence.records import EventRecord
from scis.webcast.frames import DecodedFrame

ResumePoint = dict[str, Any]  # cursor, internal_ext, push_server, route_params: JSON, stored with the session


@dataclass(slots=True)
class RawFrame:
    """A WebSocket binary message exactly as received, with the moment it was received."""

    data: bytes
    captured_at: datetime
    resume: ResumePoint | None = None  # where the server would re-send from, after this frame
    decoded: DecodedFrame | None = None  # `data` as the source already decoded it (never decoded twice)


@dataclass(slots=True)
class RawFetch:
    """A fetch-result body (the first im/fetch answer), not wrapped in a push frame."""

    data: bytes
    captured_at: datetime
    resume: ResumePoint | None = None


@dataclass(slots=True)
class PageEvent:
    """An event read from the live page itself (browser source, DOM fallback)."""

    record: EventRecord


@dataclass(slots=True)
class SourceGap:
    """The source was not receiving from `started` to `ended` (reason: disconnect, stall, ...)."""

    started: datetime
    ended: datetime
    reason: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LiveEnded:
    """The source learnt the live is over without a control message (room offline after a drop)."""

    reason: str


SourceItem = RawFrame | RawFetch | PageEvent | SourceGap | LiveEnded


@dataclass(slots=True)
class LiveRoom:
    """What a source found when it opened the live."""

    handle: str
    room_id: str | None
    title: str = ""
    host_user_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    video_urls: dict[str, str] = field(default_factory=dict)  # quality ("origin", "hd", ...) -> FLV URL


class TargetUnavailable(Exception):
    """The live cannot be captured now; `status` is the session status to record."""

    def __init__(self, status: SessionStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CaptureSource(Protocol):
    """A source of raw frames for one live. `items()` ends when the live ends or `stop()` is called."""

    name: str

    async def open(self) -> LiveRoom:
        """Find the live; raises TargetUnavailable (offline, not_found, private, blocked)."""
        ...

    def items(self) -> AsyncIterator[SourceItem]: ...

    async def stop(self) -> None:
        """Stop receiving; `items()` yields what it already holds, then ends."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the session's configuration snapshot records about this source."""
        ...
