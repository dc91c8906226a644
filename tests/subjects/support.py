"""Two lives written straight through the evidence API, with a rename between them."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from scis.core.status import SessionStatus
from scis.evidence.chain import ChainTail, append_records, start_session
from scis.evidence.records import EventRecord

T0 = datetime(2025, 6, 1, 20, 0, 0, tzinfo=UTC)


@dataclass
class Live:
    session_id: uuid.UUID
    tail: ChainTail


def unique_user_ids() -> tuple[int, int]:
    """Two user ids no other test uses (the database is shared by the test session)."""
    base = random.randrange(10**15, 10**16) * 10
    return base + 1, base + 2


async def open_live(conn: AsyncConnection[Any], *, started_at: datetime, case_id: int | None = None) -> Live:
    session_id = uuid.uuid4()
    async with conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target="host", source="replay", case_id=case_id, config={},
            started_at=started_at, status=SessionStatus.LIVE,
        )  # fmt: skip
    return Live(session_id, tail)


async def append(conn: AsyncConnection[Any], live: Live, records: list[EventRecord]) -> None:
    async with conn.transaction():
        _, live.tail = await append_records(conn, live.session_id, live.tail, records)


def event(kind: str, at: datetime, user: int | None, handle: str | None, nick: str | None, **extra: Any) -> EventRecord:
    return EventRecord(kind=kind, captured_at=at, user_id=user, unique_id=handle, nickname=nick, **extra)


def first_live_records(alice: int, bob: int) -> list[EventRecord]:
    t = T0
    return [
        event("join", t + timedelta(seconds=1), alice, "alice_k", "Alice", counts={"member_count": 10}),
        event("chat", t + timedelta(seconds=2), alice, "alice_k", "Alice", body="hello"),
        event("viewers", t + timedelta(seconds=3), None, None, None, counts={"viewer_count": 12}),
        event("chat", t + timedelta(seconds=4), bob, "bob", "Bob", body="hi"),
        event("gift", t + timedelta(seconds=5), alice, "alice_k", "Alice", gift_id=5655, gift_name="Rose",
              diamond_count=1, repeat_count=5),
        event("like", t + timedelta(seconds=6), alice, "alice_k", "Alice", counts={"count": 15, "total": 900}),
        event("chat", t + timedelta(seconds=7), alice, "alice_k", "Alice K", body="again",
              data={"user": {"avatar": "https://p16.example/a1.webp", "sec_uid": "MS4wLjAB-alice"}}),
    ]  # fmt: skip


def second_live_records(alice: int, bob: int) -> list[EventRecord]:
    t = T0 + timedelta(hours=1)
    return [
        event("chat", t + timedelta(seconds=1), alice, "alice_new", "Alice N", body="new name",
              data={"user": {"avatar": "https://p16.example/a2.webp"}}),
        event("share", t + timedelta(seconds=2), alice, "alice_new", "Alice N", counts={"share_count": 1}),
        event("follow", t + timedelta(seconds=3), alice, "alice_new", "Alice N", counts={"follow_count": 1}),
        event("like", t + timedelta(seconds=4), bob, "bob", "Bob", counts={"count": 3, "total": 903}),
        event("gift_update", t + timedelta(seconds=5), bob, "bob", "Bob", gift_id=5655, diamond_count=1,
              repeat_count=9),
        event("gift", t + timedelta(seconds=6), bob, "bob", "Bob", gift_id=7934, diamond_count=30, repeat_count=1),
    ]  # fmt: skip
