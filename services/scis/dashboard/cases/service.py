"""Cases: plain functions over a connection; every write is audited in its transaction."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.dashboard.cases.models import CaseCreate, CaseRead, CaseUpdate


class CaseNotFound(Exception):
    pass


class CaseReferenceTaken(Exception):
    pass


async def get(conn: AsyncConnection, *, case_id: int) -> CaseRead | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM cases WHERE id = %s", (case_id,))
    row = await cur.fetchone()
    return CaseRead(**row) if row else None


async def get_or_raise(conn: AsyncConnection, *, case_id: int) -> CaseRead:
    case = await get(conn, case_id=case_id)
    if case is None:
        raise CaseNotFound(f"no case with id {case_id}")
    return case


async def list_cases(conn: AsyncConnection, *, status: str | None = None) -> list[CaseRead]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM cases WHERE (%(s)s::text IS NULL OR status = %(s)s) ORDER BY id DESC", {"s": status}
    )
    return [CaseRead(**row) for row in await cur.fetchall()]


async def create(conn: AsyncConnection, *, case_in: CaseCreate, context: AuditContext) -> CaseRead:
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        try:
            await cur.execute(
                """INSERT INTO cases (reference, title, description, created_by)
                   VALUES (%s, %s, %s, %s) RETURNING *""",
                (case_in.reference, case_in.title, case_in.description, context.actor.username),
            )
        except UniqueViolation:
            raise CaseReferenceTaken(f"reference {case_in.reference!r} is already used by another case") from None
        row = await cur.fetchone()
        assert row is not None
        case = CaseRead(**row)
        await audit.record(
            conn, context, action="case.create", target=f"case:{case.id}", details={"reference": case.reference}
        )
    return case


async def update(conn: AsyncConnection, *, case_id: int, case_in: CaseUpdate, context: AuditContext) -> CaseRead:
    changes = case_in.model_dump(exclude_none=True)
    async with conn.transaction():
        current = await get_or_raise(conn, case_id=case_id)
        if not changes:
            return current
        cur = conn.cursor(row_factory=dict_row)
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        await cur.execute(f"UPDATE cases SET {assignments} WHERE id = %(id)s RETURNING *", {**changes, "id": case_id})
        row = await cur.fetchone()
        assert row is not None
        await audit.record(conn, context, action="case.update", target=f"case:{case_id}", details=changes)
    return CaseRead(**row)
