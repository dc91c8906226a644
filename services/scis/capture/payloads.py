"""The JSON shape of a stored event, on the bus, on Socket.IO and in the API (docs/events.md).

Derived from the event's one definition (scis.evidence.records.PUBLISHED_FIELDS): 64-bit TikTok
ids (msg_id, user_id) are strings, because JavaScript numbers lose precision above 2**53;
timestamps are UTC ISO 8601 with microseconds and Z; the session id is its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from scis.evidence.canonical import SORTED_NAMES, iso_utc
from scis.evidence.records import PUBLISHED_FIELDS, SESSION_END, ChainedRecord, field_getter

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


# One commit of one live on scis:live:{session_id}:events (docs/events.md): its seq range, whether it
# ends the session, then its events. The header comes first in a fixed spelling so that the Socket.IO
# fan-out reads it without parsing the events, and relays the events' JSON text as it is (decision 240).
_COMMIT_HEADER = re.compile(rb'\{"from_seq":(\d+),"to_seq":(\d+),"ended":(true|false),"events":')


@dataclass(frozen=True, slots=True)
class CommitMessage:
    """A commit as the fan-out relays it: the seq range, whether it ends the session, the events' JSON."""

    from_seq: int
    to_seq: int
    ended: bool
    events_json: bytes  # a JSON array of event payloads, in seq order


_encode_text = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_JSONB = frozenset(f.name for f in PUBLISHED_FIELDS if f.column_type == "jsonb")
_HASHED_TEXT = {"counts": "counts_json", "data": "data_json"}  # the JSON texts chaining made for the jsonb fields


def _value_json(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return _dumps(value)


# A chained record carries the JSON text of each field as hashed (`field_texts`, canonical key order):
# every published field but the chain hash and the 64-bit ids (strings here, numbers there) is that
# text, which this template takes by its place; the ids and the chain hash come after the hashed texts.
_IDS = tuple(name for name in _NAMES if name in SORTED_NAMES and PUBLISHED_FIELDS[_NAMES.index(name)].json == "id")
assert len(_IDS) > 1, "attrgetter of one name gives the value, not a tuple"
_AFTER_TEXTS = (*_IDS, "chain_hash")
assert set(_NAMES) == set(SORTED_NAMES) | {"chain_hash"}
_FROM_TEXTS_TEMPLATE = "{{" + ",".join(
    f'"{name}":{{{len(SORTED_NAMES) + _AFTER_TEXTS.index(name) if name in _AFTER_TEXTS else SORTED_NAMES.index(name)}}}'
    for name in _NAMES
) + "}}"  # fmt: skip
_id_values = attrgetter(*_IDS)


def event_payload_json(item: ChainedRecord) -> str:
    """`json.dumps(event_payload(item))`, made of the JSON texts chaining already wrote (each field as
    hashed; the 64-bit ids, strings here and numbers there, and the chain hash added)."""
    if item.field_texts is not None:
        ids = [_value_json(None if value is None else str(value)) for value in _id_values(item.record)]
        return _FROM_TEXTS_TEMPLATE.format(*item.field_texts, *ids, _encode_text(item.chain_hash))
    # A record not chained in this process (built by hand): field by field.
    parts = []
    for name, value in zip(_NAMES, _shape(_published_values(item)).values(), strict=True):
        text = getattr(item, _HASHED_TEXT[name]) if name in _JSONB else None
        parts.append(f'"{name}":{text if text is not None else _value_json(value)}')
    return "{" + ",".join(parts) + "}"


def commit_message(rows: Sequence[ChainedRecord]) -> str:
    """The bus message of one commit of one live (rows in seq order, at least one, all of one session)."""
    events = ",".join([event_payload_json(item) for item in rows])
    ended = "true" if rows[-1].record.kind == SESSION_END else "false"
    return f'{{"from_seq":{rows[0].seq},"to_seq":{rows[-1].seq},"ended":{ended},"events":[{events}]}}'


def read_commit_message(data: bytes) -> CommitMessage | None:
    """The commit in a bus message written by `commit_message`; None for any other message."""
    header = _COMMIT_HEADER.match(data)
    if header is None or not data.endswith(b"}"):
        return None
    return CommitMessage(int(header[1]), int(header[2]), header[3] == b"true", data[header.end() : -1])
