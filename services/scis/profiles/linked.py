"""Linked accounts: the other TikTok accounts (subjects) a profile stands for, each with why and who linked it."""

from __future__ import annotations

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.core.app import InvalidRequest
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.profiles.models import LinkedAccountCreate, LinkedAccountRead
from scis.profiles.service import require_visible

SELECT_LINKED = """SELECT a.profile_id, a.subject_id, s.tiktok_user_id, s.unique_id, s.nickname, a.reason,
                          a.linked_by, a.linked_at
                     FROM profile_accounts a JOIN subjects s ON s.id = a.subject_id"""


async def require_subject(conn: AsyncConnection, *, subject_id: int, field: str) -> None:
    cur = await conn.execute("SELECT 1 FROM subjects WHERE id = %s", (subject_id,))
    if await cur.fetchone() is None:
        raise InvalidRequest(field, subject_id, "no subject with this id; find it with GET /api/profiles/subjects")


async def insert_link(
    conn: AsyncConnection, *, profile_id: int, link: LinkedAccountCreate, context: AuditContext, field: str
) -> None:
    """Link one account in the caller's transaction (linking it again keeps the first reason), audited."""
    await require_subject(conn, subject_id=link.subject_id, field=field)
    cur = await conn.execute(
        """INSERT INTO profile_accounts (profile_id, subject_id, reason, linked_by) VALUES (%s, %s, %s, %s)
           ON CONFLICT DO NOTHING RETURNING subject_id""",
        (profile_id, link.subject_id, link.reason, context.actor.username),
    )
    if await cur.fetchone() is not None:
        await audit.record(
            conn,
            context,
            action="profile.link_account",
            target=f"profile:{profile_id}",
            details={"subject_id": link.subject_id, "reason": link.reason},
        )


async def link(
    conn: AsyncConnection,
    cache: aioredis.Redis,
    *,
    profile_id: int,
    link_in: LinkedAccountCreate,
    context: AuditContext,
) -> LinkedAccountRead:
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    async with conn.transaction():
        await insert_link(conn, profile_id=profile_id, link=link_in, context=context, field="subject_id")
    linked = await list_linked(conn, cache, user=context.actor, profile_id=profile_id)
    return next(item for item in linked if item.subject_id == link_in.subject_id)


async def unlink(
    conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int, subject_id: int, context: AuditContext
) -> bool:
    """Remove a link (audited with the reason it had); False when there was none."""
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "DELETE FROM profile_accounts WHERE profile_id = %s AND subject_id = %s RETURNING reason",
            (profile_id, subject_id),
        )
        row = await cur.fetchone()
        if row is None:
            return False
        await audit.record(
            conn,
            context,
            action="profile.unlink_account",
            target=f"profile:{profile_id}",
            details={"subject_id": subject_id, "reason_was": row["reason"]},
        )
    return True


async def list_linked(
    conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int
) -> list[LinkedAccountRead]:
    await require_visible(conn, cache, user=user, profile_id=profile_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SELECT_LINKED + " WHERE a.profile_id = %s ORDER BY a.linked_at, a.subject_id", (profile_id,))
    return [LinkedAccountRead(**row) for row in await cur.fetchall()]
