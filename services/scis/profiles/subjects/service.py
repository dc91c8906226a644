"""Reading subjects: one subject with its names, lives and counters; its timeline across lives.

A subject is global (a TikTok user), but what the caller learns of it follows per-case access
(scis.core.cases): only the lives the caller may see are listed, counted and shown in the timeline,
and a subject seen in none of them reads as absent (docs/decisions/601).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from scis.core import cases
from scis.core.auth.models import User
from scis.profiles.subjects.enrichment import COUNTERS
from scis.profiles.subjects.models import (
    AliasRead,
    Counters,
    Sighting,
    SubjectLive,
    SubjectRead,
    TimelineItem,
    TimelinePage,
)


class BadCursor(ValueError):
    """A timeline `after` value this service did not hand out."""


def encode_cursor(captured_at: datetime, session_id: UUID, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{captured_at.isoformat()}|{session_id}|{seq}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID, int]:
    try:
        at, session_id, seq = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), UUID(session_id), int(seq)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor("not a cursor from a previous page; start without `after`") from error


def _sighting(row: dict[str, Any], prefix: str) -> Sighting:
    return Sighting(at=row[f"{prefix}_seen_at"], session_id=row[f"{prefix}_session_id"], seq=row[f"{prefix}_seq"])


async def _visible_lives(conn: AsyncConnection, *, user: User, subject_id: int) -> list[SubjectLive]:
    visible, scope = cases.visible_filter(user, case_column="s.case_id", owner_column="s.created_by")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT l.*, s.target, s.case_id, l.session_id AS first_session_id, l.session_id AS last_session_id
              FROM subject_lives l JOIN live_sessions s ON s.id = l.session_id
             WHERE l.subject_id = %(subject)s AND {visible}
             ORDER BY l.first_seen_at, l.session_id""",
        {"subject": subject_id, **scope},
    )
    return [
        SubjectLive(
            session_id=row["session_id"],
            target=row["target"],
            case_id=row["case_id"],
            first_seen=_sighting(row, "first"),
            last_seen=_sighting(row, "last"),
            **{name: row[name] for name in COUNTERS},
        )
        for row in await cur.fetchall()
    ]


async def get_subject(conn: AsyncConnection, *, user: User, subject_id: int) -> SubjectRead | None:
    """The subject as the caller may see it; None when absent or seen only in lives hidden from them."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM subjects WHERE id = %s", (subject_id,))
    subject = await cur.fetchone()
    if subject is None:
        return None
    lives = await _visible_lives(conn, user=user, subject_id=subject_id)
    if not lives and not cases.sees_everything(user):
        return None
    await cur.execute(
        "SELECT * FROM subject_aliases WHERE subject_id = %s ORDER BY first_seen_at, kind, value", (subject_id,)
    )
    aliases = [
        AliasRead(
            kind=row["kind"], value=row["value"], first_seen=_sighting(row, "first"), last_seen=_sighting(row, "last")
        )
        for row in await cur.fetchall()
        if row["first_session_id"] is not None
    ]
    totals = Counters(**{name: sum(getattr(live, name) for live in lives) for name in COUNTERS})
    return SubjectRead(
        id=subject["id"],
        tiktok_user_id=None if subject["tiktok_user_id"] is None else str(subject["tiktok_user_id"]),
        unique_id=subject["unique_id"],
        nickname=subject["nickname"],
        sec_uid=subject["sec_uid"],
        avatar_url=subject["avatar_url"],
        first_seen_at=subject["first_seen_at"],
        last_seen_at=subject["last_seen_at"],
        aliases=aliases,
        lives=lives,
        totals=totals,
    )


async def subject_id_for_user(conn: AsyncConnection, *, tiktok_user_id: int) -> int | None:
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT id FROM subjects WHERE tiktok_user_id = %s", (tiktok_user_id,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def timeline(
    conn: AsyncConnection,
    *,
    user: User,
    subject_id: int,
    kinds: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    after: str | None,
    limit: int,
) -> TimelinePage | None:
    """Every record of the subject across the lives the caller may see, oldest first, keyset-paged."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT tiktok_user_id FROM subjects WHERE id = %s", (subject_id,))
    subject = await cur.fetchone()
    if subject is None or subject["tiktok_user_id"] is None:
        return None
    if not cases.sees_everything(user) and not await _visible_lives(conn, user=user, subject_id=subject_id):
        return None
    visible, scope = cases.visible_filter(user, case_column="s.case_id", owner_column="s.created_by")
    position = decode_cursor(after) if after else None
    params: dict[str, Any] = {
        "user_id": subject["tiktok_user_id"], "kinds": kinds, "since": since, "until": until,
        "after_at": position[0] if position else None, "after_session": position[1] if position else None,
        "after_seq": position[2] if position else None, "limit": limit + 1, **scope,
    }  # fmt: skip
    # Served by events_user_idx (user_id, captured_at); the row comparison makes the order total.
    await cur.execute(
        f"""SELECT e.session_id, e.seq, e.kind, e.captured_at, e.unique_id, e.nickname, e.body, e.gift_name,
                   e.diamond_count, e.repeat_count, e.counts, e.chain_hash
              FROM events e JOIN live_sessions s ON s.id = e.session_id
             WHERE e.user_id = %(user_id)s
               AND (%(kinds)s::text[] IS NULL OR e.kind = ANY(%(kinds)s::text[]))
               AND (%(since)s::timestamptz IS NULL OR e.captured_at >= %(since)s)
               AND (%(until)s::timestamptz IS NULL OR e.captured_at < %(until)s)
               AND (%(after_at)s::timestamptz IS NULL
                    OR (e.captured_at, e.session_id, e.seq)
                       > (%(after_at)s, %(after_session)s::uuid, %(after_seq)s::bigint))
               AND {visible}
             ORDER BY e.captured_at, e.session_id, e.seq
             LIMIT %(limit)s""",
        params,
    )
    rows = await cur.fetchall()
    items = [TimelineItem(**row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.captured_at, last.session_id, last.seq)
    return TimelinePage(items=items, next_cursor=next_cursor)
