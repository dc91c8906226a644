"""Profiles: CRUD over PostgreSQL, audited, with read-through caching in Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.errors import ForeignKeyViolation
from psycopg.rows import dict_row

from scis.core import bus, cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.profiles.models import ProfileCreate, ProfilePage, ProfileRead, ProfileUpdate

CACHE_TTL_SECONDS = 300
SELECT_PROFILE = """SELECT p.*, s.tiktok_user_id FROM profiles p LEFT JOIN subjects s ON s.id = p.subject_id"""


class ProfileNotFound(Exception):
    pass


class UnknownCase(Exception):
    pass


def cache_key(profile_id: int) -> str:
    return f"scis:profile:{profile_id}"


async def get(conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int) -> ProfileRead | None:
    """The profile when it exists and the caller may see it (its case's members; unlinked: everyone)."""
    profile = await _read(conn, cache, profile_id=profile_id)
    if profile is None or not await cases.may_see(conn, user=user, case_id=profile.case_id, owner=None):
        return None
    return profile


async def _read(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int) -> ProfileRead | None:
    cached = await cache.get(cache_key(profile_id))
    if cached:
        return ProfileRead.model_validate_json(cached)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SELECT_PROFILE + " WHERE p.id = %s", (profile_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    profile = ProfileRead(**row)
    await cache.set(cache_key(profile_id), profile.model_dump_json(), ex=CACHE_TTL_SECONDS)
    return profile


async def _require_visible(conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int) -> None:
    if await get(conn, cache, user=user, profile_id=profile_id) is None:
        raise ProfileNotFound(f"no profile with id {profile_id}")


async def list_profiles(
    conn: AsyncConnection, *, user: User, case_id: int | None, search: str | None, limit: int, offset: int
) -> ProfilePage:
    visible, scope = cases.visible_filter(user, case_column="p.case_id")
    cur = conn.cursor(row_factory=dict_row)
    params = {
        "case": case_id, "q": f"%{search.lower()}%" if search else None, "limit": limit, "offset": offset, **scope
    }  # fmt: skip
    where = f"""WHERE (%(case)s::bigint IS NULL OR p.case_id = %(case)s)
                 AND (%(q)s::text IS NULL OR p.unique_id LIKE %(q)s OR lower(p.display_name) LIKE %(q)s)
                 AND {visible}"""
    await cur.execute(f"{SELECT_PROFILE} {where} ORDER BY p.id DESC LIMIT %(limit)s OFFSET %(offset)s", params)
    items = [ProfileRead(**row) for row in await cur.fetchall()]
    await cur.execute(f"SELECT count(*) AS n FROM profiles p {where}", params)
    total = await cur.fetchone()
    return ProfilePage(items=items, total=total["n"] if total else 0)


async def _subject_for(conn: AsyncConnection, profile_in: ProfileCreate) -> int | None:
    """Link to the subject seen in captures: by numeric id when known, else by current @handle."""
    cur = conn.cursor(row_factory=dict_row)
    if profile_in.tiktok_user_id:
        await cur.execute(
            """INSERT INTO subjects (tiktok_user_id, unique_id) VALUES (%s, %s)
               ON CONFLICT (tiktok_user_id) DO UPDATE SET unique_id = coalesce(subjects.unique_id, EXCLUDED.unique_id)
               RETURNING id""",
            (profile_in.tiktok_user_id, profile_in.unique_id),
        )
    else:
        await cur.execute(
            "SELECT id FROM subjects WHERE lower(unique_id) = %s ORDER BY last_seen_at DESC NULLS LAST LIMIT 1",
            (profile_in.unique_id,),
        )
    row = await cur.fetchone()
    return row["id"] if row else None


async def create(
    conn: AsyncConnection, cache: aioredis.Redis, *, profile_in: ProfileCreate, context: AuditContext
) -> ProfileRead:
    if profile_in.case_id is not None:
        try:
            await cases.require_member(conn, user=context.actor, case_id=profile_in.case_id)
        except cases.CaseNotFound:
            raise UnknownCase(f"case_id {profile_in.case_id}: no such case of yours") from None
    async with conn.transaction():
        subject_id = await _subject_for(conn, profile_in)
        cur = conn.cursor(row_factory=dict_row)
        try:
            await cur.execute(
                """INSERT INTO profiles
                     (case_id, subject_id, unique_id, display_name, risk_level, tags, notes, created_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (
                    profile_in.case_id,
                    subject_id,
                    profile_in.unique_id,
                    profile_in.display_name,
                    profile_in.risk_level.value,
                    profile_in.tags,
                    profile_in.notes,
                    context.actor.username,
                ),
            )
        except ForeignKeyViolation:
            raise UnknownCase(f"case_id {profile_in.case_id} does not exist; create the case first") from None
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn,
            context,
            action="profile.create",
            target=f"profile:{row['id']}",
            details={"unique_id": profile_in.unique_id, "case_id": profile_in.case_id},
        )
    created = await _read(conn, cache, profile_id=row["id"])
    assert created is not None
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "created", "profile_id": created.id})
    return created


async def update(
    conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int, profile_in: ProfileUpdate, context: AuditContext
) -> ProfileRead:
    await _require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    changes = profile_in.model_dump(exclude_none=True)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        if changes:
            assignments = ", ".join(f"{column} = %({column})s" for column in changes)
            await cur.execute(
                f"UPDATE profiles SET {assignments}, updated_at = now() WHERE id = %(id)s RETURNING id",
                {**changes, "id": profile_id},
            )
        else:
            await cur.execute("SELECT id FROM profiles WHERE id = %s", (profile_id,))
        if await cur.fetchone() is None:
            raise ProfileNotFound(f"no profile with id {profile_id}")
        if changes:
            await audit.record(
                conn,
                context,
                action="profile.update",
                target=f"profile:{profile_id}",
                details={"fields": sorted(changes)},
            )
    await cache.delete(cache_key(profile_id))
    updated = await _read(conn, cache, profile_id=profile_id)
    assert updated is not None
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "updated", "profile_id": profile_id})
    return updated


async def delete(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int, context: AuditContext) -> None:
    await _require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("DELETE FROM profiles WHERE id = %s RETURNING unique_id", (profile_id,))
        row = await cur.fetchone()
        if row is None:
            raise ProfileNotFound(f"no profile with id {profile_id}")
        await audit.record(
            conn,
            context,
            action="profile.delete",
            target=f"profile:{profile_id}",
            details={"unique_id": row["unique_id"]},
        )
    await cache.delete(cache_key(profile_id))
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "deleted", "profile_id": profile_id})
