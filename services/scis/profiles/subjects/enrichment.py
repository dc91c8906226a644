"""Folding stored events into subjects: pure aggregation of a batch, then set-based upserts.

A live's events are read in seq order from a cursor (`subject_enrichment`) locked in the same
transaction as the upserts, so two enrichers never fold the same events twice and a crash folds
nothing twice either. Every "first"/"latest" is decided by the total order (captured_at, session_id,
seq), never by the order in which batches arrive: folding live by live, batch by batch, or everything
at once (`rebuild`) gives the same rows (docs/decisions/601).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from scis.profiles.watch.service import raise_alerts

DEFAULT_BATCH = 20_000

# Which counter of subject_lives each event kind adds to (docs/profiles.md).
COUNTER_OF_KIND = {"chat": "messages", "join": "joins", "follow": "follows", "share": "shares"}
COUNTERS = ("events", "messages", "gifts", "diamonds", "likes", "joins", "follows", "shares")

SeenKey = tuple[datetime, UUID, int]

READ_BATCH_SQL = """
SELECT seq, kind, user_id, unique_id, nickname, captured_at, diamond_count, repeat_count,
       counts->'count' AS like_count, data->'user'->>'avatar' AS avatar, data->'user'->>'sec_uid' AS sec_uid
  FROM events WHERE session_id = %s AND seq > %s ORDER BY seq LIMIT %s"""


@dataclass
class SeenSpan:
    """The first and the latest place a thing was seen."""

    first: SeenKey
    last: SeenKey

    def widen(self, key: SeenKey) -> None:
        self.first = min(self.first, key)
        self.last = max(self.last, key)


@dataclass
class SubjectFold:
    """What one batch says about one user."""

    span: SeenSpan
    unique_id: str | None = None
    nickname: str | None = None
    sec_uid: str | None = None
    avatar: str | None = None
    avatar_at: datetime | None = None
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))


@dataclass
class BatchFold:
    session_id: UUID
    subjects: dict[int, SubjectFold] = field(default_factory=dict)
    aliases: dict[tuple[int, str, str], SeenSpan] = field(default_factory=dict)
    last_seq: int = -1


def add_counters(counters: dict[str, int], row: dict[str, Any]) -> None:
    counters["events"] += 1
    kind = row["kind"]
    if kind in COUNTER_OF_KIND:
        counters[COUNTER_OF_KIND[kind]] += 1
    elif kind == "gift":
        # One `gift` event is one finished streak; `gift_update` (a late frame) is not counted again.
        repeat = row["repeat_count"] or 1
        counters["gifts"] += repeat
        counters["diamonds"] += (row["diamond_count"] or 0) * repeat
    elif kind == "like":
        like_count = row["like_count"]
        counters["likes"] += like_count if isinstance(like_count, int) and like_count > 0 else 1


def _newer_avatar(seen_at: datetime, url: str, subject: SubjectFold) -> bool:
    """The same tie-break as UPSERT_SUBJECTS_SQL: latest first, then the smallest URL."""
    if subject.avatar_at is None or subject.avatar is None or seen_at > subject.avatar_at:
        return True
    return seen_at == subject.avatar_at and url < subject.avatar


def fold_rows(session_id: UUID, rows: list[dict[str, Any]]) -> BatchFold:
    """Aggregate a batch of one live's events (in seq order) per user; pure."""
    fold = BatchFold(session_id=session_id)
    for row in rows:
        fold.last_seq = max(fold.last_seq, row["seq"])
        user_id = row["user_id"]
        if user_id is None:
            continue
        key: SeenKey = (row["captured_at"], session_id, row["seq"])
        subject = fold.subjects.get(user_id)
        if subject is None:
            subject = fold.subjects[user_id] = SubjectFold(span=SeenSpan(key, key))
        subject.span.widen(key)
        if key == subject.span.last:
            subject.unique_id, subject.nickname = row["unique_id"], row["nickname"]
            subject.sec_uid = row["sec_uid"] or subject.sec_uid
        if row["avatar"] and _newer_avatar(row["captured_at"], row["avatar"], subject):
            subject.avatar, subject.avatar_at = row["avatar"], row["captured_at"]
        add_counters(subject.counters, row)
        for kind in ("unique_id", "nickname"):
            value = row[kind]
            if value:
                alias_key = (user_id, kind, value)
                span = fold.aliases.get(alias_key)
                if span is None:
                    fold.aliases[alias_key] = SeenSpan(key, key)
                else:
                    span.widen(key)
    return fold


UPSERT_SUBJECTS_SQL = """
INSERT INTO subjects AS s (tiktok_user_id, unique_id, nickname, sec_uid, avatar_url, avatar_seen_at,
                           first_seen_at, last_seen_at, last_session_id, last_seq)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                     %s::timestamptz[], %s::timestamptz[], %s::uuid[], %s::bigint[])
ON CONFLICT (tiktok_user_id) DO UPDATE SET
    first_seen_at = least(s.first_seen_at, EXCLUDED.first_seen_at),
    (unique_id, nickname, sec_uid, last_seen_at, last_session_id, last_seq) = (
        SELECT * FROM (VALUES
            (EXCLUDED.unique_id, EXCLUDED.nickname, coalesce(EXCLUDED.sec_uid, s.sec_uid),
             EXCLUDED.last_seen_at, EXCLUDED.last_session_id, EXCLUDED.last_seq),
            (s.unique_id, s.nickname, coalesce(s.sec_uid, EXCLUDED.sec_uid),
             s.last_seen_at, s.last_session_id, s.last_seq)) AS latest(u, n, sec, at, sid, sq)
        ORDER BY at DESC NULLS LAST, sid DESC, sq DESC LIMIT 1),
    (avatar_url, avatar_seen_at) = (
        SELECT * FROM (VALUES (EXCLUDED.avatar_url, EXCLUDED.avatar_seen_at), (s.avatar_url, s.avatar_seen_at))
            AS avatar(url, at)
        ORDER BY at DESC NULLS LAST, url LIMIT 1)
RETURNING id, tiktok_user_id"""

UPSERT_ALIASES_SQL = """
INSERT INTO subject_aliases AS a (subject_id, kind, value, first_seen_at, first_session_id, first_seq,
                                  last_seen_at, last_session_id, last_seq)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::uuid[], %s::bigint[],
                     %s::timestamptz[], %s::uuid[], %s::bigint[])
ON CONFLICT (subject_id, kind, value) DO UPDATE SET
    (first_seen_at, first_session_id, first_seq) = (
        SELECT * FROM (VALUES (EXCLUDED.first_seen_at, EXCLUDED.first_session_id, EXCLUDED.first_seq),
                              (a.first_seen_at, a.first_session_id, a.first_seq)) AS f(at, sid, sq)
        ORDER BY at NULLS LAST, sid, sq LIMIT 1),
    (last_seen_at, last_session_id, last_seq) = (
        SELECT * FROM (VALUES (EXCLUDED.last_seen_at, EXCLUDED.last_session_id, EXCLUDED.last_seq),
                              (a.last_seen_at, a.last_session_id, a.last_seq)) AS l(at, sid, sq)
        ORDER BY at DESC NULLS LAST, sid DESC, sq DESC LIMIT 1)"""

UPSERT_LIVES_SQL = f"""
INSERT INTO subject_lives AS l (subject_id, session_id, first_seen_at, last_seen_at, first_seq, last_seq,
                                {", ".join(COUNTERS)})
SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::bigint[],
                     {", ".join(["%s::bigint[]"] * len(COUNTERS))})
ON CONFLICT (subject_id, session_id) DO UPDATE SET
    first_seen_at = least(l.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = greatest(l.last_seen_at, EXCLUDED.last_seen_at),
    first_seq = least(l.first_seq, EXCLUDED.first_seq),
    last_seq = greatest(l.last_seq, EXCLUDED.last_seq),
    {", ".join(f"{name} = l.{name} + EXCLUDED.{name}" for name in COUNTERS)}"""


async def store_fold(conn: AsyncConnection[Any], fold: BatchFold) -> None:
    """Upsert one batch's subjects, aliases and per-live counters, in the caller's transaction."""
    if not fold.subjects:
        return
    # Sorted by user id, so concurrent enrichers lock subjects in the same order and cannot deadlock.
    user_ids = sorted(fold.subjects)
    subjects = [fold.subjects[user_id] for user_id in user_ids]
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(
        UPSERT_SUBJECTS_SQL,
        (
            user_ids,
            [s.unique_id for s in subjects],
            [s.nickname for s in subjects],
            [s.sec_uid for s in subjects],
            [s.avatar for s in subjects],
            [s.avatar_at for s in subjects],
            [s.span.first[0] for s in subjects],
            [s.span.last[0] for s in subjects],
            [s.span.last[1] for s in subjects],
            [s.span.last[2] for s in subjects],
        ),
    )
    subject_id_of = {user_id: subject_id for subject_id, user_id in await cur.fetchall()}
    aliases = sorted(fold.aliases.items())
    await cur.execute(
        UPSERT_ALIASES_SQL,
        (
            [subject_id_of[user_id] for (user_id, _, _), _ in aliases],
            [kind for (_, kind, _), _ in aliases],
            [value for (_, _, value), _ in aliases],
            [span.first[0] for _, span in aliases],
            [span.first[1] for _, span in aliases],
            [span.first[2] for _, span in aliases],
            [span.last[0] for _, span in aliases],
            [span.last[1] for _, span in aliases],
            [span.last[2] for _, span in aliases],
        ),
    )
    await cur.execute(
        UPSERT_LIVES_SQL,
        (
            [subject_id_of[user_id] for user_id in user_ids],
            [fold.session_id] * len(user_ids),
            [s.span.first[0] for s in subjects],
            [s.span.last[0] for s in subjects],
            [s.span.first[2] for s in subjects],
            [s.span.last[2] for s in subjects],
            *([s.counters[name] for s in subjects] for name in COUNTERS),
        ),
    )


async def enrich_batch(
    conn: AsyncConnection[Any], session_id: UUID, *, batch_size: int = DEFAULT_BATCH, alerts: list[int] | None = None
) -> int:
    """Fold the next batch of one live's events; how many events were read (0: caught up).

    The same transaction raises the batch's watchlist alerts (their ids are added to `alerts`, to be
    announced once committed). Runs in its own transaction unless the caller already opened one (rebuild does).
    """
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "INSERT INTO subject_enrichment (session_id, last_seq) VALUES (%s, -1) ON CONFLICT DO NOTHING",
            (session_id,),
        )
        await cur.execute("SELECT last_seq FROM subject_enrichment WHERE session_id = %s FOR UPDATE", (session_id,))
        cursor_row = await cur.fetchone()
        assert cursor_row is not None
        await cur.execute(READ_BATCH_SQL, (session_id, cursor_row["last_seq"], batch_size))
        rows = await cur.fetchall()
        if not rows:
            return 0
        fold = fold_rows(session_id, rows)
        await store_fold(conn, fold)
        after = cursor_row["last_seq"]
        raised = await raise_alerts(conn, session_id=session_id, after_seq=after, upto_seq=fold.last_seq)
        if alerts is not None:
            alerts.extend(raised)
        await cur.execute(
            "UPDATE subject_enrichment SET last_seq = %s WHERE session_id = %s", (fold.last_seq, session_id)
        )
        return len(rows)


async def enrich_session(
    conn: AsyncConnection[Any], session_id: UUID, *, batch_size: int = DEFAULT_BATCH, alerts: list[int] | None = None
) -> int:
    """Fold every not yet folded event of one live; how many were read."""
    total = 0
    while read := await enrich_batch(conn, session_id, batch_size=batch_size, alerts=alerts):
        total += read
    return total


async def sessions_behind(conn: AsyncConnection[Any]) -> list[UUID]:
    """Lives with stored events not yet folded (the head moves with each committed batch)."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(
        """SELECT s.id FROM live_sessions s LEFT JOIN subject_enrichment e ON e.session_id = s.id
            WHERE s.events_count > coalesce(e.last_seq, -1) + 1 ORDER BY s.started_at, s.id"""
    )
    return [row[0] for row in await cur.fetchall()]


async def rebuild(conn: AsyncConnection[Any], *, batch_size: int = DEFAULT_BATCH) -> int:
    """Recompute every subject's history and counters from the evidence store, atomically.

    Subject rows are kept (profiles point to them by id); what was derived from events is reset and
    folded again. Concurrent enrichers wait on the table lock and then find nothing left to do.
    """
    async with conn.transaction():
        await conn.execute("LOCK TABLE subject_enrichment IN EXCLUSIVE MODE")
        await conn.execute("DELETE FROM subject_lives")
        await conn.execute("DELETE FROM subject_aliases")
        await conn.execute("DELETE FROM subject_enrichment")
        await conn.execute(
            """UPDATE subjects SET first_seen_at = NULL, last_seen_at = NULL, last_session_id = NULL,
                                   last_seq = NULL, avatar_url = NULL, avatar_seen_at = NULL
                WHERE first_seen_at IS NOT NULL OR avatar_url IS NOT NULL"""
        )
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT DISTINCT session_id FROM events ORDER BY session_id")
        total = 0
        for (session_id,) in await cur.fetchall():
            total += await enrich_session(conn, session_id, batch_size=batch_size)
        return total
