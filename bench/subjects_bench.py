"""Subject enrichment throughput next to the evidence store's own write rate.

One live of 60,000 events from 3,000 users (chat, likes, gifts, joins) is written through the
evidence path (chain + COPY, batches of 1,000: what the capture writer does), then folded into
subjects by `enrich_session` in its default batches. Goal: enrichment is not slower than the store
write it follows (ratio >= 1), so the enricher keeps up with capture at full ingest speed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from bench.scratch import scratch_postgres
from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, start_session
from scis.evidence.records import EventRecord
from scis.profiles.subjects.enrichment import enrich_session

EVENTS = 60_000
USERS = 3_000
WRITE_BATCH = 1_000
T0 = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)
KINDS = ("chat", "chat", "like", "join", "gift")


def sample(index: int) -> EventRecord:
    user = index % USERS
    kind = KINDS[index % len(KINDS)]
    return EventRecord(
        kind=kind, captured_at=T0 + timedelta(milliseconds=index), msg_id=10**15 + index,
        user_id=6_800_000_000_000 + user, unique_id=f"user_{user}", nickname=f"User {user % 97}",
        body="bonjour tout le monde" if kind == "chat" else None,
        counts={"count": 3, "total": index} if kind == "like" else None,
        gift_id=5655 if kind == "gift" else None, diamond_count=1 if kind == "gift" else None,
        repeat_count=2 if kind == "gift" else None, raw=b"x" * 120,
    )  # fmt: skip


async def measure(url: str) -> list[dict[str, object]]:
    records = [sample(index) for index in range(EVENTS)]
    session_id = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with conn.transaction():
            tail, _ = await start_session(
                conn, session_id=session_id, target="bench", source="replay", case_id=None, config={},
                started_at=T0, status=SessionStatus.LIVE,
            )  # fmt: skip
        started = time.perf_counter()
        for offset in range(0, EVENTS, WRITE_BATCH):
            async with conn.transaction():
                _, tail = await append_records(conn, session_id, tail, records[offset : offset + WRITE_BATCH])
        write_rate = EVENTS / (time.perf_counter() - started)
        started = time.perf_counter()
        folded = await enrich_session(conn, session_id)
        enrich_rate = folded / (time.perf_counter() - started)
    return [
        {"name": "subjects.store_write", "value": round(write_rate), "unit": "events/s", "baseline": None,
         "ratio": None, "goal": "reference (chain + COPY, batches of 1,000)"},
        {"name": "subjects.enrichment", "value": round(enrich_rate), "unit": "events/s",
         "baseline": round(write_rate), "ratio": round(enrich_rate / write_rate, 2), "goal": "ratio >= 1"},
    ]  # fmt: skip


def run() -> list[dict[str, object]]:
    with scratch_postgres("subjects") as (_, server):
        return asyncio.run(measure(server.url))


if __name__ == "__main__":
    for result in run():
        print(result)
