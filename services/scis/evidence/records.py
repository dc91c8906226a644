"""What the hash chain links: one row of `events`, before and after its seq and chain hash are set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, get_type_hints
from uuid import UUID

# Chain records that are not TikTok events: the capture's own statements of fact.
SESSION_START = "session_start"
SESSION_END = "session_end"
GAP = "gap"
VIDEO_SEGMENT = "video_segment"  # one stored segment of the live's video (its bytes in the media store)
MALFORMED = "malformed"
GAP_FILLED = "gap_filled"  # a later capture's statement that re-sent messages filled a gap (decision 411)
CHAIN_KINDS = frozenset({SESSION_START, SESSION_END, GAP, GAP_FILLED, VIDEO_SEGMENT})

GAP_REASONS = ("disconnect", "stall", "restart", "overflow", "crash")  # crash: an abandoned capture, adopted


def column(pg_type: str, *, json: str = "") -> dict[str, str]:
    """Field metadata: the PostgreSQL type of the field's `events` column and how JSON writes it.

    json: "id" for a 64-bit TikTok id (a string in JSON: JavaScript loses precision above 2**53),
    "time" for a timestamp (UTC ISO 8601 with microseconds and Z), "uuid", or "" (as is).
    """
    return {"column": pg_type, "json": json}


@dataclass(slots=True)
class EventRecord:
    """An event as it will be stored; every field is part of the canonical form except `raw` itself.

    These fields, with ChainedRecord's, are THE definition of an event: the `events` COPY columns,
    the canonical form, the bus payload and the API model (EventRead) are all derived from them
    (EVENT_FIELDS below). A new field is one line here, plus its column in a migration.
    """

    kind: str = field(metadata=column("text"))
    captured_at: datetime = field(metadata=column("timestamptz", json="time"))
    msg_id: int | None = field(default=None, metadata=column("int8", json="id"))
    method: str | None = field(default=None, metadata=column("text"))
    room_id: str | None = field(default=None, metadata=column("text"))
    user_id: int | None = field(default=None, metadata=column("int8", json="id"))
    unique_id: str | None = field(default=None, metadata=column("text"))
    nickname: str | None = field(default=None, metadata=column("text"))
    body: str | None = field(default=None, metadata=column("text"))
    gift_id: int | None = field(default=None, metadata=column("int8"))
    gift_name: str | None = field(default=None, metadata=column("text"))
    diamond_count: int | None = field(default=None, metadata=column("int4"))
    repeat_count: int | None = field(default=None, metadata=column("int4"))
    inferred: bool = field(default=False, metadata=column("bool"))
    counts: dict[str, Any] | None = field(default=None, metadata=column("jsonb"))
    data: dict[str, Any] = field(default_factory=dict, metadata=column("jsonb"))
    server_time: datetime | None = field(default=None, metadata=column("timestamptz", json="time"))
    raw: bytes | None = field(default=None, metadata=column("bytea"))


@dataclass(slots=True)
class ChainedRecord:
    """An EventRecord with its place in a session's chain."""

    session_id: UUID = field(metadata=column("uuid", json="uuid"))
    seq: int = field(metadata=column("int8"))
    record: EventRecord  # its fields are the event's, between seq and raw_sha256
    raw_sha256: str | None = field(metadata=column("text"))
    chain_hash: str = field(metadata=column("text"))
    # JSON texts of counts and data exactly as hashed, handed to PostgreSQL as the jsonb values.
    counts_json: str | None = None
    data_json: str | None = None
    # The JSON text of every canonical field as hashed, in the canonical form's key order (the bus text
    # is made of them: scis.capture.payloads); None when the record was not chained here.
    field_texts: list[str] | None = None


@dataclass(frozen=True, slots=True)
class EventField:
    name: str
    column_type: str  # PostgreSQL type of the `events` column
    json: str  # "id", "time", "uuid" or "" (see `column`)
    annotation: Any  # the Python type
    on_record: bool  # an EventRecord field (else a ChainedRecord one)


def _event_fields() -> tuple[EventField, ...]:
    out: list[EventField] = []
    for owner in fields(ChainedRecord):
        if owner.name == "record":
            hints = get_type_hints(EventRecord)
            out += [EventField(f.name, f.metadata["column"], f.metadata["json"], hints[f.name], True)
                    for f in fields(EventRecord)]  # fmt: skip
        elif "column" in owner.metadata:
            hint = get_type_hints(ChainedRecord)[owner.name]
            out.append(EventField(owner.name, owner.metadata["column"], owner.metadata["json"], hint, False))
    return tuple(out)


# Every stored field of an event, in `events` COPY column order.
EVENT_FIELDS = _event_fields()
EVENT_COLUMNS = tuple(f.name for f in EVENT_FIELDS)
# What the bus and the API show of an event: everything but the raw bytes (kept in PostgreSQL only).
PUBLISHED_FIELDS = tuple(f for f in EVENT_FIELDS if f.name != "raw")
# What the canonical form hashes: everything but the raw bytes (hashed as raw_sha256) and the chain hash.
CANONICAL_FIELDS = tuple(f for f in PUBLISHED_FIELDS if f.name != "chain_hash")


def _split(selected: tuple[EventField, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Names of the ChainedRecord fields before the record's, the record's, and the ChainedRecord ones after."""
    record = tuple(f.name for f in selected if f.on_record)
    first = next(i for i, f in enumerate(selected) if f.on_record)
    before = tuple(f.name for f in selected[:first])
    after = tuple(f.name for f in selected[first + len(record) :])
    assert all(not f.on_record for f in selected[first + len(record) :]), "record fields must be contiguous"
    return before, record, after


def field_getter(selected: tuple[EventField, ...]) -> Callable[[ChainedRecord], tuple[Any, ...]]:
    """A function giving the values of `selected` fields of a chained record, in their order (fast: attrgetter)."""
    before, record, after = _split(selected)
    get_before, get_record, get_after = attrgetter(*before), attrgetter(*record), attrgetter(*after)

    def values(item: ChainedRecord) -> tuple[Any, ...]:
        return (*_tuple(get_before(item), before), *get_record(item.record), *_tuple(get_after(item), after))

    return values


def _tuple(value: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return value if len(names) > 1 else (value,)


RECORD_FIELD_NAMES = tuple(f.name for f in EVENT_FIELDS if f.on_record)


def record_from_row(row: dict[str, Any]) -> EventRecord:
    """The EventRecord of an `events` row (dict row)."""
    return EventRecord(**{name: row[name] for name in RECORD_FIELD_NAMES})
