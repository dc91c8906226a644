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


# The bus text of an event through one format template, in PUBLISHED_FIELDS order: a text per field,
# no dict, no pair list and no f-string per field (that cost as much as chaining the event).
_PAYLOAD_TEMPLATE = "{{" + ",".join(f'"{name}":{{}}' for name in _NAMES) + "}}"
_SESSION_AT = _NAMES.index("session_id")
_JSONB_AT = tuple((i, _HASHED_TEXT[name]) for i, name in enumerate(_NAMES) if name in _JSONB)
_NOT_SESSION = tuple(i for i in _STRINGS if i != _SESSION_AT)
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


def event_payload_json(item: ChainedRecord, session_json: str | None = None) -> str:
    """`json.dumps(event_payload(item))`, written field by field; `counts` and `data` are the JSON texts
    chaining already made (what PostgreSQL stores), not encoded a second time. `session_json`: the
    session id's JSON text, when the caller made it once for many events."""
    if item.field_texts is not None:
        ids = [_value_json(None if value is None else str(value)) for value in _id_values(item.record)]
        return _FROM_TEXTS_TEMPLATE.format(*item.field_texts, *ids, _encode_text(item.chain_hash))
    values = list(_published_values(item))
    hashed = []
    for i, attribute in _JSONB_AT:
        text = getattr(item, attribute)
        hashed.append((i, text if text is not None else _value_json(values[i])))
        values[i] = None
    for i in _NOT_SESSION:
        if values[i] is not None:
            values[i] = str(values[i])
    for i in _TIMES:
        values[i] = iso_utc(values[i])
    values[_SESSION_AT] = None
    texts = list(map(_value_json, values))
    texts[_SESSION_AT] = session_json if session_json is not None else _encode_text(str(item.session_id))
    for i, text in hashed:
        texts[i] = text
    return _PAYLOAD_TEMPLATE.format(*texts)


def commit_message(rows: Sequence[ChainedRecord]) -> str:
    """The bus message of one commit of one live (rows in seq order, at least one, all of one session)."""
    session_json = _encode_text(str(rows[0].session_id))
    events = ",".join([event_payload_json(item, session_json) for item in rows])
    ended = "true" if rows[-1].record.kind == SESSION_END else "false"
    return f'{{"from_seq":{rows[0].seq},"to_seq":{rows[-1].seq},"ended":{ended},"events":[{events}]}}'


def read_commit_message(data: bytes) -> CommitMessage | None:
    """The commit in a bus message written by `commit_message`; None for any other message."""
    header = _COMMIT_HEADER.match(data)
    if header is None or not data.endswith(b"}"):
        return None
    return CommitMessage(int(header[1]), int(header[2]), header[3] == b"true", data[header.end() : -1])
