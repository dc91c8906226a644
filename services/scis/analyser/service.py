"""Analyser logic without HTTP: start and stop monitors (with their audit rows), read and verify evidence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.analyser.models import EventPage, EventRead, GapRead, MonitorCreate, MonitorRead, VerifyResult
from scis.analyser.runners import MonitorRunner
from scis.capture.payloads import row_payload
from scis.core import cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.evidence.gaps import session_gaps
from scis.evidence.records import PUBLISHED_FIELDS
from scis.evidence.verify import verify_session

log = logging.getLogger(__name__)

AUDIT_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)

# The stored event's published columns (raw bytes stay in the table), from the event's one definition.
_EVENT_COLUMNS = sql.SQL(", ").join(sql.Identifier(f.name) for f in PUBLISHED_FIELDS)


class UnknownCase(LookupError):
    """The monitor names a case that does not exist, or one the caller is not a member of."""


async def start_monitor(
    conn: AsyncConnection[Any], runner: MonitorRunner, monitor_in: MonitorCreate, *, username: str,
    context: AuditContext, pool: AsyncConnectionPool[Any] | None = None,
) -> MonitorRead:  # fmt: skip
    """Start capturing a live and record who did it (on a fresh connection from `pool` if `conn` broke
    meanwhile: the capture runs now, so its start must be audited)."""
    if monitor_in.case_id is not None:
        try:
            await cases.require_member(conn, user=context.actor, case_id=monitor_in.case_id)
        except cases.CaseNotFound:
            raise UnknownCase(f"no case {monitor_in.case_id} of {context.actor.username}'s") from None

    async def audit_successor(successor: MonitorRead, first: UUID) -> None:
        """`again`: the analyser started the chain's next capture itself; audited as this request's start."""
        if pool is not None:
            async with pool.connection() as fresh:
                await audit_start(fresh, pool, context, successor, after=first)

    started = await runner.start(monitor_in, created_by=username, on_successor=audit_successor)
    await audit_start(conn, pool, context, started)
    return started


async def audit_start(
    conn: AsyncConnection[Any], pool: AsyncConnectionPool[Any] | None, context: AuditContext, started: MonitorRead,
    *, after: UUID | None = None,
) -> None:  # fmt: skip
    details: dict[str, Any] = {"target": started.target, "source": started.source, "case_id": started.case_id}
    if after is not None:
        details["again_after"] = str(after)  # the chain's first session: whose request this start follows
    await audit_done(
        conn, pool, context, action="monitor.start", target=f"session:{started.session_id}", details=details
    )


async def stop_monitor(
    conn: AsyncConnection[Any], runner: MonitorRunner, session_id: UUID, *, context: AuditContext,
    pool: AsyncConnectionPool[Any] | None = None,
) -> MonitorRead:  # fmt: skip
    """Stop a capture (stored and sealed first) and record who did it (as start_monitor does)."""
    stopped = await runner.stop(session_id)
    await audit_done(
        conn, pool, context, action="monitor.stop", target=f"session:{session_id}",
        details={"status": stopped.status, "events": stopped.events_total},
    )  # fmt: skip
    return stopped


async def audit_done(
    conn: AsyncConnection[Any], pool: AsyncConnectionPool[Any] | None, context: AuditContext, *, action: str,
    target: str, details: dict[str, Any],
) -> None:  # fmt: skip
    """Audit an action that already happened (a capture started or stopped): it must be recorded even
    if the request's own connection broke meanwhile (PostgreSQL restarted), so fresh connections
    from `pool` are tried before giving up."""
    try:
        async with conn.transaction():
            await audit.record(conn, context, action=action, target=target, details=details)
        return
    except psycopg.OperationalError as error:
        if pool is None:
            raise
        log.warning("audit of %s on the request's connection failed (%s); retrying on a fresh one", action, error)
        last: Exception = error
    for delay in (0.0, *AUDIT_RETRY_SECONDS):
        await asyncio.sleep(delay)
        try:
            async with pool.connection() as fresh, fresh.transaction():
                await audit.record(fresh, context, action=action, target=target, details=details)
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
    query = sql.SQL("SELECT {columns} FROM events WHERE {where} ORDER BY seq LIMIT %(limit)s").format(
        columns=_EVENT_COLUMNS, where=sql.SQL(" AND ").join(clauses)
    )
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


async def list_gaps(conn: AsyncConnection[Any], session_id: UUID) -> list[GapRead]:
    """The session's gaps in chain order, each open, partly or completely filled."""
    return [GapRead.model_validate(asdict(state)) for state in await session_gaps(conn, session_id)]
