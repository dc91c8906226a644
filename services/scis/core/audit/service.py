"""Appending to and reading the audit log; the database refuses updates and deletes."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from scis.core.audit.models import AuditContext, AuditEntry, AuditPage


async def record(
    conn: AsyncConnection,
    context: AuditContext,
    *,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit row; call it inside the transaction of the write it describes."""
    await conn.execute(
        """INSERT INTO audit_log (actor, role, action, target, source_ip, request_id, service, details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            context.actor.username,
            context.actor.role.value if context.signed_in else None,
            action,
            target,
            context.source_ip,
            context.request_id,
            context.service,
            Jsonb(details or {}),
        ),
    )


async def list_entries(
    conn: AsyncConnection, *, actor: str | None = None, before_id: int | None = None, limit: int = 100
) -> AuditPage:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT * FROM audit_log
           WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)
             AND (%(before)s::bigint IS NULL OR id < %(before)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"actor": actor, "before": before_id, "limit": limit},
    )
    items = [AuditEntry(**row) for row in await cur.fetchall()]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
