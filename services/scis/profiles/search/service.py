"""Full-text search over stored events, served by the GIN index of migration 0016 (never a scan)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from scis.core import cases
from scis.core.app import InvalidRequest
from scis.core.auth.models import User
from scis.profiles.search.models import HIGHLIGHT_START, HIGHLIGHT_STOP, EventHit, EventSearchPage

# The WHERE clause's document expression must stay the index's, word for word, for the index to serve it.
DOCUMENT = "scis_event_document(e.body, e.unique_id, e.nickname)"
HEADLINE_OPTIONS = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxFragments=2, MaxWords=20, MinWords=5"

SEARCH_SQL = f"""
SELECT e.session_id, e.seq, s.case_id, e.kind, e.captured_at, e.user_id, e.unique_id, e.nickname, e.body,
       ts_headline('simple', unaccent(concat_ws(' ', e.body, '@' || e.unique_id, e.nickname)), q.query,
                   %(headline)s) AS highlight,
       ts_rank_cd({DOCUMENT}, q.query) AS rank
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
 LIMIT %(limit)s OFFSET %(offset)s"""


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
) -> EventSearchPage:
    """Events of the lives the caller may see matching every word of `q` (quotes for a phrase, -word to
    exclude, `or`), accents ignored, best match first; stable pages."""
    await require_words(conn, q)
    sql, scope = search_sql(user)
    params = {"q": q, "headline": HEADLINE_OPTIONS, "case": case_id, "session": session_id, "user": user_id,
              "since": since, "until": until, "limit": limit + 1, "offset": offset, **scope}  # fmt: skip
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(sql, params)
    rows = await cur.fetchall()
    return EventSearchPage(items=[EventHit(**row) for row in rows[:limit]], has_more=len(rows) > limit)
