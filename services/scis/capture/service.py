"""Capture logic for the analyser service, without HTTP: run captures in-process, read events, verify."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import redis.asyncio as aioredis
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.capture.leases import CaptureBusy
from scis.capture.models import (
    FINAL_STATUSES,
    EventPage,
    EventRead,
    MonitorCreate,
    MonitorRead,
    VerifyResult,
)
from scis.capture.payloads import row_payload
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.sources.base import CaptureSource
from scis.capture.sources.factory import build_source
from scis.capture.writer import GroupCommitter
from scis.core.audit import service as audit
from scis.core.settings import Settings
from scis.evidence.chain import SessionSealed
from scis.evidence.verify import verify_session

log = logging.getLogger(__name__)

KEEP_FINISHED = 200
OPEN_WAIT_SECONDS = 15.0

SourceFactory = Callable[[MonitorCreate, Settings], CaptureSource]


class MonitorNotFound(LookupError):
    """No capture with this session id runs (or ran recently) in this process."""


class MonitorExists(Exception):
    """The target is already being captured; the message names the session."""


def default_source(monitor_in: MonitorCreate, settings: Settings) -> CaptureSource:
    replay = Path(monitor_in.replay_file) if monitor_in.replay_file else None
    return build_source(monitor_in.source.value, monitor_in.target, settings, replay_file=replay)


class CaptureManager:
    """One asyncio task per live; knows each capture's status and counters."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[Any],
        settings: Settings,
        redis: aioredis.Redis | None = None,
        source_factory: SourceFactory = default_source,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.redis = redis
        self.source_factory = source_factory
        self.committer = GroupCommitter(pool, redis=redis)
        self._captures: OrderedDict[UUID, LiveCapture] = OrderedDict()
        self._tasks: dict[UUID, asyncio.Task[Any]] = {}

    async def start(self, monitor_in: MonitorCreate, *, created_by: str) -> MonitorRead:
        """Start capturing; returns once the live was found (or found unavailable)."""
        for capture in self._captures.values():
            if (
                capture.request.target.lower() == monitor_in.target.lower()
                and capture.stats.status not in FINAL_STATUSES
            ):
                raise MonitorExists(f"@{monitor_in.target} is already being captured (session {capture.session_id})")
        request = CaptureRequest(
            target=monitor_in.target,
            source=monitor_in.source.value,
            session_id=uuid.uuid4(),
            case_id=monitor_in.case_id,
            created_by=created_by,
        )
        capture = LiveCapture(
            request, self.source_factory(monitor_in, self.settings), pool=self.pool, settings=self.settings,
            redis=self.redis, committer=self.committer, holder=f"analyser API (started by {created_by})",
        )  # fmt: skip
        self._captures[request.session_id] = capture
        task = asyncio.create_task(self._run(capture), name=f"capture-{monitor_in.target}")
        self._tasks[request.session_id] = task
        self._forget_old()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(capture.opened.wait(), OPEN_WAIT_SECONDS)
        if capture.refused is not None:  # another process (CLI, Pod, analyser) owns the target
            self._captures.pop(request.session_id, None)
            raise MonitorExists(str(capture.refused))
        return MonitorRead.from_stats(capture.stats)

    async def _run(self, capture: LiveCapture) -> None:
        try:
            await capture.run()
        except (CaptureBusy, SessionSealed) as refusal:
            log.info("capture of @%s refused: %s", capture.request.target, refusal)
        except Exception as error:
            capture.stats.status, capture.stats.status_reason = "failed", f"capture failed: {error}"
            log.exception("capture %s failed", capture.session_id)
        finally:
            self._tasks.pop(capture.session_id, None)

    async def stop(self, session_id: UUID, *, reason: str = "stopped by the operator") -> MonitorRead:
        """Stop a capture: everything received is stored and the chain sealed before this returns."""
        capture = self._get(session_id)
        task = self._tasks.get(session_id)
        if task is not None:
            await capture.stop(reason)
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
        return MonitorRead.from_stats(capture.stats)

    def get(self, session_id: UUID) -> MonitorRead:
        return MonitorRead.from_stats(self._get(session_id).stats)

    def list(self, *, active_only: bool = False) -> list[MonitorRead]:
        """Captures of this process, newest first."""
        monitors = [MonitorRead.from_stats(c.stats) for c in reversed(self._captures.values())]
        return [m for m in monitors if m.status not in FINAL_STATUSES] if active_only else monitors

    async def close(self) -> None:
        """Stop every running capture (service shutdown): flushed and sealed, nothing lost."""
        running = list(self._tasks)
        await asyncio.gather(*(self.stop(sid, reason="analyser service shutting down") for sid in running))
        await self.committer.close()

    def _get(self, session_id: UUID) -> LiveCapture:
        capture = self._captures.get(session_id)
        if capture is None:
            raise MonitorNotFound(f"no capture with session id {session_id} in this analyser")
        return capture

    def _forget_old(self) -> None:
        finished = [sid for sid, c in self._captures.items() if c.done.is_set()]
        for sid in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._captures[sid]


AUDIT_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)


async def audit_done(
    db: AsyncConnection[Any], pool: AsyncConnectionPool[Any], context: Any, *, action: str, target: str,
    details: dict[str, Any],
) -> None:  # fmt: skip
    """Audit an action that already happened (a capture started or stopped): it must be recorded even
    if the request's own connection broke meanwhile (PostgreSQL restarted), so fresh connections
    from the pool are tried before giving up."""
    try:
        async with db.transaction():
            await audit.record(db, context, action=action, target=target, details=details)
        return
    except psycopg.OperationalError as error:
        log.warning("audit of %s on the request's connection failed (%s); retrying on a fresh one", action, error)
    for delay in (0.0, *AUDIT_RETRY_SECONDS):
        await asyncio.sleep(delay)
        try:
            async with pool.connection() as conn, conn.transaction():
                await audit.record(conn, context, action=action, target=target, details=details)
            return
        except (psycopg.OperationalError, PoolTimeout) as error:
            last = error
    raise last


async def list_events(
    conn: AsyncConnection[Any],
    session_id: UUID,
    *,
    kinds: Sequence[str] | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    after_seq: int | None = None,
) -> EventPage:
    """One page of a session's stored events in seq order (raw bytes left out; raw_sha256 given)."""
    limit = max(1, min(limit, 1000))
    clauses = [sql.SQL("session_id = %(session_id)s")]
    params: dict[str, Any] = {"session_id": session_id, "limit": limit + 1}
    if after_seq is not None:
        clauses.append(sql.SQL("seq > %(after_seq)s"))
        params["after_seq"] = after_seq
    if kinds:
        clauses.append(sql.SQL("kind = ANY(%(kinds)s)"))
        params["kinds"] = list(kinds)
    if user_id is not None:
        clauses.append(sql.SQL("user_id = %(user_id)s"))
        params["user_id"] = user_id
    if since is not None:
        clauses.append(sql.SQL("captured_at >= %(since)s"))
        params["since"] = since
    if until is not None:
        clauses.append(sql.SQL("captured_at < %(until)s"))
        params["until"] = until
    query = sql.SQL(
        """SELECT session_id, seq, msg_id, kind, method, room_id, user_id, unique_id, nickname, body, gift_id,
                  gift_name, diamond_count, repeat_count, inferred, counts, data, server_time, captured_at,
                  raw_sha256, chain_hash
             FROM events WHERE {where} ORDER BY seq LIMIT %(limit)s"""
    ).format(where=sql.SQL(" AND ").join(clauses))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(
        items=[EventRead.model_validate(row_payload(row)) for row in rows],
        next_after_seq=rows[-1]["seq"] if more else None,
    )


async def verify(conn: AsyncConnection[Any], session_id: UUID) -> VerifyResult:
    """The verification result of a session (raises LookupError for an unknown session)."""
    return VerifyResult.from_verdict(await verify_session(conn, session_id))
