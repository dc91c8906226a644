"""Marking a moment of a live: its still frame and the records around it, stored as a hashed bookmark.

The bookmark's `sha256` is the SHA-256 of `canonical(content)`: the case, session, moment, note, who
and when, the frame's own SHA-256 (the JPEG is stored beside it) and each record by seq, kind, time,
text and chain hash. Checking a bookmark is recomputing that hash and the frame's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from scis.core.settings import Settings
from scis.evidence.bookmarks import canonical, content_of, is_intact
from scis.evidence.canonical import iso_utc
from scis.evidence.media import MediaStore, ObjectMissing, media_store
from scis.evidence.records import VIDEO_SEGMENT
from scis.lives.models import LiveSessionRead
from scis.lives.service import video_url
from scis.snapshots import frames
from scis.snapshots.models import SnapshotRead

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
STREAM_WAIT_SECONDS = 20.0


class NotInACase(Exception):
    """The session belongs to no case: a bookmark is kept in a case."""


class MomentOutsideSession(Exception):
    """The moment asked for is before the capture started or after it ended."""


def read_model(row: dict[str, Any]) -> SnapshotRead:
    return SnapshotRead(
        id=row["id"], case_id=row["case_id"], session_id=row["session_id"], marked_at=row["marked_at"],
        note=row["note"], frame_sha256=row["frame_sha256"], frame_source=row["frame_source"],
        records=row["records"], sha256=row["sha256"], intact=is_intact(row), created_by=row["created_by"],
        created_at=row["created_at"],
    )  # fmt: skip


async def records_around(
    conn: AsyncConnection[Any], session_id: UUID, moment: datetime, seconds: int
) -> list[dict[str, Any]]:
    """The session's records captured within `seconds` of the moment (video segments aside), in chain order."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT seq, kind, captured_at, user_id, unique_id, nickname, body, gift_name, diamond_count,
                  repeat_count, chain_hash
             FROM events
            WHERE session_id = %s AND kind <> %s AND captured_at BETWEEN %s AND %s
            ORDER BY seq LIMIT %s""",
        (session_id, VIDEO_SEGMENT, moment - timedelta(seconds=seconds), moment + timedelta(seconds=seconds),
         MAX_RECORDS),
    )  # fmt: skip
    return [
        {**{k: v for k, v in row.items() if v is not None and k not in ("captured_at", "user_id")},
         "captured_at": iso_utc(row["captured_at"]),
         **({"user_id": str(row["user_id"])} if row["user_id"] is not None else {})}
        for row in await cur.fetchall()
    ]  # fmt: skip


async def segment_near(conn: AsyncConnection[Any], session_id: UUID, moment: datetime) -> dict[str, Any] | None:
    """The recorded segment holding the moment (the first stored after it), else the last one before it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """(SELECT data, 0 AS rank FROM events
             WHERE session_id = %(s)s AND kind = %(kind)s AND captured_at >= %(at)s ORDER BY seq LIMIT 1)
           UNION ALL
           (SELECT data, 1 AS rank FROM events
             WHERE session_id = %(s)s AND kind = %(kind)s AND captured_at < %(at)s ORDER BY seq DESC LIMIT 1)
           ORDER BY rank LIMIT 1""",
        {"s": session_id, "kind": VIDEO_SEGMENT, "at": moment},
    )
    row = await cur.fetchone()
    return row["data"] if row else None


def still_from_segment(store: MediaStore, segment: dict[str, Any]) -> tuple[bytes, str]:
    playable = segment.get("playable")
    if not playable:
        raise frames.NoFrame(f"segment {segment.get('index')} has no playable copy")
    try:
        mp4 = store.get(playable["key"])
    except (ObjectMissing, OSError) as error:
        raise frames.NoFrame(str(error)) from None
    return frames.still_from_recording(mp4), f"recorded segment {playable['key']} (from {segment.get('from')})"


async def take_still(
    conn: AsyncConnection[Any], session: LiveSessionRead, moment: datetime, *, now: bool, settings: Settings
) -> tuple[bytes | None, str]:
    """(JPEG, where it came from) or (None, why there is none).

    A moment marked now on a running capture takes the live's current picture from its stream; a past
    moment, or a live whose stream cannot be read, takes the recorded segment holding the moment.
    """
    url = video_url(session)
    if url is None:
        return None, "none: the capture records no video (--video)"
    problems = []
    if now and session.status.active:
        try:
            jpeg = await asyncio.wait_for(asyncio.to_thread(frames.still_from_stream, url), STREAM_WAIT_SECONDS)
            return jpeg, "live stream"
        except (frames.NoFrame, TimeoutError) as error:
            problems.append(f"live stream: {error or 'no keyframe in time'}")
    segment = await segment_near(conn, session.id, moment)
    if segment is None:
        problems.append("no recorded segment yet")
    else:
        try:
            return await asyncio.to_thread(still_from_segment, media_store(settings), segment)
        except (frames.NoFrame, ValueError) as error:
            problems.append(f"recorded segment: {error}")
    return None, "none: " + "; ".join(problems)


async def mark(
    conn: AsyncConnection[Any], session: LiveSessionRead, *, note: str, at: datetime | None, seconds_around: int,
    created_by: str, settings: Settings,
) -> SnapshotRead:  # fmt: skip
    """Store the bookmark of `at` (default now) in the session's case."""
    if session.case_id is None:
        raise NotInACase(f"live session {session.id} belongs to no case; bookmarks are kept in a case")
    created_at = datetime.now(UTC)
    moment = (at or created_at).astimezone(UTC)
    end = session.ended_at or created_at
    if not session.started_at - timedelta(seconds=1) <= moment <= end + timedelta(seconds=1):
        raise MomentOutsideSession(
            f"{iso_utc(moment)} is outside the capture ({iso_utc(session.started_at)} to {iso_utc(end)})"
        )
    frame, source = await take_still(conn, session, moment, now=at is None, settings=settings)
    row: dict[str, Any] = {
        "case_id": session.case_id, "session_id": session.id, "marked_at": moment, "note": note,
        "frame_jpeg": frame, "frame_sha256": None if frame is None else hashlib.sha256(frame).hexdigest(),
        "frame_source": source, "records": await records_around(conn, session.id, moment, seconds_around),
        "created_by": created_by, "created_at": created_at,
    }  # fmt: skip
    row["sha256"] = hashlib.sha256(canonical(content_of(row))).hexdigest()
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """INSERT INTO case_snapshots (case_id, session_id, marked_at, note, frame_jpeg, frame_sha256, frame_source,
                                       records, sha256, created_by, created_at)
           VALUES (%(case_id)s, %(session_id)s, %(marked_at)s, %(note)s, %(frame_jpeg)s, %(frame_sha256)s,
                   %(frame_source)s, %(records)s, %(sha256)s, %(created_by)s, %(created_at)s)
           RETURNING *""",
        {**row, "records": Jsonb(row["records"])},
    )
    stored = await cur.fetchone()
    assert stored is not None
    return read_model(stored)


async def list_snapshots(
    conn: AsyncConnection[Any], *, case_id: int | None = None, session_id: UUID | None = None
) -> list[SnapshotRead]:
    """Bookmarks of a case or of one session, oldest first."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT * FROM case_snapshots
            WHERE (%(case)s::bigint IS NULL OR case_id = %(case)s) AND (%(s)s::uuid IS NULL OR session_id = %(s)s)
            ORDER BY id""",
        {"case": case_id, "s": session_id},
    )
    return [read_model(row) for row in await cur.fetchall()]


async def frame_of(conn: AsyncConnection[Any], *, session_id: UUID, snapshot_id: int) -> bytes | None:
    """The bookmark's JPEG; None when the session has no such bookmark or it has no frame."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT frame_jpeg FROM case_snapshots WHERE id = %s AND session_id = %s", (snapshot_id, session_id)
    )
    row = await cur.fetchone()
    return None if row is None or row["frame_jpeg"] is None else bytes(row["frame_jpeg"])
