"""The store stage: batches from the queue, chained and COPYed into `events`, then published on Redis.

A batch is retried until PostgreSQL takes it (the queue spills meanwhile, so the socket never
waits). Because chaining is deterministic, a commit whose answer was lost is recognised by the
stored chain tail and never written twice. A record PostgreSQL refuses is stored instead as a
`malformed` record with its raw bytes and the refusal; one already stored (same kind and msg_id) is
skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.capture.payloads import event_payload
from scis.capture.spill import SpillQueue
from scis.core.bus import live_events_channel
from scis.evidence.canonical import iso_utc
from scis.evidence.chain import ChainTail, append_records, chain_records, copy_records, read_tail
from scis.evidence.records import MALFORMED, ChainedRecord, EventRecord

log = logging.getLogger(__name__)

RETRY_INITIAL_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class GroupCommitter:
    """Commits the batches of many captures of one process in shared transactions (group commit).

    Each capture still chains its own records; only the COPY and the commit are shared, so a
    hundred lives cost a few commits per second instead of a hundred times as many. A capture
    waits for its batch's commit before sending the next, which keeps each session in order.
    """

    def __init__(
        self, pool: AsyncConnectionPool[Any], *, redis: aioredis.Redis | None = None, max_rows: int = 5000
    ) -> None:
        self.pool = pool
        self.redis = redis  # when set, each committed group is published in one pipeline
        self.max_rows = max_rows
        self._pending: list[tuple[UUID, list[ChainedRecord], ChainTail, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0

    async def commit(self, session_id: UUID, rows: list[ChainedRecord], tail_after: ChainTail) -> None:
        """Store rows already chained; returns once they are committed (raises if they are not)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="capture-group-commit")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((session_id, rows, tail_after, future))
        self._wake.set()
        await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                group: list[tuple[UUID, list[ChainedRecord], ChainTail, asyncio.Future[None]]] = []
                size = 0
                while self._pending and (not group or size + len(self._pending[0][1]) <= self.max_rows):
                    entry = self._pending.pop(0)
                    group.append(entry)
                    size += len(entry[1])
                try:
                    async with self.pool.connection() as conn, conn.transaction():
                        await copy_records(conn, [row for _, rows, _, _ in group for row in rows])
                        async with conn.cursor() as cur:
                            await cur.executemany(
                                "UPDATE live_sessions SET chain_head = %s, events_count = %s WHERE id = %s",
                                [(tail.prev_hash, tail.next_seq, sid) for sid, _, tail, _ in group],
                            )
                    self.transactions += 1
                except Exception as error:  # each capture retries its own batch on its own
                    for _, _, _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                if self.redis is not None:
                    await publish_groups(self.redis, [(sid, rows) for sid, rows, _, _ in group])
                for _, _, _, future in group:
                    if not future.done():
                        future.set_result(None)


class EventWriter:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        session_id: UUID,
        tail: ChainTail,
        *,
        batch_size: int,
        redis: aioredis.Redis | None = None,
        on_stored: Callable[[Sequence[ChainedRecord]], None] | None = None,
        committer: GroupCommitter | None = None,
    ) -> None:
        self.committer = committer
        self._published_by_committer = False
        self.pool = pool
        self.session_id = session_id
        self.tail = tail
        self.batch_size = batch_size
        self.redis = redis
        self.on_stored = on_stored
        self.duplicates_skipped = 0
        self.refused = 0
        self.publish_failures = 0
        self.store_retries = 0

    async def run(self, queue: SpillQueue) -> None:
        """Store everything the queue yields until it is closed and empty."""
        while True:
            batch = await queue.get_batch(self.batch_size)
            if not batch:
                return
            rows = await self.store(batch)
            queue.acknowledge()
            await self.publish(rows)
            if self.on_stored is not None:
                self.on_stored(rows)

    async def store(self, batch: list[EventRecord]) -> list[ChainedRecord]:
        """Append one batch to the chain, retrying until it is committed."""
        attempt = 0
        saved = ChainTail(self.tail.next_seq, self.tail.prev_hash, self.tail.last_captured_at)
        if self.committer is not None:
            trial = ChainTail(saved.next_seq, saved.prev_hash, saved.last_captured_at)
            rows = chain_records(self.session_id, trial, batch)
            try:
                await self.committer.commit(self.session_id, rows, trial)
            except (psycopg.Error, PoolTimeout) as error:
                log.warning("shared commit failed (%s); storing this batch on its own", error)
                attempt = 1  # the commit's outcome may be unknown: check the stored tail first
            else:
                self._restore(trial)
                self._published_by_committer = self.committer.redis is not None
                return rows
        while True:
            try:
                async with self._connection(attempt) as conn:
                    if attempt:
                        done = await self._already_committed(conn, saved, batch)
                        if done is not None:
                            return done
                    async with conn.transaction():
                        return await append_records(conn, self.session_id, self.tail, batch)
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
                self._restore(saved)
                log.warning("batch refused (%s); storing its %d records one by one", error, len(batch))
                return await self._store_one_by_one(batch)
            except (psycopg.OperationalError, PoolTimeout) as error:
                self._restore(saved)
                delay = min(RETRY_MAX_SECONDS, RETRY_INITIAL_SECONDS * 2**attempt)
                attempt += 1
                self.store_retries += 1
                log.warning("cannot store %d events yet (%s); retrying in %.1f s", len(batch), error, delay)
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

    def _restore(self, saved: ChainTail) -> None:
        self.tail.next_seq, self.tail.prev_hash, self.tail.last_captured_at = (
            saved.next_seq, saved.prev_hash, saved.last_captured_at,
        )  # fmt: skip

    async def _already_committed(
        self, conn: psycopg.AsyncConnection[Any], saved: ChainTail, batch: list[EventRecord]
    ) -> list[ChainedRecord] | None:
        """The batch's rows if an earlier attempt did commit it (its answer was lost)."""
        async with conn.transaction():
            stored = await read_tail(conn, self.session_id)
        if stored is None or stored.next_seq == saved.next_seq:
            return None
        trial = ChainTail(saved.next_seq, saved.prev_hash, saved.last_captured_at)
        rows = chain_records(self.session_id, trial, batch)
        if stored.next_seq == trial.next_seq and stored.prev_hash == trial.prev_hash:
            self._restore(trial)
            return rows
        raise RuntimeError(
            f"session {self.session_id}: stored chain tail seq {stored.next_seq} does not match this writer's "
            f"{saved.next_seq}; another process is appending to the same session"
        )

    async def _store_one_by_one(self, batch: list[EventRecord]) -> list[ChainedRecord]:
        stored: list[ChainedRecord] = []
        for record in batch:
            saved = ChainTail(self.tail.next_seq, self.tail.prev_hash, self.tail.last_captured_at)
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    stored.extend(await append_records(conn, self.session_id, self.tail, [record]))
                continue
            except psycopg.errors.UniqueViolation:
                self._restore(saved)
                self.duplicates_skipped += 1
                log.info("skipped %s msg_id %s: already stored in this session", record.kind, record.msg_id)
                continue
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
                self._restore(saved)
                self.refused += 1
                substitute = EventRecord(
                    kind=MALFORMED,
                    captured_at=record.captured_at,
                    msg_id=None,
                    raw=record.raw,
                    data={
                        "reason": f"PostgreSQL refused the {record.kind} event: {error}",
                        "refused_kind": record.kind,
                        "refused_msg_id": None if record.msg_id is None else str(record.msg_id),
                        "server_time": iso_utc(record.server_time),
                    },
                )
                log.error("stored a refused %s event as malformed: %s", record.kind, error)
            async with self.pool.connection() as conn, conn.transaction():
                stored.extend(await append_records(conn, self.session_id, self.tail, [substitute]))
        return stored

    async def publish(self, rows: Sequence[ChainedRecord]) -> None:
        if self._published_by_committer:
            self._published_by_committer = False
            return
        if self.redis is not None and not await publish_events(self.redis, self.session_id, rows):
            self.publish_failures += 1


async def publish_events(redis: aioredis.Redis, session_id: UUID, rows: Sequence[ChainedRecord]) -> bool:
    """Publish stored events in seq order; the store is the truth, so a Redis failure only logs."""
    return await publish_groups(redis, [(session_id, rows)])


async def publish_groups(redis: aioredis.Redis, groups: Sequence[tuple[UUID, Sequence[ChainedRecord]]]) -> bool:
    """Publish the stored events of several sessions in one pipeline, each session's in seq order."""
    if not any(rows for _, rows in groups):
        return True
    try:
        pipe = redis.pipeline(transaction=False)
        for session_id, rows in groups:
            channel = live_events_channel(str(session_id))
            for item in rows:
                pipe.publish(channel, json.dumps(event_payload(item), separators=(",", ":")))
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


class _PublishState:
    failing = False


_publishing = _PublishState()
