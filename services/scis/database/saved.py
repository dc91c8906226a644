"""Each analyst's query history, and saved queries: private, or shared with the members of a case."""

from __future__ import annotations

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row

from scis.core import cases
from scis.core.auth.models import User
from scis.database.models import HistoryEntry, SavedQuery, SavedQueryCreate

SAVED_COLUMNS = "id, owner, case_id, name, description, sql, created_at"


class SavedQueryExists(ValueError):
    """The caller already has a saved query of that name."""


async def history(conn: AsyncConnection, *, user: User, limit: int) -> list[HistoryEntry]:
    """The caller's own queries, newest first (nobody sees another analyst's history here)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT id, sql, outcome, row_count, truncated, elapsed_ms, error, format, ran_at FROM explorer_history
           WHERE username = %s ORDER BY ran_at DESC LIMIT %s""",
        (user.username, limit),
    )
    return [HistoryEntry(**row) for row in await cur.fetchall()]


async def list_saved(conn: AsyncConnection, *, user: User, case_id: int | None) -> list[SavedQuery]:
    """The caller's saved queries and those shared with cases they may see."""
    visible, scope = cases.visible_filter(user, case_column="case_id", owner_column="owner")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT {SAVED_COLUMNS} FROM explorer_saved_queries
            WHERE (owner = %(scis_viewer)s OR {visible}) AND (%(case)s::bigint IS NULL OR case_id = %(case)s)
            ORDER BY lower(name), id""",
        {"case": case_id, **scope},
    )
    return [SavedQuery(**row) for row in await cur.fetchall()]


async def save(conn: AsyncConnection, *, user: User, saved_in: SavedQueryCreate) -> SavedQuery:
    """Save a query; CaseNotFound for a case the caller may not see, SavedQueryExists for a taken name."""
    if saved_in.case_id is not None:
        await cases.require_member(conn, user=user, case_id=saved_in.case_id)
    cur = conn.cursor(row_factory=dict_row)
    try:
        await cur.execute(
            f"""INSERT INTO explorer_saved_queries (owner, case_id, name, description, sql)
                VALUES (%s, %s, %s, %s, %s) RETURNING {SAVED_COLUMNS}""",
            (user.username, saved_in.case_id, saved_in.name, saved_in.description, saved_in.sql),
        )
    except errors.UniqueViolation:
        raise SavedQueryExists(f"you already have a saved query named {saved_in.name!r}; pick another name") from None
    row = await cur.fetchone()
    assert row is not None
    return SavedQuery(**row)


async def delete(conn: AsyncConnection, *, user: User, saved_id: int) -> bool:
    """Delete one of the caller's own saved queries (admins: anyone's); whether there was one."""
    cur = await conn.execute(
        "DELETE FROM explorer_saved_queries WHERE id = %s AND (owner = %s OR %s)",
        (saved_id, user.username, cases.sees_everything(user)),
    )
    return cur.rowcount > 0
