"""Profiles: CRUD over PostgreSQL, audited, with read-through caching in Redis."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.errors import ForeignKeyViolation
from psycopg.rows import dict_row

from scis.core import bus, cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.profiles import cache as profile_cache
from scis.profiles.cache import cache_key
from scis.profiles.models import NoteCreate, NoteRead, ProfileCreate, ProfilePage, ProfileRead, ProfileUpdate

SELECT_PROFILE = """SELECT p.*, s.tiktok_user_id FROM profiles p LEFT JOIN subjects s ON s.id = p.subject_id"""

__all__ = ["cache_key"]


class ProfileNotFound(Exception):
    pass


class UnknownCase(Exception):
    pass


class StaleVersion(Exception):
    """If-Match named another version than the stored one."""

    def __init__(self, profile_id: int, current: int) -> None:
        super().__init__(f"profile {profile_id} is at version {current} now ({etag(profile_id, current)})")
        self.current = current


def etag(profile_id: int, version: int) -> str:
    return f'"profile-{profile_id}-v{version}"'


async def get(conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int) -> ProfileRead | None:
    """The profile when it exists and the caller may see it (its case's members; unlinked: everyone)."""
    profile = await _read(conn, cache, profile_id=profile_id)
    if profile is None or not await cases.may_see(conn, user=user, case_id=profile.case_id, owner=None):
        return None
    return profile


async def get_json(
    conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int
) -> tuple[str, int] | None:
    """The profile as JSON and its version when the caller may see it, for GET: a Redis hit is answered
    as it was cached (the model was validated when cached; no second pass), only membership is asked."""
    hit, body = await profile_cache.cached_json(cache, profile_id)
    if not hit:
        profile = await _load_and_offer(conn, cache, profile_id=profile_id)
        body = None if profile is None else profile.model_dump_json()
    if body is None:
        return None
    fields = json.loads(body)
    if not await cases.may_see(conn, user=user, case_id=fields["case_id"], owner=None):
        return None
    return body, int(fields["version"])


async def _read(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int) -> ProfileRead | None:
    hit, profile = await profile_cache.cached(cache, profile_id)
    if hit:
        return profile
    return await _load_and_offer(conn, cache, profile_id=profile_id)


async def _load_and_offer(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int) -> ProfileRead | None:
    """The stored profile (None when absent or deleted), offered to the cache with its version."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SELECT_PROFILE + " WHERE p.id = %s", (profile_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    profile = None if row["deleted_at"] is not None else ProfileRead(**row)
    await profile_cache.offer(cache, profile_id, row["version"], profile)
    return profile


async def require_visible(conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int) -> None:
    if await get(conn, cache, user=user, profile_id=profile_id) is None:
        raise ProfileNotFound(f"no profile with id {profile_id}")


# A match on the @handle itself (the profile's or one the subject was seen with) ranks first, then
# trigram similarity over handle, name and aliases; the id breaks ties so pages never overlap.
SEARCH_MATCH = """(%(q)s::text IS NULL
    OR p.unique_id %% %(q)s OR lower(p.display_name) %% %(q)s OR p.unique_id LIKE %(q_like)s
    OR lower(p.display_name) LIKE %(q_like)s
    OR EXISTS (SELECT 1 FROM unnest(p.aliases) alias WHERE lower(alias) %% %(q)s OR lower(alias) = %(q)s)
    OR EXISTS (SELECT 1 FROM subject_aliases a WHERE a.subject_id = p.subject_id
               AND (lower(a.value) %% %(q)s OR lower(a.value) = %(q)s))
    OR s.tiktok_user_id::text = %(q)s OR p.id::text = %(q)s)"""
SEARCH_RANK = """(%(q)s::text IS NOT NULL AND (p.unique_id = %(q)s OR EXISTS (
        SELECT 1 FROM subject_aliases a WHERE a.subject_id = p.subject_id AND a.kind = 'unique_id'
           AND lower(a.value) = %(q)s))) DESC,
    CASE WHEN %(q)s::text IS NULL THEN 0 ELSE greatest(
        similarity(p.unique_id, %(q)s), similarity(lower(p.display_name), %(q)s),
        coalesce((SELECT max(similarity(lower(alias), %(q)s)) FROM unnest(p.aliases) alias), 0),
        coalesce((SELECT max(similarity(lower(a.value), %(q)s)) FROM subject_aliases a
                   WHERE a.subject_id = p.subject_id), 0)) END DESC,
    p.id DESC"""


def search_term(search: str | None) -> str | None:
    """Lower case, without a leading @ (handles are stored so); None for an empty search."""
    term = (search or "").strip().removeprefix("@").lower()
    return term or None


async def list_profiles(
    conn: AsyncConnection,
    *,
    user: User,
    case_id: int | None,
    search: str | None,
    limit: int,
    offset: int,
    tag: str | None = None,
    risk_level: str | None = None,
) -> ProfilePage:
    """Profiles the caller may see matching the filters: exact handle first, then the closest, then newest."""
    visible, scope = cases.visible_filter(user, case_column="p.case_id")
    cur = conn.cursor(row_factory=dict_row)
    term = search_term(search)
    like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" if term else None
    params = {
        "case": case_id, "q": term, "q_like": like, "tag": tag.strip().lower() if tag else None,
        "risk": risk_level, "limit": limit, "offset": offset, **scope,
    }  # fmt: skip
    where = f"""WHERE p.deleted_at IS NULL AND (%(case)s::bigint IS NULL OR p.case_id = %(case)s)
                 AND (%(tag)s::text IS NULL OR p.tags @> ARRAY[%(tag)s::text])
                 AND (%(risk)s::text IS NULL OR p.risk_level = %(risk)s)
                 AND {SEARCH_MATCH}
                 AND {visible}"""
    await cur.execute(f"{SELECT_PROFILE} {where} ORDER BY {SEARCH_RANK} LIMIT %(limit)s OFFSET %(offset)s", params)
    items = [ProfileRead(**row) for row in await cur.fetchall()]
    count_sql = f"SELECT count(*) AS n FROM profiles p LEFT JOIN subjects s ON s.id = p.subject_id {where}"
    await cur.execute(count_sql, params)
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


class DuplicateProfile(Exception):
    """The case already has a profile of this person (same handle or same TikTok user id)."""

    def __init__(self, existing: list[dict[str, object]], case_id: int | None) -> None:
        names = ", ".join(f"profile {row['id']} (@{row['unique_id']})" for row in existing)
        where = f"case {case_id}" if case_id is not None else "no case"
        super().__init__(
            f"{where} already has {names} for this person; open it, link this account to it, "
            "or give duplicate_reason to create a second profile anyway"
        )
        self.existing = existing


async def duplicates_of(
    conn: AsyncConnection, *, case_id: int | None, unique_id: str, subject_id: int | None
) -> list[dict[str, object]]:
    """Live profiles in the same case of the same person: same @handle, same subject, or that subject linked."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT p.id, p.unique_id, p.subject_id FROM profiles p
            WHERE p.deleted_at IS NULL AND p.case_id IS NOT DISTINCT FROM %(case)s
              AND (p.unique_id = %(handle)s
                   OR (%(subject)s::bigint IS NOT NULL AND (p.subject_id = %(subject)s OR EXISTS (
                       SELECT 1 FROM profile_accounts a WHERE a.profile_id = p.id AND a.subject_id = %(subject)s))))
            ORDER BY p.id""",
        {"case": case_id, "handle": unique_id, "subject": subject_id},
    )
    return list(await cur.fetchall())


async def insert_profile(conn: AsyncConnection, *, profile_in: ProfileCreate, context: AuditContext) -> int:
    """Insert and audit a profile in the caller's transaction; DuplicateProfile unless a reason is given.

    Nothing is cached or announced here: the caller does that once its transaction is committed
    (`announce_created`), so no reader sees a profile that was rolled back.
    """
    if profile_in.case_id is not None:
        try:
            await cases.require_member(conn, user=context.actor, case_id=profile_in.case_id)
        except cases.CaseNotFound:
            raise UnknownCase(f"case_id {profile_in.case_id}: no such case of yours") from None
    subject_id = await _subject_for(conn, profile_in)
    if not profile_in.duplicate_reason:
        existing = await duplicates_of(
            conn, case_id=profile_in.case_id, unique_id=profile_in.unique_id, subject_id=subject_id
        )
        if existing:
            raise DuplicateProfile(existing, profile_in.case_id)
    cur = conn.cursor(row_factory=dict_row)
    try:
        await cur.execute(
            """INSERT INTO profiles (case_id, subject_id, unique_id, display_name, risk_level, tags, aliases, notes,
                                     created_by, duplicate_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                profile_in.case_id,
                subject_id,
                profile_in.unique_id,
                profile_in.display_name,
                profile_in.risk_level.value,
                profile_in.tags,
                profile_in.aliases,
                profile_in.notes,
                context.actor.username,
                profile_in.duplicate_reason,
            ),
        )
    except ForeignKeyViolation:
        raise UnknownCase(f"case_id {profile_in.case_id} does not exist; create the case first") from None
    row = await cur.fetchone()
    assert row is not None
    details: dict[str, object] = {"unique_id": profile_in.unique_id, "case_id": profile_in.case_id}
    if profile_in.duplicate_reason:
        details["duplicate_reason"] = profile_in.duplicate_reason
    await audit.record(conn, context, action="profile.create", target=f"profile:{row['id']}", details=details)
    return int(row["id"])


async def announce_created(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int) -> ProfileRead:
    """After the commit: the new profile, offered to the cache and announced on the bus."""
    created = await _load_and_offer(conn, cache, profile_id=profile_id)
    assert created is not None
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "created", "profile_id": created.id})
    return created


async def create(
    conn: AsyncConnection, cache: aioredis.Redis, *, profile_in: ProfileCreate, context: AuditContext
) -> ProfileRead:
    async with conn.transaction():
        profile_id = await insert_profile(conn, profile_in=profile_in, context=context)
    return await announce_created(conn, cache, profile_id=profile_id)


async def update(
    conn: AsyncConnection,
    cache: aioredis.Redis,
    *,
    profile_id: int,
    profile_in: ProfileUpdate,
    context: AuditContext,
    expected_version: int | None = None,
) -> ProfileRead:
    """Apply the changes and bump the version; StaleVersion when `expected_version` is not the stored one."""
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    changes = profile_in.model_dump(exclude_none=True)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        # The row lock orders concurrent writers; the version check makes the later one see the change.
        version = await _locked_version(conn, profile_id=profile_id)
        if expected_version is not None and expected_version != version:
            raise StaleVersion(profile_id, version)
        if changes:
            assignments = ", ".join(f"{column} = %({column})s" for column in changes)
            await cur.execute(
                f"""UPDATE profiles SET {assignments}, updated_at = now(), version = version + 1
                     WHERE id = %(id)s""",
                {**changes, "id": profile_id},
            )
            await audit.record(
                conn,
                context,
                action="profile.update",
                target=f"profile:{profile_id}",
                details={"fields": sorted(changes), "version": version + 1},
            )
    return await announce_updated(conn, cache, profile_id=profile_id)


async def announce_updated(conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int) -> ProfileRead:
    """After the commit: the new version, offered to the cache (replacing older copies) and announced."""
    updated = await _load_and_offer(conn, cache, profile_id=profile_id)
    if updated is None:
        raise ProfileNotFound(f"no profile with id {profile_id}")
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "updated", "profile_id": profile_id})
    return updated


async def _locked_version(conn: AsyncConnection, *, profile_id: int) -> int:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT version FROM profiles WHERE id = %s AND deleted_at IS NULL FOR UPDATE", (profile_id,))
    row = await cur.fetchone()
    if row is None:
        raise ProfileNotFound(f"no profile with id {profile_id}")
    return int(row["version"])


async def delete(
    conn: AsyncConnection,
    cache: aioredis.Redis,
    *,
    profile_id: int,
    context: AuditContext,
    expected_version: int | None = None,
) -> None:
    """Soft delete: the row stays with who and when, the version moves on, the audit log says so."""
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    async with conn.transaction():
        version = await _locked_version(conn, profile_id=profile_id)
        if expected_version is not None and expected_version != version:
            raise StaleVersion(profile_id, version)
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """UPDATE profiles SET deleted_at = now(), deleted_by = %s, version = version + 1
                WHERE id = %s RETURNING unique_id""",
            (context.actor.username, profile_id),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn,
            context,
            action="profile.delete",
            target=f"profile:{profile_id}",
            details={"unique_id": row["unique_id"], "version": version + 1, "soft": True},
        )
    await _load_and_offer(conn, cache, profile_id=profile_id)
    await bus.publish(cache, bus.PROFILES_CHANNEL, {"action": "deleted", "profile_id": profile_id})


async def add_note(
    conn: AsyncConnection, cache: aioredis.Redis, *, profile_id: int, note_in: NoteCreate, context: AuditContext
) -> NoteRead:
    """Append an authored note (never changed afterwards: the table refuses UPDATE and DELETE)."""
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "INSERT INTO profile_notes (profile_id, author, body) VALUES (%s, %s, %s) RETURNING *",
            (profile_id, context.actor.username, note_in.body),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn, context, action="profile.note", target=f"profile:{profile_id}", details={"note_id": row["id"]}
        )
    return NoteRead(**row)


async def list_notes(
    conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int, after_id: int, limit: int
) -> list[NoteRead]:
    """The profile's notes, oldest first, after note `after_id` (keyset pages)."""
    await require_visible(conn, cache, user=user, profile_id=profile_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM profile_notes WHERE profile_id = %s AND id > %s ORDER BY id LIMIT %s",
        (profile_id, after_id, limit),
    )
    return [NoteRead(**row) for row in await cur.fetchall()]
