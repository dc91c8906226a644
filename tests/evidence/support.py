"""Sessions written straight through the evidence API, for verification tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, gap_record, seal_session, start_session
from scis.evidence.records import EventRecord

T0 = datetime(2025, 6, 1, 20, 0, 0, tzinfo=UTC)


def sample_events(count: int) -> list[EventRecord]:
    events = []
    for index in range(count):
        events.append(
            EventRecord(
                kind="chat",
                captured_at=T0 + timedelta(seconds=index + 1),
                msg_id=7_400_000_000_000_000_000 + index,
                method="WebcastChatMessage",
                room_id="7300000000000000001",
                user_id=6_800_000_000_000 + index,
                unique_id=f"viewer_{index}",
                nickname=f"Viewer {index}",
                body=f"message number {index} ✓",
                counts=None,
                data={"content_language": "en", "score": 0.5},
                server_time=T0 + timedelta(seconds=index, milliseconds=250),
                raw=bytes([index % 256]) * 40 + b"raw-envelope",
            )
        )
    return events


async def write_session(conn: AsyncConnection[Any], *, events: int = 10, seal: bool = True) -> uuid.UUID:
    session_id = uuid.uuid4()
    async with conn.transaction():
        tail, _ = await start_session(
            conn,
            session_id=session_id,
            target="sample",
            source="replay",
            case_id=None,
            config={"test": True},
            started_at=T0,
            status=SessionStatus.LIVE,
        )
        batch = sample_events(events)
        _, tail = await append_records(conn, session_id, tail, batch[: events // 2])
        gap = gap_record(started=T0, ended=T0 + timedelta(seconds=1), reason="disconnect", detail="test")
        _, tail = await append_records(conn, session_id, tail, [gap])
        await append_records(conn, session_id, tail, batch[events // 2 :])
        if seal:
            ended_at = T0 + timedelta(minutes=5)
            await seal_session(conn, session_id, status=SessionStatus.ENDED, reason="test", ended_at=ended_at)
    return session_id


async def tamper(conn: AsyncConnection[Any], sql: str, params: tuple[Any, ...]) -> None:
    """Change stored evidence the way an attacker with superuser rights would."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        await conn.execute(sql, params)  # type: ignore[arg-type]
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
