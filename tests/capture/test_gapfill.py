"""A capture's own `disconnect`/`stall` gap is filled by the re-sent frame after the reconnect, whichever
comes first: the frame, or the commit that gives the gap record its seq (decision 412)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from scis.capture.gapfill import GapFiller, OpenGap
from scis.evidence.chain import gap_record
from scis.evidence.records import ChainedRecord, EventRecord

SESSION = uuid.uuid4()
DROPPED = datetime(2026, 12, 3, 4, 51, 35, tzinfo=UTC)


def _own_gap() -> tuple[OpenGap, EventRecord]:
    record = gap_record(started=DROPPED, ended=DROPPED + timedelta(seconds=1), reason="disconnect", detail="drop")
    gap = OpenGap.own(SESSION, record)
    assert gap is not None
    return gap, record


def _committed(record: EventRecord, seq: int) -> ChainedRecord:
    return ChainedRecord(SESSION, seq, record, None, "hash")


def _resent() -> list[EventRecord]:
    """A re-sent message, created before the socket dropped (the dedupe drops it as already stored)."""
    return [EventRecord(kind="chat", captured_at=DROPPED, msg_id=7, server_time=DROPPED - timedelta(seconds=2))]


def test_the_resent_frame_before_the_gap_is_committed_waits_for_its_seq() -> None:
    gap, record = _own_gap()
    filler = GapFiller([gap])
    assert filler.resolve(_resent(), already_stored=1) == [], "the gap has no seq yet"
    (filled,) = filler.placed([_committed(record, 1061)])
    assert filled.data["gap"]["seq"] == 1061 and filled.data["filled"] == "completely"


def test_the_gap_committed_before_the_resent_frame_is_filled_too() -> None:
    """On a busy machine the writer can commit the gap before the reconnected socket's first frame."""
    gap, record = _own_gap()
    filler = GapFiller([gap])
    assert filler.placed([_committed(record, 1061)]) == []
    (filled,) = filler.resolve(_resent(), already_stored=1)
    assert filled.data["gap"]["seq"] == 1061 and filled.data["filled"] == "completely"
    assert not filler.waiting and filler.unplaced == []
