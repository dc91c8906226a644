"""The running enricher: the bus says which lives moved, a periodic sweep catches whatever it missed.

Pub/sub does not replay, so the bus is only a hint of which live to look at; the cursor in
PostgreSQL is the truth (enrichment.py). Many messages of one live coalesce into one pass that folds
everything committed so far, in batches: a burst of capture costs a few upserts, not one per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from scis.core import bus
from scis.core.tasks import cancel_and_wait
from scis.profiles.subjects.enrichment import DEFAULT_BATCH, enrich_session, sessions_behind
from scis.profiles.watch import service as watch

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0


class SubjectEnricher:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        redis: aioredis.Redis,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._sweep_seconds = sweep_seconds
        self._batch_size = batch_size
        self._pending: set[UUID] = set()
        self._wake = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="subjects-listen"),
            asyncio.create_task(self._fold_loop(), name="subjects-fold"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _listen(self) -> None:
        while True:
            try:
                async for channel, _ in bus.subscribe(self._redis, bus.LIVE_EVENTS.pattern, subscribed=self.subscribed):
                    key = bus.LIVE_EVENTS.key_of(channel)
                    with contextlib.suppress(ValueError, TypeError):
                        self._pending.add(UUID(key))  # type: ignore[arg-type]
                        self._wake.set()
            except (aioredis.RedisError, OSError) as error:  # a timeout too: never let the listener die
                log.warning("subjects enricher lost the bus (%s); the sweep keeps folding", error)
                await asyncio.sleep(1.0)

    async def _fold_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sweep_seconds)
            self._wake.clear()
            try:
                await self.fold_pending()
            except Exception:  # noqa: BLE001 - a bad pass is retried by the next sweep, never kills the loop
                log.exception("subjects enrichment pass failed; retrying at the next sweep")
                await asyncio.sleep(1.0)

    async def fold_pending(self) -> int:
        """Fold the lives the bus named, or (when none) every live behind; how many events were read."""
        async with self._pool.connection() as conn:
            if self._pending:
                sessions, self._pending = sorted(self._pending), set()
            else:
                sessions = await sessions_behind(conn)
            total = 0
            for session_id in sessions:
                alerts: list[int] = []
                total += await enrich_session(conn, session_id, batch_size=self._batch_size, alerts=alerts)
                await watch.announce(conn, self._redis, alerts)
            return total
