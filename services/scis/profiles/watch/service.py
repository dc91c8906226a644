"""Watchlists and alerts over PostgreSQL; the enricher calls `raise_alerts` for each folded batch."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.errors import InvalidRegularExpression
from psycopg.rows import dict_row, tuple_row

from scis.core import bus, cases
from scis.core.app import InvalidRequest
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.profiles.watch.models import AlertPage, AlertRead, WatchAdded, WatchCreate, WatchKind, WatchRead

# Who raises alerts in the audit log: the enricher, not a person.
WATCHER = AuditContext(
    actor=User(username="system:watch", role=Role.viewer), source_ip=None, request_id=None, service="profiles",
    signed_in=False,
)  # fmt: skip

# Events matching an active watch entry of their live's case, as alerts; {scope} says which events and
# entries. Idempotent: a record already raised for an entry (by either path) is left as it is.
MATCH_ALERTS_SQL = """
INSERT INTO alerts (case_id, watch_id, session_id, seq, chain_hash, kind, user_id, unique_id, body, captured_at)
SELECT w.case_id, w.id, e.session_id, e.seq, e.chain_hash, e.kind, e.user_id, e.unique_id, e.body, e.captured_at
  FROM events e
  JOIN live_sessions s ON s.id = e.session_id
  JOIN watch_entries w ON w.case_id = s.case_id AND w.removed_at IS NULL
 WHERE {scope}
   AND CASE w.kind
         WHEN 'user_id' THEN e.user_id = w.user_id
         WHEN 'handle' THEN lower(e.unique_id) = w.value OR e.user_id = w.user_id
         WHEN 'keyword' THEN position(w.value IN lower(e.body)) > 0
         WHEN 'regex' THEN e.body ~* w.value
       END
ON CONFLICT (watch_id, session_id, seq) DO NOTHING
RETURNING id"""

# The live path: the events of one live in (after, upto], for every entry of its case; an entry looks
# forward from when it was made unless it scanned the past when made (then every record is its concern).
RAISE_ALERTS_SQL = MATCH_ALERTS_SQL.replace(
    "{scope}",
    "e.session_id = %(session)s AND e.seq > %(after)s AND e.seq <= %(upto)s"
    " AND (w.scans_past OR e.captured_at >= w.created_at)",
)

# The look back: every stored event of the case's lives, for one new entry.
PAST_ALERTS_SQL = MATCH_ALERTS_SQL.replace("{scope}", "w.id = %(watch)s")

SELECT_ALERT = """SELECT a.*, w.kind AS watch_kind, w.value AS watch_value
                    FROM alerts a JOIN watch_entries w ON w.id = a.watch_id"""


class WatchNotFound(LookupError):
    pass


async def raise_alerts(conn: AsyncConnection[Any], *, session_id: UUID, after_seq: int, upto_seq: int) -> list[int]:
    """Write the alerts of a folded batch (in the caller's transaction), audited once per batch; their ids."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(RAISE_ALERTS_SQL, {"session": session_id, "after": after_seq, "upto": upto_seq})
    ids = [row["id"] for row in await cur.fetchall()]
    if ids:
        await audit.record(
            conn, WATCHER, action="alert.raise", target=f"session:{session_id}", details={"alert_ids": ids}
        )
    return ids


async def raise_past_alerts(conn: AsyncConnection[Any], *, watch_id: int, case_id: int) -> list[int]:
    """Alerts for the evidence the case stored before the entry existed (in the caller's transaction)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(PAST_ALERTS_SQL, {"watch": watch_id})
    ids = [row["id"] for row in await cur.fetchall()]
    if ids:
        await audit.record(conn, WATCHER, action="alert.raise", target=f"case:{case_id}",
                           details={"alert_ids": ids, "watch_id": watch_id, "past": True})  # fmt: skip
    return ids


async def announce(conn: AsyncConnection[Any], cache: aioredis.Redis, alert_ids: list[int]) -> None:
    """After the commit: each alert on its case's channel (the analyser pushes it over Socket.IO)."""
    if not alert_ids:
        return
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SELECT_ALERT + " WHERE a.id = ANY(%s) ORDER BY a.id", (alert_ids,))
    for row in await cur.fetchall():
        alert = AlertRead(**row)
        await bus.publish(cache, bus.CASE_ALERTS.name(str(alert.case_id)), alert.model_dump(mode="json"))


async def _require_member(conn: AsyncConnection, *, user: User, case_id: int) -> None:
    await cases.require_member(conn, user=user, case_id=case_id)


async def add_watch(
    conn: AsyncConnection, *, case_id: int, watch_in: WatchCreate, context: AuditContext
) -> tuple[WatchAdded, list[int]]:
    """A new entry and, when it scans the past, the ids of the alerts it raised on stored evidence (the
    caller announces them once committed). A handle is resolved to the user id last seen with it, so a
    later rename stays watched."""
    await _require_member(conn, user=context.actor, case_id=case_id)
    user_id: int | None = None
    if watch_in.kind is WatchKind.user_id:
        user_id = int(watch_in.value)
    elif watch_in.kind is WatchKind.handle:
        user_id = await user_id_last_seen_as(conn, watch_in.value)
    elif watch_in.kind is WatchKind.regex:
        await check_regex(conn, watch_in.value)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """INSERT INTO watch_entries (case_id, kind, value, user_id, note, created_by, scans_past)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *""",
            (case_id, watch_in.kind.value, watch_in.value, user_id, watch_in.note, context.actor.username,
             watch_in.scan_past),
        )  # fmt: skip
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn, context, action="watch.add", target=f"case:{case_id}",
            details={"watch_id": row["id"], "kind": watch_in.kind.value, "value": watch_in.value,
                     "scan_past": watch_in.scan_past},
        )  # fmt: skip
        past = await raise_past_alerts(conn, watch_id=row["id"], case_id=case_id) if watch_in.scan_past else []
    return WatchAdded(**row, past_alerts=len(past)), past


async def user_id_last_seen_as(conn: AsyncConnection, handle: str) -> int | None:
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(
        "SELECT tiktok_user_id FROM subjects WHERE lower(unique_id) = %s ORDER BY last_seen_at DESC NULLS LAST LIMIT 1",
        (handle,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def check_regex(conn: AsyncConnection, expression: str) -> None:
    """Refuse an expression PostgreSQL (which runs it) cannot compile, saying why."""
    try:
        async with conn.transaction():
            await conn.execute("SELECT '' ~* %s", (expression,))
    except InvalidRegularExpression as error:
        problem = str(error).splitlines()[0]
        raise InvalidRequest("value", expression, f"not a valid regular expression ({problem}); fix it") from None


async def list_watches(conn: AsyncConnection, *, user: User, case_id: int) -> list[WatchRead]:
    await _require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM watch_entries WHERE case_id = %s AND removed_at IS NULL ORDER BY id", (case_id,))
    return [WatchRead(**row) for row in await cur.fetchall()]


async def remove_watch(conn: AsyncConnection, *, case_id: int, watch_id: int, context: AuditContext) -> None:
    """Stop watching (kept with who and when: its alerts still point to it)."""
    await _require_member(conn, user=context.actor, case_id=case_id)
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE watch_entries SET removed_at = now(), removed_by = %s
                WHERE id = %s AND case_id = %s AND removed_at IS NULL RETURNING id""",
            (context.actor.username, watch_id, case_id),
        )
        if await cur.fetchone() is None:
            raise WatchNotFound(f"no active watch {watch_id} in case {case_id}")
        await audit.record(
            conn, context, action="watch.remove", target=f"case:{case_id}", details={"watch_id": watch_id}
        )


async def list_alerts(
    conn: AsyncConnection, *, user: User, case_id: int, open_only: bool, before_id: int, limit: int
) -> AlertPage:
    """The case's alerts, newest first below `before_id` when given (keyset pages), and how many are open."""
    await _require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        SELECT_ALERT
        + """ WHERE a.case_id = %(case)s AND (NOT %(open)s OR a.acknowledged_at IS NULL)
                             AND (%(before)s = 0 OR a.id < %(before)s)
                           ORDER BY a.id DESC LIMIT %(limit)s""",
        {"case": case_id, "open": open_only, "before": before_id, "limit": limit},
    )
    items = [AlertRead(**row) for row in await cur.fetchall()]
    await cur.execute("SELECT count(*) AS n FROM alerts WHERE case_id = %s AND acknowledged_at IS NULL", (case_id,))
    counted = await cur.fetchone()
    return AlertPage(items=items, open=counted["n"] if counted else 0)


async def acknowledge(conn: AsyncConnection, *, case_id: int, alert_id: int, context: AuditContext) -> AlertRead:
    """Mark an alert seen (once: acknowledging again keeps the first who and when)."""
    await _require_member(conn, user=context.actor, case_id=case_id)
    async with conn.transaction():
        changed = await conn.execute(
            """UPDATE alerts SET acknowledged_at = now(), acknowledged_by = %s
                WHERE id = %s AND case_id = %s AND acknowledged_at IS NULL RETURNING id""",
            (context.actor.username, alert_id, case_id),
        )
        if await changed.fetchone() is not None:
            await audit.record(
                conn, context, action="alert.acknowledge", target=f"case:{case_id}", details={"alert_id": alert_id}
            )
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SELECT_ALERT + " WHERE a.id = %s AND a.case_id = %s", (alert_id, case_id))
    row = await cur.fetchone()
    if row is None:
        raise WatchNotFound(f"no alert {alert_id} in case {case_id}")
    return AlertRead(**row)
