"""Full-text search over stored events, served by the GIN index of migrations 0016/0029 (never a scan)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from scis.core import cases
from scis.core.app import InvalidRequest
from scis.core.auth.models import User
from scis.profiles.search.models import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    ContextRecord,
    EventHit,
    EventSearchPage,
)

# The WHERE clause's document expression must stay the index's, word for word, for the index to serve it.
DOCUMENT = "scis_event_document(e.body, e.unique_id, e.nickname)"
HEADLINE_OPTIONS = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxFragments=2, MaxWords=20, MinWords=5"
# Relevance from the as-written reading only: words matched as typed rank above words matched by their
# stem only (which rank 0, newest first), and one to_tsvector per hit costs a third of the whole document.
RANK = "ts_rank_cd(to_tsvector('scis_simple', scis_event_text(e.body, e.unique_id, e.nickname)), q.query)"
# The reading of the query (migration 0029) that highlights the words of a hit: as written if that
# matches, else its English stems, else its French stems (a stem is highlighted in the config it comes from).
HEADLINE_CONFIGS = ("scis_simple", "scis_english", "scis_french")
HEADLINE_TEXT = "concat_ws(' ', h.body, '@' || h.unique_id, h.nickname)"
HEADLINE = (
    "CASE "
    + " ".join(
        f"WHEN to_tsvector('{config}', {HEADLINE_TEXT}) @@ websearch_to_tsquery('{config}', %(q)s) "
        f"THEN ts_headline('{config}', {HEADLINE_TEXT}, websearch_to_tsquery('{config}', %(q)s), %(headline)s)"
        for config in HEADLINE_CONFIGS
    )
    + f" ELSE ts_headline('scis_simple', {HEADLINE_TEXT}, h.query, %(headline)s) END"
)

# The page of hits first (index, rank, LIMIT), then the highlight of those rows only.
SEARCH_SQL = f"""
SELECT h.session_id, h.seq, h.case_id, h.kind, h.captured_at, h.user_id, h.unique_id, h.nickname, h.body, h.rank,
       {HEADLINE} AS highlight
  FROM (SELECT e.session_id, e.seq, s.case_id, e.kind, e.captured_at, e.user_id, e.unique_id, e.nickname, e.body,
               {RANK} AS rank, q.query
          FROM scis_event_query(%(q)s) AS q(query)
          JOIN events e ON {DOCUMENT} @@ q.query
          JOIN live_sessions s ON s.id = e.session_id
         WHERE (%(case)s::bigint IS NULL OR s.case_id = %(case)s)
           AND (%(session)s::uuid IS NULL OR e.session_id = %(session)s)
           AND (%(user)s::bigint IS NULL OR e.user_id = %(user)s)
           AND (%(since)s::timestamptz IS NULL OR e.captured_at >= %(since)s)
           AND (%(until)s::timestamptz IS NULL OR e.captured_at < %(until)s)
           AND {{visible}}
         ORDER BY rank DESC, e.captured_at DESC, e.session_id, e.seq
         LIMIT %(limit)s OFFSET %(offset)s) AS h
 ORDER BY h.rank DESC, h.captured_at DESC, h.session_id, h.seq"""

# The records of the same live within `around` places of each hit (the hit itself excluded), in order.
AROUND_SQL = """
SELECT h.session_id, h.seq AS hit_seq, e.seq, e.kind, e.captured_at, e.user_id, e.unique_id, e.nickname, e.body
  FROM unnest(%(sessions)s::uuid[], %(seqs)s::bigint[]) AS h(session_id, seq)
  JOIN events e ON e.session_id = h.session_id
               AND e.seq BETWEEN h.seq - %(around)s AND h.seq + %(around)s AND e.seq <> h.seq
 ORDER BY h.session_id, h.seq, e.seq"""


async def require_words(conn: AsyncConnection, q: str) -> None:
    """Refuse a search with no word in it (only punctuation, say): it would match nothing."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT numnode(scis_event_query(%s))", (q,))
    row = await cur.fetchone()
    if not row or not row[0]:
        raise InvalidRequest("query.q", q, "no word to search for; type at least one word, handle or name")


def search_sql(user: User) -> tuple[str, dict[str, object]]:
    visible, scope = cases.visible_filter(user, case_column="s.case_id", owner_column="s.created_by")
    return SEARCH_SQL.replace("{visible}", visible), scope


async def search_events(
    conn: AsyncConnection,
    *,
    user: User,
    q: str,
    case_id: int | None = None,
    session_id: UUID | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    around: int = 0,
) -> EventSearchPage:
    """Events of the lives the caller may see matching every word of `q` (quotes for a phrase, -word to
    exclude, `or`), accents ignored, French or English stems matched, best match first; stable pages. With
    `around`, each hit carries that many records before and after it in its live."""
    await require_words(conn, q)
    sql, scope = search_sql(user)
    params = {"q": q, "headline": HEADLINE_OPTIONS, "case": case_id, "session": session_id, "user": user_id,
              "since": since, "until": until, "limit": limit + 1, "offset": offset, **scope}  # fmt: skip
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(sql, params)
    rows = await cur.fetchall()
    hits = [EventHit(**row) for row in rows[:limit]]
    if around and hits:
        await attach_surroundings(conn, hits, around)
    return EventSearchPage(items=hits, has_more=len(rows) > limit)


async def attach_surroundings(conn: AsyncConnection, hits: list[EventHit], around: int) -> None:
    """Fill each hit's `before` and `after` with the records of its live within `around` places of it."""
    by_place = {(hit.session_id, hit.seq): hit for hit in hits}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(AROUND_SQL, {"sessions": [hit.session_id for hit in hits], "seqs": [hit.seq for hit in hits],
                                   "around": around})  # fmt: skip
    for row in await cur.fetchall():
        hit = by_place[(row.pop("session_id"), row.pop("hit_seq"))]
        record = ContextRecord(**row)
        (hit.before if record.seq < hit.seq else hit.after).append(record)
