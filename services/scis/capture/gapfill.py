"""A gap the server's re-sending filled: recorded as a `gap_filled` chain record, never by editing the gap.

A `crash` or `restart` gap spans from the last record stored to the moment a capture took over. A
capture resuming with the stored cursor asks the server to re-send from there, so the messages sent
meanwhile usually come again, and the gap no longer names anything missing. Gap records are part of
an append-only chain, so the resumed capture states it instead, in its own session, after the first
received item that carries messages (decision 411):

- that item holds messages already stored, or its first message was created before the gap began:
  the stream went on from before the gap, so the whole gap is filled (whatever the resumed capture
  misses later is in its own gap records);
- its first message was created inside the gap: the gap is filled from then on; what remains
  missing is named (`remaining`);
- otherwise (the server re-sent nothing older): no record, the gap stands as it is.

A `disconnect` or `stall` gap is this capture's own: the websocket source reconnects one frame back
(from the cursor before the last frame it received), so a server that honours the cursor re-sends that
frame and the overlap proves nothing in between was skipped. The same rule decides; as the gap record
is usually not stored yet when the re-sent frame arrives, its `gap_filled` waits for the gap's seq and
is appended once the gap is committed (`GapFiller.placed`); a gap committed first learns its seq there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

from scis.evidence.canonical import iso_utc
from scis.evidence.records import GAP, GAP_FILLED, ChainedRecord, EventRecord

FILLABLE_REASONS = frozenset({"crash", "restart"})  # stated by an earlier run, found stored
IN_SESSION_REASONS = frozenset({"disconnect", "stall"})  # this capture's own, filled by its reconnected socket


@dataclass(frozen=True, slots=True)
class OpenGap:
    """A gap record (where it is stored, and the stretch it names) a resumed stream may fill."""

    session_id: UUID
    seq: int | None  # None: this capture's own gap, not stored yet (see GapFiller.placed)
    reason: str
    started: datetime
    ended: datetime

    @classmethod
    def of(cls, row: ChainedRecord) -> OpenGap | None:
        data = row.record.data or {}
        if row.record.kind != GAP or data.get("reason") not in FILLABLE_REASONS:
            return None
        return cls(row.session_id, row.seq, str(data["reason"]), *stretch(data))

    @classmethod
    def own(cls, session_id: UUID, record: EventRecord) -> OpenGap | None:
        """This capture's `disconnect`/`stall` gap record, just queued (its seq comes with the commit)."""
        data = record.data or {}
        if record.kind != GAP or data.get("reason") not in IN_SESSION_REASONS:
            return None
        return cls(session_id, None, str(data["reason"]), *stretch(data))

    def is_stored_as(self, row: ChainedRecord) -> bool:
        """`row` is this gap's record (a session's gaps never share reason and stretch)."""
        data = row.record.data or {}
        return (row.session_id == self.session_id and row.record.kind == GAP and data.get("reason") == self.reason
                and data.get("from") == iso_utc(self.started) and data.get("to") == iso_utc(self.ended))  # fmt: skip

    def stored_at(self, rows: Sequence[ChainedRecord]) -> OpenGap:
        """This gap with its seq, if `rows` (just committed) hold its record."""
        if self.seq is not None:
            return self
        row = next((row for row in rows if self.is_stored_as(row)), None)
        return self if row is None else replace(self, seq=row.seq)

    def describe(self) -> dict[str, object]:
        return {"session_id": str(self.session_id), "seq": self.seq, "reason": self.reason,
                "from": iso_utc(self.started), "to": iso_utc(self.ended)}  # fmt: skip


class GapFiller:
    """Waits for the first received item carrying messages, then says which open gaps it fills."""

    def __init__(self, gaps: list[OpenGap]) -> None:
        self.gaps = gaps
        self.unplaced: list[tuple[OpenGap, EventRecord]] = []  # filled, waiting for the gap's own seq

    @property
    def waiting(self) -> bool:
        return bool(self.gaps)

    def resolve(self, records: list[EventRecord], already_stored: int) -> list[EventRecord]:
        """`records`: what the item gave; `already_stored`: its messages dropped as already stored."""
        times = [r.server_time for r in records if r.msg_id is not None and r.server_time is not None]
        if not times and not already_stored:
            return []  # no message in this item (an enter-room answer, a heartbeat): wait for the next
        first = min(times) if times else None
        filled = []
        for gap in self.gaps:
            evidence: dict[str, object] = {"already_stored_messages_resent": already_stored,
                        "first_message_created": iso_utc(first) if first else None}  # fmt: skip
            if already_stored or (first is not None and first <= gap.started):
                filled.append((gap, filled_record(gap, evidence, remaining=None)))
            elif first is not None and first < gap.ended:
                filled.append((gap, filled_record(gap, evidence, remaining=(gap.started, first))))
        self.gaps = []
        self.unplaced += [(gap, record) for gap, record in filled if gap.seq is None]
        return [record for gap, record in filled if gap.seq is not None]

    def placed(self, rows: Sequence[ChainedRecord]) -> list[EventRecord]:
        """The `gap_filled` records whose gap is among these committed rows, now naming its seq. A gap
        committed before the re-sent frame came learns its seq here, so `resolve` can name it."""
        self.gaps = [gap.stored_at(rows) for gap in self.gaps]
        ready, waiting = [], []
        for gap, record in self.unplaced:
            stored = gap.stored_at(rows)
            if stored.seq is None:
                waiting.append((gap, record))
            else:
                record.data["gap"]["seq"] = stored.seq
                ready.append(record)
        self.unplaced = waiting
        return ready


def stretch(data: dict[str, object]) -> tuple[datetime, datetime]:
    """A gap record's `from` and `to`."""
    started, ended = (datetime.fromisoformat(str(data[key]).replace("Z", "+00:00")) for key in ("from", "to"))
    return started, ended


def filled_record(
    gap: OpenGap, evidence: dict[str, object], *, remaining: tuple[datetime, datetime] | None
) -> EventRecord:
    if remaining is None:
        detail = ("the server re-sent from before this gap: every message sent during it was received again "
                  "and stored (anything this capture missed later is in its own gap records)")  # fmt: skip
    else:
        detail = ("the server re-sent from inside this gap: messages sent from `remaining.to` on were received; "
                  "only those sent during `remaining` are missing")  # fmt: skip
    return EventRecord(
        kind=GAP_FILLED,
        captured_at=datetime.now(UTC),
        data={
            "gap": gap.describe(),
            "filled": "partly" if remaining else "completely",
            "remaining": {"from": iso_utc(remaining[0]), "to": iso_utc(remaining[1])} if remaining else None,
            "evidence": evidence,
            "detail": detail,
        },
    )
