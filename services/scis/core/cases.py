"""Per-case access: the one place that says whether a case exists and who may see what belongs to it.

The rule (docs/decisions/307-per-case-access.md):
- admins see every case and everything in it;
- anyone else sees a case, and what is linked to it (sessions, events, reports, profiles), only
  while they are a member of it (table case_members);
- a capture or report linked to no case belongs to the account that made it; a profile linked to
  no case is a shared watch-list entry every signed-in account may read;
- a case you may not see answers exactly like a case that does not exist (404, "no case with id N"),
  so ids of other teams' cases cannot be probed.

Every service uses these functions; none imports another service for them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from scis.core.auth.models import Role, User

# What a request naming a case_id it may not use is told (a 422 on that field): the same for a case
# that does not exist and one the caller does not belong to.
UNKNOWN_CASE_PROBLEM = "no such case of yours; create it, or ask an admin to add you to it"


class CaseNotFound(LookupError):
    """No case with that id, or one the caller may not see: both read the same on purpose."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"no case with id {case_id}")
        self.case_id = case_id


def sees_everything(user: User) -> bool:
    return user.role is Role.admin


async def get_or_raise(conn: AsyncConnection, *, case_id: int) -> dict[str, Any]:
    """The case's row; CaseNotFound when there is none."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM cases WHERE id = %s", (case_id,))
    row = await cur.fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    return row


async def is_member(conn: AsyncConnection, *, username: str, case_id: int) -> bool:
    cur = await conn.execute("SELECT 1 FROM case_members WHERE case_id = %s AND username = %s", (case_id, username))
    return await cur.fetchone() is not None


async def require_member(conn: AsyncConnection, *, user: User, case_id: int) -> dict[str, Any]:
    """The case's row when the caller may see it (admins always may); else CaseNotFound."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT c.*, EXISTS (SELECT 1 FROM case_members m WHERE m.case_id = c.id AND m.username = %s) AS scis_member
             FROM cases c WHERE c.id = %s""",
        (user.username, case_id),
    )
    case = await cur.fetchone()
    if case is None or not (case.pop("scis_member") or sees_everything(user)):
        raise CaseNotFound(case_id)
    return case


async def visible_case_ids(conn: AsyncConnection, *, user: User) -> set[int] | None:
    """Ids of the cases the caller may see; None means every case (admins)."""
    if sees_everything(user):
        return None
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT case_id FROM case_members WHERE username = %s", (user.username,))
    return {row[0] for row in await cur.fetchall()}


async def may_see(conn: AsyncConnection, *, user: User, case_id: int | None, owner: str | None) -> bool:
    """Whether the caller may see a thing linked to case_id and made by owner.

    owner=None marks a thing that has no owner rule: unlinked, every signed-in account may read it.
    """
    if sees_everything(user):
        return True
    if case_id is not None:
        return await is_member(conn, username=user.username, case_id=case_id)
    return owner is None or owner == user.username


def visible_filter(user: User, *, case_column: str, owner_column: str | None = None) -> tuple[str, dict[str, Any]]:
    """A WHERE fragment (named parameters) keeping only rows the caller may see, and its parameters.

    The column names come from code, never from a request. With owner_column=None, rows linked to no
    case are visible to every signed-in account (see the module rule).
    """
    unlinked = "TRUE" if owner_column is None else f"{owner_column} = %(scis_viewer)s"
    clause = f"""(%(scis_sees_all)s
        OR {case_column} IN (SELECT m.case_id FROM case_members m WHERE m.username = %(scis_viewer)s)
        OR ({case_column} IS NULL AND {unlinked}))"""
    return clause, {"scis_sees_all": sees_everything(user), "scis_viewer": user.username}


async def session_scope(conn: AsyncConnection, *, session_id: UUID | str) -> tuple[int | None, str] | None:
    """(case_id, created_by) of a live session, or None when there is no such session."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT case_id, created_by FROM live_sessions WHERE id = %s", (str(session_id),))
    row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def may_see_session(conn: AsyncConnection, *, user: User, session_id: UUID | str) -> bool:
    """Whether the caller may see a live session, its events and its live feed."""
    scope = await session_scope(conn, session_id=session_id)
    if scope is None:
        return sees_everything(user)
    case_id, owner = scope
    return await may_see(conn, user=user, case_id=case_id, owner=owner)
