"""The store stage: batches from the queue, chained once, COPYed into `events`, then published on Redis.

A batch is retried until PostgreSQL takes it (the queue spills meanwhile, so the socket never
waits). Chaining is deterministic and the chain tail immutable: a batch is chained once, its rows
and the tail after them are kept until they are stored, and the writer's tail moves only then. A
commit whose answer was lost is recognised by the stored chain tail and never written twice. A
record PostgreSQL refuses is stored instead as a `malformed` record with its raw bytes and the
refusal; one already stored (same kind and msg_id) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
import redis.asyncio as aioredis
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.capture import metrics as capture_metrics
from scis.capture.payloads import commit_message
from scis.capture.resume import SAVE_RESUME_POINT_SQL
from scis.capture.sources.base import ResumePoint
from scis.capture.spill import SpillQueue
from scis.capture.stats import CaptureStats
from scis.core.bus import LIVE_EVENTS
from scis.evidence.canonical import iso_utc
from scis.evidence.chain import (
    MOVE_HEAD_SQL,
    ChainingBatch,
    ChainTail,
    chain_records,
    copy_records,
    read_tail,
    store_chained,
    store_chaining,
)
from scis.evidence.records import MALFORMED, ChainedRecord, EventRecord

log = logging.getLogger(__name__)

RETRY_INITIAL_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class _PublishState:
    """Whether Redis publishing is failing now: one warning per outage, not one per batch."""

    failing = False


_publishing = _PublishState()


async def publish(redis: aioredis.Redis | None, batches: Sequence[tuple[UUID, Sequence[ChainedRecord]]]) -> bool:
    """The one place stored events go to Redis, all in one pipeline: one message per session, its seq
    range and a JSON array of its rows in seq order (one message per event cost more than the rest of
    the live path; docs/events.md).

    The store is the truth, so a Redis failure only logs (and returns False).
    """
    if redis is None or not any(rows for _, rows in batches):
        return True
    try:
        pipe = redis.pipeline(transaction=False)
        for session_id, rows in batches:
            if rows:
                pipe.publish(LIVE_EVENTS.name(str(session_id)), commit_message(rows))
        await pipe.execute()
    except (aioredis.RedisError, OSError) as error:
        if not _publishing.failing:  # one line per outage, not one per batch
            log.warning("cannot publish live events on Redis (%s); they are stored all the same, and live "
                        "feeds tell their clients the seq range to read back", error)  # fmt: skip
        _publishing.failing = True
        return False
    if _publishing.failing:
        log.warning("publishing live events on Redis again")
        _publishing.failing = False
    return True


@dataclass(slots=True)
class ChainedBatch:
    """One capture's batch, chained, waiting in a group commit."""

    session_id: UUID
    rows: list[ChainedRecord]
    tail_after: ChainTail
    committed: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommitter:
    """Commits the batches of many captures of one process in shared transactions (group commit).

    Each capture still chains its own records; only the COPY, the commit and the Redis pipeline are
    shared, so a hundred lives cost a few commits per second instead of a hundred times as many. A
    capture waits for its batch's commit before sending the next, which keeps each session in order.
    """

    def __init__(
        self, pool: AsyncConnectionPool[Any], *, redis: aioredis.Redis | None = None, max_rows: int = 5000
    ) -> None:
        self.pool = pool
        self.redis = redis  # each committed group is published in one pipeline
        self.max_rows = max_rows
        self._pending: list[ChainedBatch] = []
        # Resume points to store in the next shared transaction, by session, each with what to call once
        # it is stored: one UPDATE per live per second in transactions of their own cost a commit (a WAL
        # flush) per live per second (decision 231).
        self._resume_points: dict[UUID, tuple[ResumePoint, Callable[[ResumePoint], None]]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def commit(self, batch: ChainedBatch) -> None:
        """Store and publish a chained batch; returns once it is committed (raises if it is not)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="capture-group-commit")
        self._pending.append(batch)
        self._wake.set()
        await batch.committed

    def save_resume_point(self, session_id: UUID, point: ResumePoint, on_saved: Callable[[ResumePoint], None]) -> None:
        """Store `point` as the session's resume point with the next group (the latest one noted wins)."""
        self._resume_points[session_id] = (point, on_saved)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _next_group(self) -> list[ChainedBatch]:
        group: list[ChainedBatch] = []
        size = 0
        while self._pending and (not group or size + len(self._pending[0].rows) <= self.max_rows):
            batch = self._pending.pop(0)
            group.append(batch)
            size += len(batch.rows)
        return group

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                group = self._next_group()
                points, self._resume_points = self._resume_points, {}
                try:
                    async with self.pool.connection() as conn, conn.transaction():
                        await copy_records(conn, [row for batch in group for row in batch.rows])
                        async with conn.cursor() as cur:
                            heads = [(b.tail_after.prev_hash, b.tail_after.next_seq, b.session_id) for b in group]
                            await cur.executemany(MOVE_HEAD_SQL, heads)
                            if points:
                                saved = [(Jsonb(point), session_id) for session_id, (point, _) in points.items()]
                                await cur.executemany(SAVE_RESUME_POINT_SQL, saved)
                except Exception as error:  # each capture retries its own batch on its own
                    for session_id, noted in points.items():  # kept unless a newer point was noted meanwhile
                        self._resume_points.setdefault(session_id, noted)
                    for batch in group:
                        if not batch.committed.done():
                            batch.committed.set_exception(error)
                    continue
                for point, on_saved in points.values():
                    on_saved(point)
                await publish(self.redis, [(batch.session_id, batch.rows) for batch in group])
                for batch in group:
                    if not batch.committed.done():
                        batch.committed.set_result(None)


class EventWriter:
    """Stores one capture's records in its session's chain, then publishes them; counts into `stats`."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        session_id: UUID,
        tail: ChainTail,
        *,
        batch_size: int,
        stats: CaptureStats,
        redis: aioredis.Redis | None = None,
        committer: GroupCommitter | None = None,
        on_stored: Callable[[Sequence[ChainedRecord]], None] | None = None,
    ) -> None:
        self.pool = pool
        self.session_id = session_id
        self.on_stored = on_stored  # told every committed batch, after the stats
        self.tail = tail  # where the next record goes; replaced (never changed) once a batch is stored
        self.batch_size = batch_size
        self.stats = stats
        self.redis = redis
        self.committer = committer
        self.in_flight: list[EventRecord] = []  # taken from the queue, not yet committed (parked if cancelled)
        self.skipped = 0  # records `run` was told were stored already

    async def run(self, queue: SpillQueue, *, skip: Callable[[EventRecord], bool] | None = None) -> None:
        """Store everything the queue yields until it is closed and empty, except what `skip` says
        is stored already (a replayed spill, counted in `skipped`)."""
        while True:
            records = await queue.get_batch(self.batch_size)
            if not records:
                return
            if skip is not None:
                kept = [record for record in records if not skip(record)]
                self.skipped += len(records) - len(kept)
                if not kept:
                    queue.acknowledge()
                    continue
                records = kept
            self.in_flight = records
            started = time.perf_counter()
            rows, published = await self.store(records)
            capture_metrics.write_latency(time.perf_counter() - started)
            queue.acknowledge()
            self.in_flight = []
            if not published:
                await self.publish(rows)
            self.stats.stored(rows)
            if self.on_stored is not None:
                self.on_stored(rows)

    async def publish(self, rows: Sequence[ChainedRecord]) -> None:
        if not await publish(self.redis, [(self.session_id, rows)]):
            self.stats.publish_failures += 1

    async def store(self, records: list[EventRecord]) -> tuple[list[ChainedRecord], bool]:
        """Append one batch to the chain, retrying until it is committed; the rows, and whether published."""
        batch = ChainingBatch(self.session_id, self.tail, records)
        outcome_unknown = False
        if self.committer is not None:
            rows, tail_after = batch.complete()
            try:
                await self.committer.commit(ChainedBatch(self.session_id, rows, tail_after))
            except (psycopg.Error, PoolTimeout) as error:
                log.warning("shared commit failed (%s); storing this batch on its own", error)
                outcome_unknown = True  # the commit may have happened: check the stored tail first
            else:
                self.tail = tail_after
                return rows, self.committer.redis is not None
        attempt = 0
        while True:
            try:
                async with self._connection(attempt) as conn:
                    if not (outcome_unknown and await self._already_stored(conn, batch.complete()[1])):
                        async with conn.transaction():
                            await store_chaining(conn, self.session_id, batch)
                rows, tail_after = batch.complete()
                self.tail = tail_after
                return rows, False
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
                log.warning("batch refused (%s); storing its %d records one by one", error, len(records))
                return await self._store_one_by_one(records), False
            except (psycopg.OperationalError, PoolTimeout) as error:
                delay = min(RETRY_MAX_SECONDS, RETRY_INITIAL_SECONDS * 2**attempt)
                attempt += 1
                outcome_unknown = True
                self.stats.store_retries += 1
                log.warning("cannot store %d events yet (%s); retrying in %.1f s", len(records), error, delay)
                await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def _connection(self, attempt: int) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; a connection of its own when the pool has none (after an outage the pool
        reconnects with a doubling backoff, up to tens of seconds late, while the queue it holds back
        keeps growing), or none within a second when retrying."""
        pool_empty = self.pool.get_stats().get("pool_size", 1) == 0  # it lost them all: reconnecting slowly
        if not attempt and not pool_empty:
            async with self.pool.connection() as conn:
                yield conn
            return
        pooled = None
        if not pool_empty:
            with contextlib.suppress(PoolTimeout):
                pooled = await self.pool.getconn(timeout=1.0)
        if pooled is not None:
            try:
                yield pooled
            finally:
                await self.pool.putconn(pooled)
            return
        conninfo, kwargs = self.pool.conninfo, self.pool.kwargs
        if not isinstance(conninfo, str) or not isinstance(kwargs, dict):
            raise PoolTimeout("the pool has no connection and its connection settings are computed")
        direct = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=5, **kwargs)
        async with direct:
            yield direct

    async def _already_stored(self, conn: psycopg.AsyncConnection[Any], tail_after: ChainTail) -> bool:
        """Whether an earlier attempt did commit the batch ending at `tail_after` (its answer was lost)."""
        async with conn.transaction():
            stored = await read_tail(conn, self.session_id)
        if stored is None or stored.next_seq == self.tail.next_seq:
            return False
        if stored.next_seq == tail_after.next_seq and stored.prev_hash == tail_after.prev_hash:
            return True
        raise RuntimeError(
            f"session {self.session_id}: stored chain tail seq {stored.next_seq} does not match this writer's "
            f"{self.tail.next_seq}; another process is appending to the same session"
        )

    async def _store_one_by_one(self, records: list[EventRecord]) -> list[ChainedRecord]:
        stored: list[ChainedRecord] = []
        for record in records:
            try:
                stored.extend(await self._store_alone(record))
            except psycopg.errors.UniqueViolation:
                log.info("skipped %s msg_id %s: already stored in this session", record.kind, record.msg_id)
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
                self.stats.refused += 1
                log.error("stored a refused %s event as malformed: %s", record.kind, error)
                stored.extend(await self._store_alone(refused_as_malformed(record, error)))
        return stored

    async def _store_alone(self, record: EventRecord) -> list[ChainedRecord]:
        rows, tail_after = chain_records(self.session_id, self.tail, [record])
        async with self.pool.connection() as conn, conn.transaction():
            await store_chained(conn, self.session_id, rows, tail_after)
        self.tail = tail_after
        return rows


def refused_as_malformed(record: EventRecord, error: Exception) -> EventRecord:
    """What is stored instead of a record PostgreSQL refuses: its raw bytes and the refusal."""
    return EventRecord(
        kind=MALFORMED,
        captured_at=record.captured_at,
        raw=record.raw,
        data={
            "reason": f"PostgreSQL refused the {record.kind} event: {error}",
            "refused_kind": record.kind,
            "refused_msg_id": None if record.msg_id is None else str(record.msg_id),
            "server_time": iso_utc(record.server_time),
        },
    )
