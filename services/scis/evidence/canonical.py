"""The canonical form of a chain record and the hashes built on it.

canonical(record) is the UTF-8 of a JSON object with sorted keys, no whitespace and only ASCII
(non-ASCII escaped), holding every stored field except `raw` and `chain_hash`; `raw` enters through
its SHA-256 (`raw_sha256`). Timestamps are UTC ISO 8601 with microseconds and a `Z`.
chain_hash(seq) = sha256(bytes.fromhex(chain_hash(seq - 1)) + canonical(seq)), with 32 zero bytes
before seq 0. docs/capture.md describes the format for anyone re-implementing the check.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any
from uuid import UUID

from scis.evidence.records import CANONICAL_FIELDS, EventRecord

GENESIS_HASH = "0" * 64
CHAIN_FORMAT = "scis-chain-v1"

_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_BIG_FIELDS = ("msg_id", "user_id", "gift_id")
_SMALL_FIELDS = ("diamond_count", "repeat_count")
_TEXT_FIELDS = ("method", "room_id", "unique_id", "nickname", "body", "gift_name", "kind")


def iso_utc(moment: datetime | None) -> str | None:
    """A timestamp as stored in the canonical form: UTC, microseconds, `Z`."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("chain timestamps must be timezone-aware")
    return _iso_utc(moment)


@lru_cache(maxsize=4096)
def _iso_utc(moment: datetime) -> str:
    # Events of one frame share their capture time: the cache makes that one conversion.
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year: keep its spelling for those
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat is strftime's "%Y-%m-%dT%H:%M:%S.%f" plus "+00:00", at a fraction of the cost.
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def raw_sha256(raw: bytes | None) -> str | None:
    return None if raw is None else hashlib.sha256(raw).hexdigest()


_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
# The C encoder that `_encoder.encode` makes anew on every call, made once: that set-up cost as much as
# encoding a record's data. The same settings, hence the same text; no circular-reference check (what
# is encoded here is decoded messages and SCIS's own dicts, never cyclic), as the check's memo, shared
# by every call, would keep stale entries after a failed call.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_c = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(
        None, _encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, False
    )
)


def _dumps(value: Any) -> str:
    if _encode_c is None:  # a Python without the C accelerator
        return _encoder.encode(value)
    return "".join(_encode_c(value, 0))


def canonical_json(value: Any) -> bytes:
    """Any JSON value in the canonical spelling above (sorted keys, no whitespace, ASCII)."""
    return _dumps(value).encode("ascii")


# The canonical form's fields come from the event's one definition (scis.evidence.records). The JSON
# fields (counts, data) are dumped once and kept: they are also the jsonb values PostgreSQL stores.
_JSON_NAMES = tuple(f.name for f in CANONICAL_FIELDS if f.column_type == "jsonb")
_HEAD_NAMES = tuple(f.name for f in CANONICAL_FIELDS if f.on_record and f.column_type != "jsonb")
_TIME_NAMES = tuple(f.name for f in CANONICAL_FIELDS if f.on_record and f.json == "time")
_head_values = attrgetter(*_HEAD_NAMES)
_SORTED = sorted(f.name for f in CANONICAL_FIELDS)
assert _JSON_NAMES == ("counts", "data")
assert {f.name for f in CANONICAL_FIELDS if not f.on_record} == {"session_id", "seq", "raw_sha256"}


_encode_text = json.encoder.encode_basestring_ascii  # what the encoder above writes for a str (C)
# The record's own fields in sorted key order, then the others; the template puts each in its sorted place.
_RECORD_SORTED = tuple(name for name in _SORTED if name in _HEAD_NAMES)
_sorted_record_values = attrgetter(*_RECORD_SORTED)
_TIME_AT = tuple(index for index, name in enumerate(_RECORD_SORTED) if name in _TIME_NAMES)
# The other fields, in sorted order, each with its place among all: inserted there, the texts are in
# sorted order and the template takes them in turn (`{}`: numbered fields cost str.format twice as much).
_OTHERS = ("counts", "data", "raw_sha256", "seq", "session_id")
assert sorted((*_RECORD_SORTED, *_OTHERS)) == _SORTED and list(_OTHERS) == sorted(_OTHERS)
_COUNTS_AT, _DATA_AT, _DIGEST_AT, _SEQ_AT, _SESSION_AT = (_SORTED.index(name) for name in _OTHERS)
_TEMPLATE = "{{" + ",".join(f'"{name}":{{}}' for name in _SORTED) + "}}"
SORTED_NAMES = tuple(_SORTED)  # the canonical form's keys, in its order


def _json_value(value: Any) -> str:
    """Exactly what `_dumps` writes for a value inside an object; text, ints, bools and None without
    the encoder's per-call set-up (the encoder writes ints with int.__repr__ too)."""
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return _dumps(value)


def canonical_parts(
    session_id: UUID | str, seq: int, record: EventRecord, raw_digest: str | None
) -> tuple[bytes, str | None, str]:
    """The canonical bytes, and the JSON texts of `counts` and `data` (stored as the jsonb values).

    The object is written key by key in sorted order through one format template: the same bytes
    as `_dumps` of the whole object (tests/evidence golden hashes), without building and sorting a
    dict per record.
    """
    return _canonical(session_id, seq, record, raw_digest)[:3]


def _canonical(
    session_id: UUID | str, seq: int, record: EventRecord, raw_digest: str | None
) -> tuple[bytes, str | None, str, list[str]]:
    """`canonical_parts`, and the JSON text of every field in SORTED_NAMES order (`field_texts`)."""
    counts_json = None if record.counts is None else _dumps(record.counts)
    data_json = _dumps(record.data)
    values = list(_sorted_record_values(record))
    for index in _TIME_AT:
        values[index] = iso_utc(values[index])
    texts = list(map(_json_value, values))
    texts.insert(_COUNTS_AT, counts_json or "null")  # in ascending order of place: each goes where it belongs
    texts.insert(_DATA_AT, data_json)
    texts.insert(_DIGEST_AT, "null" if raw_digest is None else _encode_text(raw_digest))
    texts.insert(_SEQ_AT, int.__repr__(seq))
    texts.insert(_SESSION_AT, _encode_text(str(session_id)))
    return _TEMPLATE.format(*texts).encode(), counts_json, data_json, texts


def canonical_bytes(session_id: UUID | str, seq: int, record: EventRecord, raw_digest: str | None) -> bytes:
    """The bytes that are hashed into the chain for one record."""
    return canonical_parts(session_id, seq, record, raw_digest)[0]


def link(prev_hash: str, canonical: bytes) -> str:
    """The chain hash of a record whose predecessor's chain hash is `prev_hash`."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def clean_text(value: str) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates become U+FFFD (the raw bytes keep the original)."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


def json_safe(value: Any) -> Any:
    """A value that comes back from jsonb exactly as it went in, so the chain verifies after storage."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        text = repr(value)
        # jsonb keeps numbers as decimals: exponent floats come back as ints or other spellings.
        if not math.isfinite(value) or "e" in text:
            return text
        return value
    if isinstance(value, dict):
        return {clean_text(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime):
        return iso_utc(value) if value.tzinfo else value.isoformat()
    return clean_text(str(value))


# In a canonical form (ASCII JSON): a lone surrogate; in its JSON texts: a number with an exponent (1e-05).
_LONE_SURROGATE = re.compile(rb"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}")
_EXPONENT = re.compile(r"[0-9]e[+-][0-9]")


def _needs_cleaning(canonical: bytes, counts_json: str | None, data_json: str) -> bool:
    """Cheap substring tests first: the regular expressions run for a few records only.

    A float can only be in counts or data (every other field is text, an int, a bool or a time),
    so only their texts are searched for an exponent: in the whole form, a session id such as
    `…de7e-910b…` looked like one and sent every record of that session through the cleaning pass.
    """
    if b"\\u0000" in canonical:
        return True
    if b"\\ud" in canonical and _LONE_SURROGATE.search(canonical):
        return True
    return _has_exponent(data_json) or (counts_json is not None and _has_exponent(counts_json))


def _has_exponent(text: str) -> bool:
    return ("e+" in text or "e-" in text) and _EXPONENT.search(text) is not None


def storable_canonical(
    session_id: UUID | str, seq: int, record: EventRecord, raw_digest: str | None
) -> tuple[bytes, str | None, str]:
    """canonical_parts of a record made storable; skips the cleaning pass when nothing needs it."""
    return storable_canonical_texts(session_id, seq, record, raw_digest)[:3]


def storable_canonical_texts(
    session_id: UUID | str, seq: int, record: EventRecord, raw_digest: str | None
) -> tuple[bytes, str | None, str, list[str]]:
    """`storable_canonical`, and the JSON text of every field in SORTED_NAMES order: the bus text of the
    event is made of them (scis.capture.payloads), not encoded a second time."""
    if not _in_range(record):
        return _canonical(session_id, seq, make_storable(record), raw_digest)
    try:
        parts = _canonical(session_id, seq, record, raw_digest)
    except (TypeError, ValueError):
        return _canonical(session_id, seq, make_storable(record), raw_digest)
    if not _needs_cleaning(*parts[:3]):
        return parts
    return _canonical(session_id, seq, make_storable(record), raw_digest)


_big_values, _small_values = attrgetter(*_BIG_FIELDS), attrgetter(*_SMALL_FIELDS)


def _in_range(record: EventRecord) -> bool:
    """Whether every integer field fits its column (one attrgetter per width, not a getattr per field)."""
    for numbers, (low, high) in ((_big_values(record), _INT64), (_small_values(record), _INT32)):
        for number in numbers:
            if number is not None and not low <= number <= high:
                return False
    return True


def make_storable(record: EventRecord) -> EventRecord:
    """Clean a record in place so that what is hashed is exactly what PostgreSQL will hand back."""
    for name in _TEXT_FIELDS:
        text = getattr(record, name)
        if text is not None:
            setattr(record, name, clean_text(text))
    record.data = json_safe(record.data) if record.data else {}
    for names, (low, high) in ((_BIG_FIELDS, _INT64), (_SMALL_FIELDS, _INT32)):
        for name in names:
            number = getattr(record, name)
            if number is not None and not low <= number <= high:
                # Out of the column's range: kept exactly in data rather than failing the whole batch.
                record.data[f"{name}_out_of_range"] = str(number)
                setattr(record, name, None)
    if record.counts is not None:
        record.counts = json_safe(record.counts)
    return record
