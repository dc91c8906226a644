"""Reading live sessions."""

from __future__ import annotations

from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.core.status import SessionStatus
from scis.lives.models import LiveSessionRead


async def list_sessions(
    conn: AsyncConnection, *, active_only: bool, case_id: int | None = None, limit: int = 100
) -> list[LiveSessionRead]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT * FROM live_sessions
           WHERE (NOT %(active)s OR status = ANY(%(statuses)s))
             AND (%(case)s::bigint IS NULL OR case_id = %(case)s)
           ORDER BY started_at DESC LIMIT %(limit)s""",
        {"active": active_only, "statuses": SessionStatus.active_values(), "case": case_id, "limit": limit},
    )
    return [LiveSessionRead(**row) for row in await cur.fetchall()]


async def get_session(conn: AsyncConnection, *, session_id: UUID) -> LiveSessionRead | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM live_sessions WHERE id = %s", (session_id,))
    row = await cur.fetchone()
    return LiveSessionRead(**row) if row else None
