"""Resuming never stores a message twice, whatever the stopped run made of it (decision 413).

The 8 duplicates once seen after SIGTERM + restart under load: a gift streak closed as inferred
(its frames came slower than the streak timeout, as on a starved machine) turns the streak's later
frames into `gift_update` records. The resumed capture knew stored messages by (stored kind, msg_id),
so the same frames re-sent by the server, decoded as `gift`, were not recognised and were stored again
in the new session. And a replayed spill held the batch the stopped run was committing (its commit
may have landed): a gap record in it was stored a second time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from scis.capture.adoption import replay_spill, stored_message_keys
from scis.capture.dedupe import RecentKeys
from scis.capture.normalise import Normaliser
from scis.capture.spill import SpillQueue, session_spill_dir
from scis.capture.streaks import GIFT_UPDATE, GiftStreaks
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.chain import ChainTail, append_records, gap_record, start_session
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session
from scis.webcast.events import WebcastEvent
from tests.capture.support import stored_events, stored_msg_ids

START = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def gift_frame(msg_id: int, repeat: int, *, end: bool = False) -> WebcastEvent:
    return WebcastEvent(
        kind="gift", method="WebcastGiftMessage", msg_id=msg_id, room_id="1", server_time=START,
        user_id=77, unique_id="giver", nickname="Giver", body=None, gift_id=5655, gift_name="Rose",
        diamond_count=1, repeat_count=repeat, repeat_end=end, group_id=9, gift_type=1, raw=b"frame",
    )  # fmt: skip


async def new_session(pool: AsyncConnectionPool[Any], target: str) -> tuple[uuid.UUID, ChainTail]:
    session_id = uuid.uuid4()
    async with pool.connection() as conn, conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target=target, source="websocket", case_id=None, config={},
            started_at=START, status=SessionStatus.LIVE,
        )  # fmt: skip
    return session_id, tail


async def store(pool: AsyncConnectionPool[Any], session_id: uuid.UUID, tail: ChainTail,
                records: list[EventRecord]) -> ChainTail:  # fmt: skip
    async with pool.connection() as conn, conn.transaction():
        _, tail = await append_records(conn, session_id, tail, records)
    return tail


async def test_a_streak_frame_stored_as_gift_update_is_not_stored_again_by_a_resume(
    pool: AsyncConnectionPool[Any],
) -> None:
    clock = Clock()
    first = Normaliser(GiftStreaks(0.5, clock=clock))
    records = first.event(gift_frame(101, 1), START)
    clock.now = 1.0  # the next frame is late: the streak is closed as inferred
    records += first.streaks.expire()
    records += first.event(gift_frame(102, 2, end=True), START + timedelta(seconds=1))
    assert [r.kind for r in records] == ["gift", GIFT_UPDATE]
    stopped, tail = await new_session(pool, "resume_dupes")
    await store(pool, stopped, tail, records)

    # The resumed capture: the server re-sends both frames from the stored cursor.
    resumed = Normaliser(GiftStreaks(0.5, clock=Clock()), RecentKeys())
    async with pool.connection() as conn:
        resumed.dedupe.remember(await stored_message_keys(conn, [stopped]))
    known = resumed.dedupe.duplicates
    again = resumed.event(gift_frame(101, 1), START) + resumed.event(gift_frame(102, 2, end=True), START)
    again += resumed.streaks.close_all()
    assert again == [], f"re-sent frames stored again: {[(r.kind, r.msg_id) for r in again]}"
    assert resumed.dedupe.duplicates - known == 2
    stored = stored_msg_ids(await stored_events(pool, stopped))
    assert sorted(stored) == [101, 102]


async def test_a_replayed_spill_skips_what_the_stopped_run_had_committed(
    pool: AsyncConnectionPool[Any], settings: Settings
) -> None:
    session_id, tail = await new_session(pool, "replay_dupes")
    chats = [EventRecord(kind="chat", captured_at=START + timedelta(seconds=n), msg_id=500 + n, body=f"hi {n}")
             for n in range(6)]  # fmt: skip
    gap = gap_record(started=START, ended=START + timedelta(seconds=2), reason="disconnect", detail="drop")
    in_flight = [chats[0], gap, chats[1], chats[2]]
    # The commit of the in-flight batch landed, but its answer was lost: the run parked it anyway.
    await store(pool, session_id, tail, in_flight)
    queue = SpillQueue(2, session_spill_dir(settings.home, session_id))
    for record in chats[3:]:
        queue.put(record)
    kept, lost = queue.park(in_flight)
    assert (kept, lost) == (7, 0)

    replayed = await replay_spill(pool, settings, session_id)

    assert replayed.count == 7
    rows = await stored_events(pool, session_id)
    assert [r["kind"] for r in rows] == ["session_start", "chat", "gap", "chat", "chat", "chat", "chat", "chat"]
    assert sorted(stored_msg_ids(rows)) == [500 + n for n in range(6)]
    async with pool.connection() as conn:
        assert (await verify_session(conn, session_id)).intact
