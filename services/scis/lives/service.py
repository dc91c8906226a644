"""Reading live sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.core import cases
from scis.core.auth.models import User
from scis.core.status import SessionStatus
from scis.lives.models import ActiveLive, LiveSessionRead, OpenSession


async def list_sessions(
    conn: AsyncConnection, *, user: User, active_only: bool, case_id: int | None = None, limit: int = 100
) -> list[LiveSessionRead]:
    """Sessions the caller may see (scis.core.cases), newest first."""
    visible, scope = cases.visible_filter(user, case_column="case_id", owner_column="created_by")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT * FROM live_sessions
           WHERE (NOT %(active)s OR status = ANY(%(statuses)s))
             AND (%(case)s::bigint IS NULL OR case_id = %(case)s)
             AND {visible}
           ORDER BY started_at DESC LIMIT %(limit)s""",
        {
            "active": active_only,
            "statuses": SessionStatus.active_values(),
            "case": case_id,
            "limit": limit,
            **scope,
        },  # fmt: skip
    )
    return [LiveSessionRead(**row) for row in await cur.fetchall()]


async def get_session(conn: AsyncConnection, *, user: User, session_id: UUID) -> LiveSessionRead | None:
    """The session when it exists and the caller may see it."""
    if not await cases.may_see_session(conn, user=user, session_id=session_id):
        return None
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM live_sessions WHERE id = %s", (session_id,))
    row = await cur.fetchone()
    return LiveSessionRead(**row) if row else None


async def open_sessions(conn: AsyncConnection) -> list[OpenSession]:
    """Sessions the store lists as active, with their newest record's time (health of captures)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT s.id, s.target, s.status, s.source, s.events_count, s.started_at,
                  coalesce(last.captured_at, s.started_at) AS last_record_at,
                  extract(epoch FROM now() - coalesce(last.captured_at, s.started_at))::float8 AS idle_seconds
             FROM live_sessions s
             LEFT JOIN LATERAL (SELECT captured_at FROM events e WHERE e.session_id = s.id
                                 ORDER BY seq DESC LIMIT 1) last ON true
            WHERE s.status = ANY(%s)
            ORDER BY s.started_at""",
        (SessionStatus.active_values(),),
    )
    return [OpenSession(**row) for row in await cur.fetchall()]


def video_url(session: LiveSessionRead) -> str | None:
    """The stream the capture records (from its configuration snapshot); None when it records no video."""
    video = session.config.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    return url if isinstance(url, str) and url else None


def duration_seconds(session: LiveSessionRead, now: datetime | None = None) -> float:
    """How long the capture has run (until its end, if it ended)."""
    end = session.ended_at or now or datetime.now(UTC)
    return max(0.0, (end - session.started_at).total_seconds())


async def active_lives(
    conn: AsyncConnection, *, user: User, case_id: int | None, viewers_of: Callable[[UUID], int]
) -> list[ActiveLive]:
    """Lives being captured now that the caller may see, with duration, video and WebRTC viewers."""
    sessions = await list_sessions(conn, user=user, active_only=True, case_id=case_id)
    return [
        ActiveLive(
            session=session,
            duration_seconds=duration_seconds(session),
            recorded_video=video_url(session) is not None,
            webrtc_viewers=viewers_of(session.id),
        )  # fmt: skip
        for session in sessions
    ]
