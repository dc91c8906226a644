"""Cases and their members: plain functions over a connection; every write is audited in its transaction.

Who may see which case is decided in scis.core.cases, shared by every service.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row

from scis.core import cases as access
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.dashboard.cases.models import CaseCreate, CaseMember, CaseRead, CaseUpdate

CaseNotFound = access.CaseNotFound


class CaseReferenceTaken(Exception):
    pass


class UnknownAccount(Exception):
    pass


class NotAMember(Exception):
    pass


async def get(conn: AsyncConnection, *, user: User, case_id: int) -> CaseRead:
    """The case when the caller may see it; CaseNotFound otherwise."""
    return CaseRead(**await access.require_member(conn, user=user, case_id=case_id))


async def list_cases(conn: AsyncConnection, *, user: User, status: str | None = None) -> list[CaseRead]:
    visible, params = access.visible_filter(user, case_column="id")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT * FROM cases WHERE (%(s)s::text IS NULL OR status = %(s)s) AND {visible} ORDER BY id DESC",
        {"s": status, **params},
    )
    return [CaseRead(**row) for row in await cur.fetchall()]


async def create(conn: AsyncConnection, *, case_in: CaseCreate, context: AuditContext) -> CaseRead:
    """Open a case; its creator becomes its first member."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        try:
            await cur.execute(
                """INSERT INTO cases (reference, title, description, retention_days, created_by)
                   VALUES (%s, %s, %s, %s, %s) RETURNING *""",
                (case_in.reference, case_in.title, case_in.description, case_in.retention_days, context.actor.username),
            )
        except UniqueViolation:
            raise CaseReferenceTaken(f"reference {case_in.reference!r} is already used by another case") from None
        row = await cur.fetchone()
        assert row is not None
        case = CaseRead(**row)
        await cur.execute(
            "INSERT INTO case_members (case_id, username, added_by) VALUES (%s, %s, %s)",
            (case.id, context.actor.username, context.actor.username),
        )
        await audit.record(
            conn,
            context,
            action="case.create",
            target=f"case:{case.id}",
            details={"reference": case.reference, "retention_days": case.retention_days},
        )
    return case


async def update(conn: AsyncConnection, *, case_id: int, case_in: CaseUpdate, context: AuditContext) -> CaseRead:
    changes = case_in.model_dump(exclude_none=True)
    if "retention_days" in case_in.model_fields_set:  # null is a value here: keep for good
        changes["retention_days"] = case_in.retention_days
    async with conn.transaction():
        current = await get(conn, user=context.actor, case_id=case_id)
        if not changes:
            return current
        cur = conn.cursor(row_factory=dict_row)
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        await cur.execute(f"UPDATE cases SET {assignments} WHERE id = %(id)s RETURNING *", {**changes, "id": case_id})
        row = await cur.fetchone()
        assert row is not None
        await audit.record(conn, context, action="case.update", target=f"case:{case_id}", details=changes)
    return CaseRead(**row)


async def list_members(conn: AsyncConnection, *, user: User, case_id: int) -> list[CaseMember]:
    await access.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM case_members WHERE case_id = %s ORDER BY username", (case_id,))
    return [CaseMember(**row) for row in await cur.fetchall()]


async def add_member(conn: AsyncConnection, *, case_id: int, username: str, context: AuditContext) -> CaseMember:
    """Make an account a member (admins only; the view checks the role). Adding twice changes nothing."""
    async with conn.transaction():
        await access.get_or_raise(conn, case_id=case_id)
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT 1 FROM users WHERE username = %s", (username,))
        if await cur.fetchone() is None:
            raise UnknownAccount(f"no account named {username!r}; create it first with `scis user add`")
        await cur.execute(
            """INSERT INTO case_members (case_id, username, added_by) VALUES (%s, %s, %s)
               ON CONFLICT (case_id, username) DO NOTHING RETURNING *""",
            (case_id, username, context.actor.username),
        )
        added = await cur.fetchone()
        if added is None:
            await cur.execute("SELECT * FROM case_members WHERE case_id = %s AND username = %s", (case_id, username))
            existing = await cur.fetchone()
            assert existing is not None
            return CaseMember(**existing)
        await audit.record(
            conn, context, action="case.member.add", target=f"case:{case_id}", details={"username": username}
        )
    return CaseMember(**added)


async def remove_member(conn: AsyncConnection, *, case_id: int, username: str, context: AuditContext) -> None:
    async with conn.transaction():
        await access.get_or_raise(conn, case_id=case_id)
        cur = await conn.execute(
            "DELETE FROM case_members WHERE case_id = %s AND username = %s RETURNING username", (case_id, username)
        )
        if await cur.fetchone() is None:
            raise NotAMember(f"{username!r} is not a member of case {case_id}")
        await audit.record(
            conn, context, action="case.member.remove", target=f"case:{case_id}", details={"username": username}
        )
