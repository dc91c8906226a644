"""A case with captured sessions (chats, gift streaks, a gap each), written through the evidence API."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg

from scis.capture.gapfill import OpenGap, filled_record
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, gap_record, seal_session, start_session
from scis.evidence.records import EventRecord
from tests.evidence.support import T0

ADMIN = User(username="report-admin", role=Role.admin)
CONTEXT = AuditContext(actor=ADMIN, source_ip=None, request_id=None, service="reports")
GIFTERS = {"rose_fan": (1, 5), "lion_king": (29_999, 2)}  # unique_id: (diamonds per gift, streak count)


def scenario_events(offset: int) -> list[EventRecord]:
    """Six chats from three viewers and one gift streak per gifter."""
    events = [
        EventRecord(kind="chat", captured_at=T0 + timedelta(seconds=i + 1), msg_id=offset + i, user_id=100 + i % 3,
                    unique_id=f"viewer_{i % 3}", nickname=f"Viewer {i % 3}", body=f"chat line {offset + i}",
                    raw=f"raw-chat-{offset + i}".encode())
        for i in range(6)
    ]  # fmt: skip
    for index, (who, (diamonds, repeat)) in enumerate(GIFTERS.items()):
        events.append(
            EventRecord(kind="gift", captured_at=T0 + timedelta(seconds=70 + index), msg_id=offset + 50 + index,
                        user_id=200 + index, unique_id=who, gift_id=index + 1, gift_name=f"Gift{index}",
                        diamond_count=diamonds, repeat_count=repeat, raw=f"raw-gift-{offset}-{index}".encode())
        )  # fmt: skip
    return events


async def write_case_session(
    conn: psycopg.AsyncConnection[Any], case_id: int, offset: int, reason: str, extra_chats: int = 0
) -> uuid.UUID:
    """A sealed session of the scenario (and `extra_chats` more chat lines, for a long transcript)."""
    session_id = uuid.uuid4()
    async with conn.transaction():
        tail, _ = await start_session(conn, session_id=session_id, target=f"host_{offset}", source="replay",
                                      case_id=case_id, config={"test": True}, started_at=T0,
                                      status=SessionStatus.LIVE)  # fmt: skip
        events = scenario_events(offset)
        _, tail = await append_records(conn, session_id, tail, events[:3])
        gap = gap_record(started=T0 + timedelta(seconds=3), ended=T0 + timedelta(seconds=9), reason=reason,
                         detail=f"{reason} during test")  # fmt: skip
        _, tail = await append_records(conn, session_id, tail, [gap])
        _, tail = await append_records(conn, session_id, tail, events[3:])
        for start in range(0, extra_chats, 5000):
            more = [
                EventRecord(kind="chat", captured_at=T0 + timedelta(seconds=100, milliseconds=i),
                            msg_id=offset * 100_000 + i, user_id=300 + i % 50, unique_id=f"talker_{i % 50}",
                            body=f"more chat {i}", raw=f"raw-more-{offset}-{i}".encode())
                for i in range(start, min(extra_chats, start + 5000))
            ]  # fmt: skip
            _, tail = await append_records(conn, session_id, tail, more)
        await seal_session(conn, session_id, status=SessionStatus.ENDED, reason="test",
                           ended_at=T0 + timedelta(minutes=3))  # fmt: skip
    return session_id


async def make_case(conn: psycopg.AsyncConnection[Any]) -> int:
    reference = f"RPT-{uuid.uuid4().hex[:8]}"
    cur = await conn.execute(
        "INSERT INTO cases (reference, title, created_by) VALUES (%s, %s, %s) RETURNING id",
        (reference, "Gift fraud ring", ADMIN.username),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def write_filled_gaps_session(conn: psycopg.AsyncConnection[Any], case_id: int) -> dict[str, int]:
    """A sealed session with three gaps: one completely filled by 4 re-sent chats, one partly by 2, one open.

    The fills are the capture's own `gap_filled` records (scis.capture.gapfill); returns each gap's seq by reason.
    """
    session_id = uuid.uuid4()
    spans = {"disconnect": (3, 9), "stall": (20, 30), "crash": (40, 50)}  # seconds after T0
    resent = {"disconnect": [3, 5, 6, 8], "stall": [26, 28], "crash": []}  # server times of re-sent chats
    seqs: dict[str, int] = {}
    async with conn.transaction():
        tail, _ = await start_session(conn, session_id=session_id, target="host_gapfill", source="replay",
                                      case_id=case_id, config={"test": True}, started_at=T0,
                                      status=SessionStatus.LIVE)  # fmt: skip
        for reason, (start, end) in spans.items():
            started, ended = T0 + timedelta(seconds=start), T0 + timedelta(seconds=end)
            rows, tail = await append_records(conn, session_id, tail, [gap_record(
                started=started, ended=ended, reason=reason, detail=f"{reason} in gapfill test")])  # fmt: skip
            seqs[reason] = rows[0].seq
            chats = [EventRecord(kind="chat", captured_at=ended + timedelta(seconds=1), msg_id=9000 + start * 10 + i,
                                 server_time=T0 + timedelta(seconds=second), user_id=700, unique_id="resender",
                                 body=f"re-sent {second}", raw=f"raw-resent-{second}".encode())
                     for i, second in enumerate(resent[reason])]  # fmt: skip
            if not chats:
                continue
            gap = OpenGap(session_id, rows[0].seq, reason, started, ended)
            first = T0 + timedelta(seconds=resent[reason][0])
            remaining = None if first <= started else (started, first)
            fill = filled_record(gap, {"already_stored_messages_resent": 0}, remaining=remaining)
            _, tail = await append_records(conn, session_id, tail, [*chats, fill])
        await seal_session(conn, session_id, status=SessionStatus.ENDED, reason="test",
                           ended_at=T0 + timedelta(minutes=3))  # fmt: skip
    return seqs
