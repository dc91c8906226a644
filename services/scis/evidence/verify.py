"""Recompute a session's hash chain and raw hashes from the database and name the first mismatch."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from scis.evidence.canonical import GENESIS_HASH, canonical_bytes, link
from scis.evidence.media import MediaStore, check_segment
from scis.evidence.records import SESSION_END, SESSION_START, VIDEO_SEGMENT, record_from_row

_SELECT = """SELECT seq, msg_id, kind, method, room_id, user_id, unique_id, nickname, body, gift_id,
                    gift_name, diamond_count, repeat_count, inferred, counts, data, server_time,
                    captured_at, raw, raw_sha256, chain_hash
               FROM events WHERE session_id = %s ORDER BY seq"""
EVENTS_SELECT = _SELECT  # every stored column of a session's records, in seq order (export reads the same)

VERIFICATIONS = Counter("scis_evidence_verifications_total", "Chain verifications, by result.", ["result"])
for _result in ("intact", "broken"):  # present from the start, so an alert sees the first failure as an increase
    VERIFICATIONS.labels(_result)


@dataclass(frozen=True, slots=True)
class ChainFailure:
    """The first record that does not match, and which check failed."""

    seq: int
    msg_id: int | None
    kind: str | None
    check: str  # sequence | start | raw_sha256 | chain_hash | video | seal | head | session
    detail: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    session_id: UUID
    intact: bool
    records_checked: int
    sealed: bool
    chain_head: str | None
    failure: ChainFailure | None

    def describe(self) -> str:
        """One line for a terminal or a report."""
        if self.failure is None:
            state = "sealed" if self.sealed else "not sealed yet"
            return (
                f"session {self.session_id}: intact, {self.records_checked} records, {state}, "
                f"chain head {self.chain_head}"
            )
        f = self.failure
        msg = f"msg_id {f.msg_id}" if f.msg_id is not None else "no msg_id"
        where = f"seq {f.seq} ({f.kind or '?'}, {msg})"
        return f"session {self.session_id}: TAMPERED at {where}: {f.check} check failed: {f.detail}"


def check_record(session_id: UUID, expected_seq: int, prev_hash: str, row: dict[str, Any]) -> ChainFailure | None:
    """The checks of one stored record against its predecessor's stored chain hash."""
    seq, msg_id, kind = row["seq"], row["msg_id"], row["kind"]
    if seq != expected_seq:
        return ChainFailure(
            expected_seq, None, None, "sequence", f"record seq {expected_seq} is missing (next stored is {seq})"
        )
    if seq == 0 and kind != SESSION_START:
        return ChainFailure(seq, msg_id, kind, "start", f"first record is {kind!r}, not {SESSION_START!r}")
    raw = row["raw"]
    actual_raw = None if raw is None else hashlib.sha256(raw).hexdigest()
    if actual_raw != row["raw_sha256"]:
        return ChainFailure(
            seq, msg_id, kind, "raw_sha256", f"raw bytes hash to {actual_raw}, stored {row['raw_sha256']}"
        )
    try:
        expected = link(prev_hash, canonical_bytes(session_id, seq, record_from_row(row), row["raw_sha256"]))
    except (ValueError, TypeError) as error:
        return ChainFailure(seq, msg_id, kind, "chain_hash", f"record cannot be put in canonical form: {error}")
    if expected != row["chain_hash"]:
        return ChainFailure(seq, msg_id, kind, "chain_hash", f"fields hash to {expected}, stored {row['chain_hash']}")
    return None


async def _check_video(media: MediaStore, row: dict[str, Any]) -> ChainFailure | None:
    problem = await asyncio.to_thread(check_segment, media, row["data"])
    return None if problem is None else ChainFailure(row["seq"], None, VIDEO_SEGMENT, "video", problem)


# Told each stored row (the columns of EVENTS_SELECT) as verification reads it, before it is checked.
OnRow = Callable[[dict[str, Any]], None]


async def verify_session(
    conn: AsyncConnection[Any], session_id: UUID | str, *, media: MediaStore | None = None, on_row: OnRow | None = None
) -> ChainVerdict:
    """Recompute every record of a session; the verdict names the first that does not match.

    With `media`, the video segments the chain records are re-hashed from that store too. `on_row`
    sees each row read, up to and including the first that fails (a report's transcript is written
    from the same pass).
    """
    session_id = UUID(str(session_id))
    if conn.info.transaction_status == TransactionStatus.IDLE and not conn.autocommit:
        # One snapshot for the session row and its records, even while a capture is appending.
        async with conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            verdict = await _verify(conn, session_id, media, on_row)
    else:
        async with conn.transaction():
            verdict = await _verify(conn, session_id, media, on_row)
    VERIFICATIONS.labels("intact" if verdict.intact else "broken").inc()
    return verdict


async def _verify(
    conn: AsyncConnection[Any], session_id: UUID, media: MediaStore | None, on_row: OnRow | None = None
) -> ChainVerdict:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT chain_head, events_count FROM live_sessions WHERE id = %s", (session_id,))
    session = await cur.fetchone()
    if session is None:
        raise LookupError(f"no live session {session_id}")

    prev_hash, expected_seq, failure, last_kind = GENESIS_HASH, 0, None, None
    last_msg_id: int | None = None
    async with conn.cursor(name=f"verify_{session_id.hex}", row_factory=dict_row) as rows:
        rows.itersize = 2000
        await rows.execute(_SELECT, (session_id,))
        async for row in rows:
            if on_row is not None:
                on_row(row)
            if last_kind == SESSION_END:
                failure = ChainFailure(row["seq"], row["msg_id"], row["kind"], "seal", "record stored after the seal")
                break
            failure = check_record(session_id, expected_seq, prev_hash, row)
            if failure is None and media is not None and row["kind"] == VIDEO_SEGMENT:
                failure = await _check_video(media, row)
            if failure is not None:
                break
            prev_hash, expected_seq = row["chain_hash"], expected_seq + 1
            last_kind, last_msg_id = row["kind"], row["msg_id"]

    if failure is None and expected_seq == 0:
        failure = ChainFailure(0, None, None, "start", "the session has no records")
    if failure is None and session["chain_head"] not in (None, prev_hash):
        failure = ChainFailure(
            expected_seq - 1, last_msg_id, last_kind, "head",
            f"last record's chain hash {prev_hash} differs from the session's head {session['chain_head']}",
        )  # fmt: skip
    if failure is None and last_kind == SESSION_END and session["events_count"] != expected_seq:
        failure = ChainFailure(
            expected_seq - 1, last_msg_id, last_kind, "session",
            f"session says {session['events_count']} records, {expected_seq} are stored",
        )  # fmt: skip
    return ChainVerdict(
        session_id=session_id,
        intact=failure is None,
        records_checked=expected_seq,
        sealed=last_kind == SESSION_END,
        chain_head=prev_hash if expected_seq else None,
        failure=failure,
    )
