"""An event's fields are defined once (scis.evidence.records); every form of it is derived and agrees."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import psycopg

from scis.analyser.models import EventRead
from scis.capture.payloads import event_payload
from scis.evidence.canonical import canonical_parts
from scis.evidence.chain import ChainTail, chain_records
from scis.evidence.records import CANONICAL_FIELDS, EVENT_COLUMNS, EVENT_FIELDS, PUBLISHED_FIELDS, EventRecord

SESSION = uuid.UUID("5b0c2f4e-8a1d-4c3b-9e7f-0123456789ab")
# Records and the SHA-256 of their canonical form as chains stored before the fields were derived
# hash them: the canonical form must never change, or stored sessions stop verifying.
GOLDEN = [
    (
        EventRecord(
            kind="chat", captured_at=datetime(2025, 6, 1, 20, 0, 0, 391204, tzinfo=UTC), msg_id=7400000000000000004,
            method="WebcastChatMessage", room_id="7300000663665735000", user_id=6811000000000000001,
            unique_id="alice_k", nickname="Alice 👋", body="hello",
            data={"content_language": "en", "user": {"sec_uid": "x"}},
            server_time=datetime(2025, 6, 1, 22, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2))), raw=b"\x01\x02",
        ),
        "2fcd9860bf32facd4f37530e8b926cc0aef43763bb079f11aab2ee60fae490a2",
    ),
    (
        EventRecord(
            kind="gift", captured_at=datetime(2025, 6, 1, 20, 0, 1, tzinfo=UTC), gift_id=5655, gift_name="Rose",
            diamond_count=1, repeat_count=3, inferred=True, counts={"total": 9},
            data={"streak": {"closed_by": "timeout"}},
        ),
        "eb1bf6c3a928352bee7f6968154588a60f7bca4fb7fd94bde2bc46e4116569ca",
    ),
    (
        EventRecord(kind="session_end", captured_at=datetime(2025, 6, 1, 21, tzinfo=UTC), data={"status": "ended"}),
        "54a91ac3a75d47cc8352666827cc3a6de5f39ca802d3443b3bb0ce343677dbbd",
    ),
]  # fmt: skip


def test_the_canonical_form_is_byte_identical_to_the_stored_chains() -> None:
    for seq, (record, expected) in enumerate(GOLDEN):
        digest = None if record.raw is None else hashlib.sha256(record.raw).hexdigest()
        canonical, _, _ = canonical_parts(SESSION, seq, record, digest)
        assert hashlib.sha256(canonical).hexdigest() == expected, canonical


def test_every_form_of_an_event_has_the_defined_fields() -> None:
    published = [f.name for f in PUBLISHED_FIELDS]
    (item,), _ = chain_records(SESSION, ChainTail(), [GOLDEN[0][0]])
    payload = event_payload(item)
    assert list(payload) == published == list(EventRead.model_fields)
    assert EventRead.model_validate(payload).model_dump(mode="json") == payload
    assert payload["msg_id"] == "7400000000000000004" and payload["server_time"] == "2025-06-01T20:00:00.250000Z"
    canonical, _, _ = canonical_parts(SESSION, 0, GOLDEN[0][0], item.raw_sha256)
    assert sorted(json.loads(canonical)) == sorted(f.name for f in CANONICAL_FIELDS)
    assert set(published) - {f.name for f in CANONICAL_FIELDS} == {"chain_hash"}
    assert set(EVENT_COLUMNS) - set(published) == {"raw"}


def test_the_copy_columns_are_the_events_table(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        columns = dict(
            conn.execute(
                """SELECT column_name, udt_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = 'events'"""
            ).fetchall()
        )
    assert {f.name: f.column_type for f in EVENT_FIELDS} == columns


def test_the_bus_text_of_an_event_is_its_payload() -> None:
    """Decision 240: the bus text is written field by field with the hashed counts/data texts; it must
    read back as exactly the payload (and so the REST answer)."""
    from scis.capture.payloads import commit_message, event_payload_json, read_commit_message

    odd = EventRecord(
        kind="chat", captured_at=datetime(2025, 6, 1, 20, 0, 0, tzinfo=UTC), msg_id=2**63 - 1, user_id=1,
        nickname='"quoted" \\ é 👋 \u2028', body="]}", counts={"likes": 3, "ratio": 0.5}, data={"é": [1, "x"]},
    )  # fmt: skip
    rows, _ = chain_records(SESSION, ChainTail(), [record for record, _ in GOLDEN] + [odd])
    # from the texts chaining hashed, and from the fields alone (a record not chained in this process)
    for item in [*rows, *(dataclasses.replace(row, field_texts=None) for row in rows)]:
        assert json.loads(event_payload_json(item)) == event_payload(item)
        # and spelt as json.dumps spells the payload, with the hashed texts of counts and data
        marked = {**event_payload(item), "counts": "COUNTS", "data": "DATA"}
        spelt = json.dumps(marked, separators=(",", ":")).replace('"COUNTS"', item.counts_json or "null")
        assert event_payload_json(item) == spelt.replace('"DATA"', item.data_json or "null")
    commit = read_commit_message(commit_message(rows).encode())
    assert commit is not None and (commit.from_seq, commit.to_seq, commit.ended) == (0, 3, False)
    assert json.loads(commit.events_json) == [event_payload(item) for item in rows]
