"""The canonical form and the chain hash, without a database."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scis.evidence.canonical import GENESIS_HASH, canonical_bytes, clean_text, iso_utc, json_safe, link, make_storable
from scis.evidence.chain import ChainTail, chain_records
from scis.evidence.records import EventRecord

SESSION = uuid.UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def chat(body: str = "hello", **fields: object) -> EventRecord:
    return EventRecord(kind="chat", captured_at=AT, msg_id=7, user_id=42, body=body, raw=b"\x01\x02", **fields)  # type: ignore[arg-type]


def test_canonical_form_is_sorted_compact_ascii_json() -> None:
    record = chat("héllo 👋", data={"b": 1, "a": [1, 2]})
    text = canonical_bytes(SESSION, 3, record, "ab" * 32)
    assert text.isascii()
    decoded = json.loads(text)
    assert list(decoded) == sorted(decoded)
    assert decoded["body"] == "héllo 👋"
    assert decoded["captured_at"] == "2025-03-01T12:00:00.123456Z"
    assert decoded["seq"] == 3 and decoded["session_id"] == str(SESSION)
    assert b", " not in text and b": " not in text


def test_same_instant_in_another_zone_gives_the_same_bytes() -> None:
    other = AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert canonical_bytes(SESSION, 0, chat(), None) == canonical_bytes(
        SESSION,
        0,
        EventRecord(kind="chat", captured_at=other, msg_id=7, user_id=42, body="hello", raw=b"\x01\x02"),
        None,
    )


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError):
        iso_utc(datetime(2025, 1, 1))


def test_chain_links_each_record_to_its_predecessor() -> None:
    records = [chat("one"), chat("two"), chat("three")]
    tail = ChainTail()
    rows, after = chain_records(SESSION, tail, records)
    assert tail == ChainTail(), "chaining must not touch the tail it started from"
    assert after == ChainTail(3, rows[-1].chain_hash, records[-1].captured_at)
    prev = GENESIS_HASH
    for seq, row in enumerate(rows):
        expected = hashlib.sha256(bytes.fromhex(prev) + canonical_bytes(SESSION, seq, row.record, row.raw_sha256))
        assert row.seq == seq and row.chain_hash == expected.hexdigest()
        assert row.raw_sha256 == hashlib.sha256(b"\x01\x02").hexdigest()
        prev = row.chain_hash
    assert after.next_seq == 3 and after.prev_hash == rows[-1].chain_hash


def test_changing_any_field_changes_the_hash() -> None:
    base = link(GENESIS_HASH, canonical_bytes(SESSION, 0, chat(), None))
    assert base != link(GENESIS_HASH, canonical_bytes(SESSION, 0, chat("hellp"), None))
    assert base != link(GENESIS_HASH, canonical_bytes(SESSION, 1, chat(), None))
    assert base != link(GENESIS_HASH, canonical_bytes(uuid.uuid4(), 0, chat(), None))


def test_text_postgres_cannot_store_is_cleaned_before_hashing() -> None:
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("what? ok") == "what? ok"
    record = make_storable(chat("nul\x00", data={"k\x00": "v\x00", "f": 1e300, "n": float("nan"), "b": b"\x00"}))
    assert record.body == "nul\ufffd"
    assert record.data == {"k\ufffd": "v\ufffd", "f": "1e+300", "n": "nan", "b": "00"}


def test_ids_beyond_the_column_range_are_kept_in_data() -> None:
    record = make_storable(EventRecord(kind="chat", captured_at=AT, msg_id=2**64 - 1, repeat_count=2**40))
    assert record.msg_id is None and record.data["msg_id_out_of_range"] == str(2**64 - 1)
    assert record.repeat_count is None and record.data["repeat_count_out_of_range"] == str(2**40)


def test_json_safe_values_survive_a_json_round_trip() -> None:
    value = json_safe({"a": 0.1, "b": [1, 2.5, None, True], "c": {"d": "é"}})
    assert json.loads(json.dumps(value)) == value


def test_the_fast_path_hashes_exactly_what_the_cleaning_pass_would() -> None:
    from scis.evidence.canonical import storable_canonical

    samples = [
        chat("plain"),
        chat("emoji 👋 and accents é"),
        chat("nul\x00"),
        chat("lone \ud800 surrogate"),
        chat("ab\udc4b low"),
        chat(data={"f": 1e300}),
        chat(data={"f": float("inf")}),
        chat(data={"when": AT}),
        chat(data={"hex": "3e5,1e5"}),
    ]
    for record in samples:
        fast = storable_canonical(SESSION, 0, record, None)[0]
        slow = canonical_bytes(SESSION, 0, make_storable(record), None)
        assert fast == slow
        assert b"\\u0000" not in fast


def test_a_session_id_that_looks_like_an_exponent_does_not_send_records_through_cleaning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`…de7e-910b…` holds `7e-9`: searched in the whole form it sent every record of such a session
    through the slow cleaning pass (a tenth of sessions, twice the chaining CPU); floats live in data."""
    from scis.evidence import canonical

    cleaned: list[EventRecord] = []
    monkeypatch.setattr(canonical, "make_storable", lambda record: cleaned.append(record) or record)
    session = uuid.UUID("5216de7e-910b-4270-ae0f-222fff000001")
    plain = canonical.storable_canonical(session, 0, chat("plain 1e-5 text"), None)[0]
    assert b"7e-9" in plain and cleaned == []
    canonical.storable_canonical(session, 1, chat(data={"f": 1e-05}), None)
    assert len(cleaned) == 1  # a real exponent float still is


def test_the_key_by_key_writer_gives_the_bytes_of_one_sorted_json_dump() -> None:
    """The canonical form is written field by field for speed: it must be byte for byte what
    json.dumps(sort_keys, compact, ASCII) of the whole object gives, whatever the values' types."""
    from scis.evidence.canonical import canonical_parts
    from scis.evidence.records import CANONICAL_FIELDS

    odd_zone = timezone(timedelta(hours=-5, minutes=-30))
    samples = [
        chat("plain"),
        chat('quotes " backslash \\ newline \n tab \t é 👋 \u2028', nickname="Ünï", unique_id="a_b"),
        chat(data={"b": [1, 2.5, None, True], "a": {"z": "é", "y": -0.0}}, counts={"total": 9, "count": 1}),
        chat(server_time=datetime(2025, 1, 1, 7, 30, tzinfo=odd_zone), inferred=True, gift_id=-1),
        EventRecord(kind="gift", captured_at=datetime(2025, 1, 1, tzinfo=UTC), diamond_count=0, repeat_count=2**31 - 1),
        EventRecord(kind="odd", captured_at=datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), room_id=5, msg_id=True),  # type: ignore[arg-type]
    ]
    reference = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode
    for seq, record in enumerate(samples):
        digest = None if seq % 2 else "ab" * 32
        whole = {f.name: getattr(record, f.name) for f in CANONICAL_FIELDS if f.on_record}
        whole.update(session_id=str(SESSION), seq=seq, raw_sha256=digest)
        whole["captured_at"], whole["server_time"] = iso_utc(record.captured_at), iso_utc(record.server_time)
        assert canonical_parts(SESSION, seq, record, digest)[0] == reference(whole).encode()
