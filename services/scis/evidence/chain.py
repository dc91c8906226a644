"""Appending to a live session's hash chain in PostgreSQL: start record, events, gaps, end seal.

The writer of a capture is the only one who appends to its session while it runs; `seal_session`
also closes a session whose capture died, continuing from the chain tail stored in the database.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

import scis
from scis.core.status import SessionStatus
from scis.evidence.canonical import (
    CHAIN_FORMAT,
    GENESIS_HASH,
    iso_utc,
    link,
    raw_sha256,
    storable_canonical_texts,
)
from scis.evidence.records import (
    EVENT_COLUMNS,
    EVENT_FIELDS,
    GAP,
    SESSION_END,
    SESSION_START,
    ChainedRecord,
    EventRecord,
    field_getter,
)

_COPY_TYPES = tuple(f.column_type for f in EVENT_FIELDS)
_COPY_SQL = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TEXT_SQL = _COPY_SQL.replace("BINARY", "TEXT")
_copy_values = field_getter(EVENT_FIELDS)
_COUNTS_AT, _DATA_AT = EVENT_COLUMNS.index("counts"), EVENT_COLUMNS.index("data")


class SessionSealed(Exception):
    """The session already has its end record; nothing may be appended after it."""


@dataclass(frozen=True, slots=True)
class ChainTail:
    """Where the next record of a session goes; immutable: chaining returns the next tail."""

    next_seq: int = 0
    prev_hash: str = GENESIS_HASH
    last_captured_at: datetime | None = None


def chain_records(
    session_id: UUID, tail: ChainTail, records: Iterable[EventRecord]
) -> tuple[list[ChainedRecord], ChainTail]:
    """Give records their seq and chain hash after `tail`: the chained rows and the tail after them.

    Pure apart from cleaning the records for storage (deterministic, so chaining again gives the same).
    """
    rows = list(_chained(session_id, tail, records))
    return rows, tail_after(tail, rows)


def tail_after(tail: ChainTail, rows: Sequence[ChainedRecord]) -> ChainTail:
    """The tail after `rows`, chained in order after `tail`."""
    if not rows:
        return tail
    last = rows[-1]
    return ChainTail(last.seq + 1, last.chain_hash, last.record.captured_at)


def _chained(session_id: UUID, tail: ChainTail, records: Iterable[EventRecord]) -> Iterator[ChainedRecord]:
    seq, prev_hash = tail.next_seq, tail.prev_hash
    session_text = str(session_id)  # once per batch, not once per record
    for record in records:
        digest = raw_sha256(record.raw)
        canonical, counts_json, data_json, texts = storable_canonical_texts(session_text, seq, record, digest)
        prev_hash = link(prev_hash, canonical)
        yield ChainedRecord(session_id, seq, record, digest, prev_hash, counts_json, data_json, texts)
        seq += 1


class ChainingBatch:
    """A batch chained as it is read: its first rows can be on their way to PostgreSQL while the next
    are chained (`store_chaining`). Each record is chained once, however many times the rows are read
    (a COPY that failed half-way and its retry)."""

    def __init__(self, session_id: UUID, tail: ChainTail, records: Sequence[EventRecord]) -> None:
        self._tail = tail
        self._rows: list[ChainedRecord] = []
        self._rest = _chained(session_id, tail, records)

    def rows_iter(self) -> Iterator[ChainedRecord]:
        """Every row of the batch in order: those chained already, then the others as they are chained."""
        yield from self._rows
        for row in self._rest:
            self._rows.append(row)
            yield row

    def complete(self) -> tuple[list[ChainedRecord], ChainTail]:
        """The whole batch chained: its rows and the tail after them."""
        self._rows.extend(self._rest)
        return self._rows, tail_after(self._tail, self._rows)


def _as_is(text: Any) -> str:
    return str(text)


def _jsonb(value: Any, text: str | None) -> Jsonb | None:
    if value is None:
        return None
    return Jsonb(text, dumps=_as_is) if text is not None else Jsonb(value)


def copy_row(item: ChainedRecord) -> list[Any]:
    """One COPY row; counts and data go as the JSON texts that were hashed."""
    row = list(_copy_values(item))
    row[_COUNTS_AT] = _jsonb(item.record.counts, item.counts_json)
    row[_DATA_AT] = _jsonb(item.record.data, item.data_json)
    return row


async def copy_records(conn: AsyncConnection[Any], rows: Iterable[ChainedRecord], *, streamed: bool = False) -> None:
    """Write chained records with one COPY; the caller owns the transaction.

    Binary COPY costs this process half as much per row, but PostgreSQL stores binary rows only
    once it holds 1,000 of them or the COPY ends. Rows `streamed` (chained as they are written:
    ChainingBatch.rows_iter) go as text, which PostgreSQL stores every 64 KiB: it stores the first
    rows while the next are chained, instead of waiting for the last (decision 244).
    """
    async with conn.cursor().copy(_COPY_TEXT_SQL if streamed else _COPY_SQL) as copy:
        copy.set_types(_COPY_TYPES)
        for item in rows:
            await copy.write_row(copy_row(item))


MOVE_HEAD_SQL = "UPDATE live_sessions SET chain_head = %s, events_count = %s WHERE id = %s"


async def store_chained(
    conn: AsyncConnection[Any], session_id: UUID, rows: Sequence[ChainedRecord], tail_after: ChainTail
) -> None:
    """COPY rows already chained and move the session's head to `tail_after`, in the caller's transaction."""
    if rows:
        await copy_records(conn, rows)
    await _move_head(conn, session_id, tail_after)


async def store_chaining(conn: AsyncConnection[Any], session_id: UUID, batch: ChainingBatch) -> None:
    """`store_chained` of a batch chained while its COPY runs (`batch.complete()` has its rows and tail)."""
    await copy_records(conn, batch.rows_iter(), streamed=True)
    await _move_head(conn, session_id, batch.complete()[1])


async def _move_head(conn: AsyncConnection[Any], session_id: UUID, tail: ChainTail) -> None:
    await conn.execute(MOVE_HEAD_SQL, (tail.prev_hash, tail.next_seq, session_id))


async def append_records(
    conn: AsyncConnection[Any], session_id: UUID, tail: ChainTail, records: Sequence[EventRecord]
) -> tuple[list[ChainedRecord], ChainTail]:
    """Chain, COPY and move the session's head, in the caller's transaction; the rows and the next tail."""
    rows, tail_after = chain_records(session_id, tail, records)
    await store_chained(conn, session_id, rows, tail_after)
    return rows, tail_after


def session_config(
    *,
    session_id: UUID,
    target: str,
    source: str,
    case_id: int | None,
    settings: dict[str, Any],
    started_at: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration snapshot recorded in live_sessions.config and in the session-start record."""
    return {
        "chain_format": CHAIN_FORMAT,
        "scis_version": scis.__version__,
        "session_id": str(session_id),
        "source": source,
        "target": target,
        "case_id": case_id,
        "capture_host": socket.gethostname(),
        "started_at": iso_utc(started_at),
        "settings": settings,
        **(extra or {}),
    }


async def start_session(
    conn: AsyncConnection[Any],
    *,
    session_id: UUID,
    target: str,
    source: str,
    case_id: int | None,
    config: dict[str, Any],
    started_at: datetime,
    status: SessionStatus,
    created_by: str = "system",
) -> tuple[ChainTail, list[ChainedRecord]]:
    """Create the session with its start record, or resume an existing unsealed one with a restart gap."""
    tail = await read_tail(conn, session_id)
    if tail is None:
        await conn.execute(
            """INSERT INTO live_sessions (id, case_id, target, source, status, config, started_at, created_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (session_id, case_id, target, source, status, Jsonb(config), started_at, created_by),
        )
        first = EventRecord(kind=SESSION_START, captured_at=started_at, data=config)
        rows, tail = await append_records(conn, session_id, ChainTail(), [first])
        return tail, rows
    if await is_sealed(conn, session_id):
        raise SessionSealed(f"live session {session_id} is sealed; start a new session")
    await set_status(conn, session_id, status, "capture restarted")
    # Until now: the source was opened (room found, first fetch made) after `started_at`, and what was
    # sent before that first fetch is not re-sent to a capture connecting without the cursor.
    resumed_at = max(started_at, datetime.now(UTC))
    gap = gap_record(
        started=await latest_capture_time(conn, session_id) or started_at,
        ended=resumed_at,
        reason="restart",
        detail="capture process restarted",
        extra={"config": config},
    )
    rows, tail = await append_records(conn, session_id, tail, [gap])
    return tail, rows


def gap_record(
    *, started: datetime, ended: datetime, reason: str, detail: str = "", extra: dict[str, Any] | None = None
) -> EventRecord:
    """A gap in the capture (from, to, reason) as a chain record of its own."""
    data: dict[str, Any] = {"from": iso_utc(started), "to": iso_utc(ended), "reason": reason, "detail": detail}
    data.update(extra or {})
    return EventRecord(kind=GAP, captured_at=ended, data=data)


async def read_tail(conn: AsyncConnection[Any], session_id: UUID) -> ChainTail | None:
    """The chain tail stored for a session; None when the session does not exist."""
    cur = await conn.execute("SELECT 1 FROM live_sessions WHERE id = %s FOR UPDATE", (session_id,))
    if await cur.fetchone() is None:
        return None
    cur = await conn.execute(
        "SELECT seq, chain_hash, captured_at FROM events WHERE session_id = %s ORDER BY seq DESC LIMIT 1",
        (session_id,),
    )
    last = await cur.fetchone()
    if last is None:
        return ChainTail()
    seq, chain_hash, captured_at = _values(last, "seq", "chain_hash", "captured_at")
    return ChainTail(seq + 1, chain_hash, captured_at)


async def latest_capture_time(conn: AsyncConnection[Any], session_id: UUID) -> datetime | None:
    """When the latest record of a session was captured (not always the last in seq: replayed spill)."""
    cur = await conn.execute("SELECT max(captured_at) AS latest FROM events WHERE session_id = %s", (session_id,))
    row = await cur.fetchone()
    return None if row is None else _values(row, "latest")[0]


async def is_sealed(conn: AsyncConnection[Any], session_id: UUID) -> bool:
    cur = await conn.execute("SELECT kind FROM events WHERE session_id = %s ORDER BY seq DESC LIMIT 1", (session_id,))
    last = await cur.fetchone()
    return last is not None and _values(last, "kind")[0] == SESSION_END


async def set_status(conn: AsyncConnection[Any], session_id: UUID, status: SessionStatus, reason: str = "") -> None:
    await conn.execute(
        "UPDATE live_sessions SET status = %s, status_reason = %s WHERE id = %s", (status, reason, session_id)
    )


async def seal_session(
    conn: AsyncConnection[Any],
    session_id: UUID,
    *,
    status: SessionStatus,
    reason: str = "",
    ended_at: datetime | None = None,
    summary: dict[str, Any] | None = None,
) -> ChainedRecord:
    """Append the session-end record and close the session; the caller commits."""
    tail = await read_tail(conn, session_id)
    if tail is None:
        raise LookupError(f"no live session {session_id}")
    if await is_sealed(conn, session_id):
        raise SessionSealed(f"live session {session_id} is already sealed")
    ended_at = ended_at or datetime.now(UTC)
    data = {"status": status, "reason": reason, "ended_at": iso_utc(ended_at), "records": tail.next_seq + 1}
    data.update(summary or {})
    (end,), _ = await append_records(
        conn, session_id, tail, [EventRecord(kind=SESSION_END, captured_at=ended_at, data=data)]
    )
    await conn.execute(
        "UPDATE live_sessions SET status = %s, status_reason = %s, ended_at = %s WHERE id = %s",
        (status, reason, ended_at, session_id),
    )
    return end


def _values(row: Any, *names: str) -> tuple[Any, ...]:
    """Column values from a dict row or a tuple row, so callers may use either row factory."""
    if isinstance(row, dict):
        return tuple(row[name] for name in names)
    return tuple(row[: len(names)])
