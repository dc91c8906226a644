"""From what a source received to the events to store: decode, normalise, dedupe, fold gift streaks.

Nothing received is dropped: a frame that does not decode is stored raw as kind `malformed`, a
message of a type SCIS does not know is stored raw as kind `unknown`, a non-event push frame of an
unexpected type is stored raw as kind `unknown_frame`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from scis.capture.dedupe import RecentKeys
from scis.capture.streaks import GiftStreaks
from scis.evidence.records import MALFORMED, RECORD_FIELD_NAMES, EventRecord
from scis.webcast import webcast_pb2 as pb
from scis.webcast.events import WebcastEvent, iter_events
from scis.webcast.frames import (
    PAYLOAD_ACK,
    PAYLOAD_HEARTBEAT,
    DecodedFrame,
    MalformedFrame,
    decode_push,
)

log = logging.getLogger(__name__)

CONTROL_END = 3
# Push frames that carry no event: the server's answers to our heartbeats and acks.
SILENT_PAYLOAD_TYPES = frozenset({PAYLOAD_HEARTBEAT, PAYLOAD_ACK})


# to_record passes the record's fields by position (a dict of keywords per event cost more than the
# rest of the conversion): the fields it names, in the record's order.
assert RECORD_FIELD_NAMES == (
    "kind", "captured_at", "msg_id", "method", "room_id", "user_id", "unique_id", "nickname", "body", "gift_id",
    "gift_name", "diamond_count", "repeat_count", "inferred", "counts", "data", "server_time", "raw",
), "EventRecord's fields changed: update to_record"  # fmt: skip


def to_record(event: WebcastEvent, captured_at: datetime) -> EventRecord:
    """A WebcastEvent as the record to store; gift streak fields go to `data`."""
    data = event.data
    if event.kind == "gift":
        data["repeat_end"] = event.repeat_end
        data["group_id"] = event.group_id
        data["gift_type"] = event.gift_type
    counts = dict(event.counts) if event.counts is not None else None
    return EventRecord(
        event.kind, captured_at, event.msg_id, event.method, event.room_id, event.user_id, event.unique_id,
        event.nickname, event.body, event.gift_id, event.gift_name, event.diamond_count, event.repeat_count,
        False, counts, data, event.server_time, event.raw,
    )  # fmt: skip


def malformed_record(raw: bytes, reason: str, captured_at: datetime, **extra: Any) -> EventRecord:
    return EventRecord(kind=MALFORMED, captured_at=captured_at, raw=raw, data={"reason": reason, **extra})


def is_live_end(record: EventRecord) -> bool:
    return record.kind == "control" and record.data.get("action") == CONTROL_END


class Normaliser:
    """Turns raw frames into storable events; `on_malformed` hears of every frame kept raw."""

    def __init__(
        self,
        streaks: GiftStreaks,
        dedupe: RecentKeys | None = None,
        *,
        on_malformed: Callable[[EventRecord], None] | None = None,
    ) -> None:
        self.streaks = streaks
        self.dedupe = dedupe or RecentKeys()
        self.on_malformed = on_malformed
        self.frames = 0
        self.malformed = 0

    def push_frame(
        self, raw: bytes, captured_at: datetime, *, decoded: DecodedFrame | None = None
    ) -> list[EventRecord]:
        """Every event of one WebSocket binary message; `decoded`: the same message as the source
        already decoded it (`decode_push`), so that it is not decoded twice."""
        self.frames += 1
        try:
            if decoded is None:
                decoded = decode_push(raw)
        except MalformedFrame as error:
            return [self._malformed(raw, error.reason, captured_at)]
        frame = decoded.frame
        if frame.payload_type in SILENT_PAYLOAD_TYPES:
            return []
        if decoded.payload is None or decoded.response is None:  # not msg, nor the answer to our enter-room
            return [
                EventRecord(
                    kind="unknown_frame", captured_at=captured_at, raw=raw,
                    data={"payload_type": frame.payload_type, "method": frame.method},
                )
            ]  # fmt: skip
        return self.fetch_result(decoded.payload, captured_at, frame_raw=raw, parsed=decoded.response)

    def fetch_result(
        self, payload: bytes, captured_at: datetime, *, frame_raw: bytes | None = None,
        parsed: pb.WebcastResponse | None = None,
    ) -> list[EventRecord]:  # fmt: skip
        """Every event of one (decompressed) fetch result; `parsed`: the payload, parsed already."""
        try:
            events = list(iter_events(payload, parsed=parsed))
        except (MalformedFrame, ValueError) as error:
            reason = error.reason if isinstance(error, MalformedFrame) else f"bad fetch result: {error}"
            return [self._malformed(frame_raw if frame_raw is not None else payload, reason, captured_at)]
        out: list[EventRecord] = []
        for event in events:
            out.extend(self.event(event, captured_at))
        return out

    def event(self, event: WebcastEvent, captured_at: datetime) -> list[EventRecord]:
        """One decoded event: dropped if already seen, held if it is part of an open gift streak."""
        if self.dedupe.seen(event.kind, event.msg_id):
            return []
        record = to_record(event, captured_at)
        if event.kind == "gift":
            return self.streaks.offer(
                record, gift_type=event.gift_type, repeat_end=event.repeat_end, group_id=event.group_id
            )
        return [record]

    def page_event(self, record: EventRecord) -> list[EventRecord]:
        """An event read from the page itself (browser DOM fallback)."""
        if self.dedupe.seen(record.kind, record.msg_id):
            return []
        return [record]

    def _malformed(self, raw: bytes, reason: str, captured_at: datetime) -> EventRecord:
        self.malformed += 1
        record = malformed_record(raw, reason, captured_at)
        log.warning("malformed frame kept raw (%d bytes): %s", len(raw), reason)
        if self.on_malformed is not None:
            self.on_malformed(record)
        return record
