"""The store stage against the real PostgreSQL and Redis: chained once, stored once, published once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from scis.capture.stats import CaptureStats
from scis.capture.writer import EventWriter, GroupCommitter
from scis.core.bus import LIVE_EVENTS
from scis.core.db import open_pool
from scis.core.status import SessionStatus
from scis.evidence.chain import ChainTail, chain_records, read_tail, start_session, store_chained
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session


def chat(msg_id: int) -> EventRecord:
    return EventRecord(kind="chat", captured_at=datetime.now(UTC), msg_id=msg_id, body=f"message {msg_id}", raw=b"x")


async def new_session(pool: AsyncConnectionPool[Any]) -> tuple[uuid.UUID, ChainTail]:
    session_id = uuid.uuid4()
    async with pool.connection() as conn, conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target="writer", source="replay", case_id=None, config={},
            started_at=datetime.now(UTC), status=SessionStatus.LIVE,
        )  # fmt: skip
    return session_id, tail


def writer_for(pool: AsyncConnectionPool[Any], session_id: uuid.UUID, tail: ChainTail, **kwargs: Any) -> EventWriter:
    stats = CaptureStats(session_id, "writer", "replay")
    return EventWriter(pool, session_id, tail, batch_size=100, stats=stats, **kwargs)


async def stored_tail(pool: AsyncConnectionPool[Any], session_id: uuid.UUID) -> ChainTail | None:
    async with pool.connection() as conn, conn.transaction():
        return await read_tail(conn, session_id)


async def test_a_batch_with_an_already_stored_event_skips_it_and_keeps_the_chain(
    pool: AsyncConnectionPool[Any],
) -> None:
    session_id, tail = await new_session(pool)
    writer = writer_for(pool, session_id, tail)
    first, published = await writer.store([chat(1)])
    assert [row.seq for row in first] == [1] and published is False
    rows, _ = await writer.store([chat(2), chat(1), chat(3)])
    assert [(row.seq, row.record.msg_id) for row in rows] == [(2, 2), (3, 3)]
    assert writer.tail == ChainTail(4, rows[-1].chain_hash, rows[-1].record.captured_at)
    stored = await stored_tail(pool, session_id)
    assert stored is not None and (stored.next_seq, stored.prev_hash) == (4, rows[-1].chain_hash)
    async with pool.connection() as conn:
        assert (await verify_session(conn, session_id)).intact


async def test_a_commit_whose_answer_was_lost_is_not_written_twice(
    pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    session_id, tail = await new_session(pool)
    records = [chat(10), chat(11)]
    # An earlier attempt committed the batch, but its answer never came back: the shared commit
    # fails (here: its pool is closed), so the writer must find the batch in the store.
    rows, tail_after = chain_records(session_id, tail, records)
    async with pool.connection() as conn, conn.transaction():
        await store_chained(conn, session_id, rows, tail_after)
    closed = open_pool(postgres_url, min_size=0, max_size=1)
    committer = GroupCommitter(closed)
    writer = writer_for(pool, session_id, tail, committer=committer)
    again, _ = await writer.store(records)
    await committer.close()
    assert [row.chain_hash for row in again] == [row.chain_hash for row in rows]
    assert writer.tail == tail_after
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM events WHERE session_id = %s", (session_id,))
        row = await cur.fetchone()
        assert row is not None and list(row.values() if isinstance(row, dict) else row) == [3]
        verdict = await verify_session(conn, session_id)
    assert verdict.intact and verdict.records_checked == 3


async def test_a_group_commit_stores_and_publishes_each_session_once_in_order(
    pool: AsyncConnectionPool[Any], redis_client: aioredis.Redis
) -> None:
    committer = GroupCommitter(pool, redis=redis_client)
    sessions = [await new_session(pool) for _ in range(2)]
    writers = [writer_for(pool, sid, tail, redis=redis_client, committer=committer) for sid, tail in sessions]
    pubsub = redis_client.pubsub()
    await pubsub.psubscribe(LIVE_EVENTS.pattern)
    results = await asyncio.gather(*(w.store([chat(100 + i), chat(200 + i)]) for i, w in enumerate(writers)))
    more = await asyncio.gather(*(w.store([chat(300 + i)]) for i, w in enumerate(writers)))
    await committer.close()
    assert all(published for _, published in [*results, *more])
    seen: dict[str, list[int]] = {}
    deadline = asyncio.get_running_loop().time() + 10
    while sum(map(len, seen.values())) < 6 and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            commit = json.loads(message["data"])  # one message per session per commit: its seq range, its events
            assert [commit["from_seq"], commit["to_seq"]] == [commit["events"][0]["seq"], commit["events"][-1]["seq"]]
            for payload in commit["events"]:
                if payload["session_id"] in {str(sid) for sid, _ in sessions}:
                    seen.setdefault(payload["session_id"], []).append(payload["seq"])
    await pubsub.aclose()
    assert seen == {str(sid): [1, 2, 3] for sid, _ in sessions}
    for (sid, _), writer in zip(sessions, writers, strict=True):
        assert writer.tail.next_seq == 4
        assert (await stored_tail(pool, sid)) is not None


async def test_resume_points_are_stored_with_the_next_group_commit(pool: AsyncConnectionPool[Any]) -> None:
    """Decision 231: many lives' resume points ride on the shared commit instead of one commit each."""
    from scis.capture.resume import load_resume_point

    committer = GroupCommitter(pool)
    sid, tail = await new_session(pool)
    writer = writer_for(pool, sid, tail, committer=committer)
    saved: list[dict[str, Any]] = []
    committer.save_resume_point(sid, {"cursor": "old"}, saved.append)
    committer.save_resume_point(sid, {"cursor": "c-7"}, saved.append)  # the latest noted wins
    async with pool.connection() as conn:
        assert await load_resume_point(conn, [sid]) is None  # nothing is written before a commit
    await writer.store([chat(700)])
    await committer.close()
    assert saved == [{"cursor": "c-7"}]
    async with pool.connection() as conn:
        assert await load_resume_point(conn, [sid]) == {"cursor": "c-7"}


def awkward(msg_id: int) -> EventRecord:
    """An event whose text and bytes need every escape the text COPY has (tab, newline, backslash, \\N)."""
    text = f"tab\there\nnew line \\ backslash \\N quote\"' emoji 🎁 nul\x00 lone \ud800 #{msg_id}"
    return EventRecord(
        kind="chat", captured_at=datetime.now(UTC), msg_id=msg_id, body=text, nickname="\\N", unique_id="a\tb",
        counts={"count": 2**40}, data={"text": text, "nested": {"list": [1.5, "\\", "\r\n", None]}, "n": -0.25},
        raw=bytes(range(256)) + b"\\N\t\n",
    )  # fmt: skip


async def test_a_batch_chained_while_it_is_copied_stores_exactly_what_was_hashed(
    pool: AsyncConnectionPool[Any],
) -> None:
    # The writer's own commit chains a batch as its COPY (text, decision 244) is written: every escape
    # must come back from PostgreSQL as hashed, or the chain no longer verifies.
    session_id, tail = await new_session(pool)
    writer = writer_for(pool, session_id, tail)
    records = [awkward(msg_id) for msg_id in range(1, 251)]
    rows, published = await writer.store(records)
    assert [row.seq for row in rows] == list(range(1, 251)) and published is False
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT body, nickname, unique_id, raw, counts, data FROM events WHERE session_id = %s AND seq = 7",
            (session_id,),
        )
        stored = await cur.fetchone()
        verdict = await verify_session(conn, session_id)
    assert verdict.intact and verdict.records_checked == 251
    assert stored is not None
    values = list(stored.values()) if isinstance(stored, dict) else list(stored)
    assert values[:3] == [rows[6].record.body, "\\N", "a\tb"] and "\ufffd" in values[0]
    assert bytes(values[3]) == bytes(range(256)) + b"\\N\t\n"
    assert values[4] == {"count": 2**40} and values[5]["nested"] == {"list": [1.5, "\\", "\r\n", None]}
