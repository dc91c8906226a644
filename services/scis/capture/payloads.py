"""The JSON shape of a stored event, on the bus, on Socket.IO and in the API (docs/events.md).

Derived from the event's one definition (scis.evidence.records.PUBLISHED_FIELDS): 64-bit TikTok
ids (msg_id, user_id) are strings, because JavaScript numbers lose precision above 2**53;
timestamps are UTC ISO 8601 with microseconds and Z; the session id is its text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scis.evidence.canonical import iso_utc
from scis.evidence.records import PUBLISHED_FIELDS, ChainedRecord, field_getter

_NAMES = tuple(f.name for f in PUBLISHED_FIELDS)
_STRINGS = tuple(i for i, f in enumerate(PUBLISHED_FIELDS) if f.json in ("id", "uuid"))
_TIMES = tuple(i for i, f in enumerate(PUBLISHED_FIELDS) if f.json == "time")
_published_values = field_getter(PUBLISHED_FIELDS)


def _shape(values: Iterable[Any]) -> dict[str, Any]:
    shaped = list(values)
    for i in _STRINGS:
        if shaped[i] is not None:
            shaped[i] = str(shaped[i])
    for i in _TIMES:
        shaped[i] = iso_utc(shaped[i])
    return dict(zip(_NAMES, shaped, strict=True))


def event_payload(item: ChainedRecord) -> dict[str, Any]:
    """A chained record as published on scis:live:{session_id}:events."""
    return _shape(_published_values(item))


def row_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The same shape from an `events` row (dict row), as the events API answers it."""
    return _shape(row[name] for name in _NAMES)
