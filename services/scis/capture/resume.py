"""Resume with the cursor: remember where the server would re-send from, for what is committed.

Each frame a source receives carries its resume point (cursor, internal_ext, push server, route
parameters). A point becomes safe to store once every event queued before it is committed (or lost
and recorded as a gap) and no gift streak that was open when it arrived is still held in memory
(a streak's frames are stored only when it closes). The capture stores the latest safe point in
`live_sessions.resume_point` about once a second; a capture resuming the session, or adopting it
after a crash, asks the server to re-send from there, so what the dead process held in memory or
missed while down comes again instead of being lost (duplicates are dropped by msg_id).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from scis.capture.sources.base import ResumePoint

MAX_PENDING_POINTS = 50_000  # the oldest are forgotten first: that only makes a resume re-send more


class ResumePoints:
    def __init__(self) -> None:
        self._pending: deque[tuple[int, float, ResumePoint]] = deque(maxlen=MAX_PENDING_POINTS)
        self.latest: ResumePoint | None = None  # the newest safe point found so far
        self.saved: ResumePoint | None = None  # the one stored last

    def after_frame(self, put_seq: int, point: ResumePoint) -> None:
        """A frame's events were queued up to `put_seq`; resuming from `point` re-sends what follows."""
        self._pending.append((put_seq, time.monotonic(), point))

    def safe(self, committed_seq: int, oldest_open_streak: float | None) -> ResumePoint | None:
        """The latest point whose events are all committed and that no open streak straddles."""
        while self._pending:
            put_seq, at, point = self._pending[0]
            if put_seq > committed_seq or (oldest_open_streak is not None and at >= oldest_open_streak):
                break
            self.latest = self._pending.popleft()[2]
        return self.latest


SAVE_RESUME_POINT_SQL = "UPDATE live_sessions SET resume_point = %s WHERE id = %s"


async def save_resume_point(conn: AsyncConnection[Any], session_id: UUID, point: ResumePoint) -> None:
    await conn.execute(SAVE_RESUME_POINT_SQL, (Jsonb(point), session_id))


async def load_resume_point(conn: AsyncConnection[Any], session_ids: list[UUID]) -> ResumePoint | None:
    """The resume point of the most recent of these sessions that has one."""
    cur = await conn.execute(
        """SELECT resume_point FROM live_sessions WHERE id = ANY(%s) AND resume_point IS NOT NULL
            ORDER BY started_at DESC LIMIT 1""",
        (session_ids,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    point: ResumePoint = row["resume_point"] if isinstance(row, dict) else row[0]
    return point
