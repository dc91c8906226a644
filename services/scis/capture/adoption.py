"""Abandoned sessions are adopted, never left `live`: spill replayed, a `crash` gap, sealed.

A session is abandoned when it is not sealed and nobody holds a live lease on it (its process was
killed, its Pod evicted, its host lost). It is found three ways: when a new capture of its target
takes the target's lease (then every other unsealed session of that target is abandoned by
definition), at the start of the analyser, and by the analyser's periodic reaper. The adopter holds
the target's lease while it works, so two adopters (or an adopter and a resuming capture) never
append to the same chain.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.capture.leases import BackgroundLoop, CaptureBusy, LeaseHolder, acquire, describe_lease, is_stale, release
from scis.capture.spill import SpillQueue, clear_parked_note, message_ids, read_parked_note, session_spill_dir
from scis.capture.stats import CaptureStats
from scis.capture.streaks import GIFT_UPDATE
from scis.capture.writer import EventWriter, publish
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.chain import (
    append_records,
    gap_record,
    is_sealed,
    latest_capture_time,
    read_tail,
    seal_session,
)
from scis.evidence.records import ChainedRecord, EventRecord

log = logging.getLogger(__name__)

# A capture that died is a failed capture; its reason (`abandoned: ...`) says how (decision 403).
ABANDONED_STATUS = SessionStatus.FAILED


@dataclass(frozen=True, slots=True)
class Adopted:
    session_id: UUID
    target: str
    replayed: int
    gap_from: datetime
    gap_to: datetime
    gaps: tuple[ChainedRecord, ...] = ()  # the gap records the adoption stored (a resumed stream may fill them)


STORED_KEYS = 200_000  # most recent message keys of a session a re-send or a replay is checked against


async def stored_message_keys(
    conn: psycopg.AsyncConnection[Any], session_ids: list[UUID], limit: int = STORED_KEYS
) -> list[tuple[str, int]]:
    """(kind, msg_id) of the messages most recently stored in these sessions (every frame of a gift
    streak too), oldest first: what a resumed stream or a replayed spill must not store again.

    Keys are those of the frames as received: a gift frame stored as `gift_update` (it came after its
    streak was closed as inferred) is the `gift` the server re-sends. Keyed by its stored kind, it was
    stored a second time by every resume that re-sent it (decision 413)."""
    cur = await conn.execute(
        """SELECT CASE WHEN kind = %(update)s THEN 'gift' ELSE kind END AS kind, msg_id FROM (
               SELECT captured_at, kind, msg_id FROM events
                WHERE session_id = ANY(%(ids)s) AND msg_id IS NOT NULL
               UNION ALL
               SELECT captured_at, kind, frame::bigint FROM events,
                      jsonb_array_elements_text(data -> 'streak' -> 'msg_ids') frame
                WHERE session_id = ANY(%(ids)s) AND data ? 'streak') stored
            ORDER BY captured_at DESC LIMIT %(limit)s""",
        {"ids": session_ids, "limit": limit, "update": GIFT_UPDATE},
    )
    rows = await cur.fetchall()
    keys = [(r["kind"], r["msg_id"]) if isinstance(r, dict) else (r[0], r[1]) for r in rows]
    return keys[::-1]


async def recent_sessions_of_room(
    conn: psycopg.AsyncConnection[Any], room_id: str | None, *, besides: UUID
) -> list[UUID]:
    """Other sessions of the same broadcast (room id) still open or ended within the hour: the recent
    history the server sends every new connection may already be stored there (a capture stopped, then
    started again by the CLI, the API or a Pod), and must not be stored twice across sessions."""
    if not room_id:
        return []
    cur = await conn.execute(
        """SELECT id FROM live_sessions WHERE room_id = %s AND id <> %s
            AND (ended_at IS NULL OR ended_at > now() - interval '1 hour')
            ORDER BY started_at DESC LIMIT 8""",
        (room_id, besides),
    )
    return [r["id"] if isinstance(r, dict) else r[0] for r in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class AlreadyStored:
    """Records of a spill replay the session already holds (decision 413). A run that stopped while
    committing a batch parked or spilled that batch although its commit may have landed, and a run that
    died while draining a spill file leaves the whole file although its first batches were stored:
    replaying them blindly stores them twice. A message is known by its id (a streak by all its
    frames'), any other record (a gap, a malformed frame) by its kind and capture time."""

    message_ids: frozenset[int]
    others: frozenset[tuple[str, datetime]]

    @classmethod
    async def of(cls, conn: psycopg.AsyncConnection[Any], session_id: UUID, next_seq: int) -> AlreadyStored:
        keys = await stored_message_keys(conn, [session_id])
        cur = await conn.execute(
            "SELECT kind, captured_at FROM events WHERE session_id = %s AND msg_id IS NULL AND seq >= %s",
            (session_id, max(0, next_seq - STORED_KEYS)),
        )
        others = [(r["kind"], r["captured_at"]) if isinstance(r, dict) else (r[0], r[1]) for r in await cur.fetchall()]
        return cls(frozenset(msg_id for _, msg_id in keys), frozenset(others))

    def __call__(self, record: EventRecord) -> bool:
        ids = message_ids(record)
        if ids:
            return all(int(msg_id) in self.message_ids for msg_id in ids)
        return (record.kind, record.captured_at) in self.others


@dataclass(frozen=True, slots=True)
class Replayed:
    count: int
    gaps: tuple[ChainedRecord, ...] = ()  # what the dead process held only in memory


async def replay_spill(
    pool: AsyncConnectionPool[Any], settings: Settings, session_id: UUID, *, redis: aioredis.Redis | None = None
) -> Replayed:
    """Store, in place and in order, what an earlier run of an unsealed session left in its spill folder."""
    queue = SpillQueue(settings.capture_queue_size, session_spill_dir(settings.home, session_id))
    parked = read_parked_note(queue.spill_dir) is not None  # then memory was written out too: nothing died in it
    recovered = queue.recover()
    if not recovered:
        clear_parked_note(queue.spill_dir)  # parked after everything was stored (only the seal failed)
        return Replayed(0)
    first_spilled = queue.oldest_pending()
    queue.close()
    async with pool.connection() as conn, conn.transaction():
        tail = await read_tail(conn, session_id)
        sealed = tail is None or await is_sealed(conn, session_id)
        cur = await conn.execute("SELECT target, source, case_id FROM live_sessions WHERE id = %s", (session_id,))
        session = await cur.fetchone()
    if sealed or tail is None or session is None:
        log.error("session %s is sealed or unknown: its spill folder %s is left for an operator",
                  session_id, queue.spill_dir)  # fmt: skip
        return Replayed(0)
    async with pool.connection() as conn:
        already_stored = await AlreadyStored.of(conn, session_id, tail.next_seq)
    stats = CaptureStats(session_id, session["target"], session["source"], session["case_id"])
    writer = EventWriter(pool, session_id, tail, batch_size=settings.capture_batch_size, stats=stats, redis=redis)
    last_committed = tail.last_captured_at
    await writer.run(queue, skip=already_stored)
    if writer.skipped:
        log.warning("session %s: %d spilled records were already stored (committed as the earlier run stopped); "
                    "not stored again", session_id, writer.skipped)  # fmt: skip
    rows: list[ChainedRecord] = []
    if not parked and last_committed is not None and first_spilled is not None and first_spilled > last_committed:
        # Spilling starts when memory is full: what the dead process held in memory was received
        # between its last committed event and its first spilled one, and died with it.
        async with pool.connection() as conn, conn.transaction():
            now_tail = await read_tail(conn, session_id)
            assert now_tail is not None
            rows, _ = await append_records(conn, session_id, now_tail, [gap_record(
                started=last_committed, ended=first_spilled, reason="crash",
                detail="events the stopped capture held only in memory (received before its spilled ones) were lost",
                extra={"replayed_from_spill": recovered},
            )])  # fmt: skip
        await writer.publish(rows)
    clear_parked_note(queue.spill_dir)
    log.warning("session %s: stored %d spilled events left by an earlier run", session_id, recovered)
    return Replayed(recovered, tuple(rows))


async def abandoned_sessions(
    conn: psycopg.AsyncConnection[Any], *, target: str | None = None, grace_seconds: float = 0.0,
    exclude: UUID | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Unsealed sessions nobody holds: no lease (and older than the grace), or a stale lease."""
    cur = await conn.execute(
        """SELECT s.id, s.target, s.started_at, l.owner, l.holder, l.host, l.pid, l.acquired_at, l.renewed_at,
                  l.expires_at, l.session_id AS session_id, (l.expires_at < now()) AS expired,
                  (s.started_at < now() - make_interval(secs => %(grace)s)) AS old_enough
             FROM live_sessions s LEFT JOIN capture_leases l ON l.session_id = s.id
            WHERE s.ended_at IS NULL AND s.status = ANY(%(active)s)
              AND (%(target)s::text IS NULL OR lower(s.target) = %(target)s)
              AND s.id IS DISTINCT FROM %(exclude)s
            ORDER BY s.started_at""",
        {"grace": grace_seconds, "active": SessionStatus.active_values(),
         "target": target.lower() if target else None, "exclude": exclude},
    )  # fmt: skip
    rows = await cur.fetchall()
    return [row for row in rows if (row["owner"] is None and row["old_enough"]) or (row["owner"] and is_stale(row))]


async def adopt_session(
    pool: AsyncConnectionPool[Any], settings: Settings, row: dict[str, Any], *, by: str,
    redis: aioredis.Redis | None = None,
) -> Adopted | None:  # fmt: skip
    """Replay, gap, seal one abandoned session; the caller holds its target's lease."""
    session_id: UUID = row["id"]
    parked = read_parked_note(session_spill_dir(settings.home, session_id))
    replay = await replay_spill(pool, settings, session_id, redis=redis)
    replayed = replay.count
    why = (
        f"its capture ({describe_lease(row)}) stopped renewing its lease" if row["owner"]
        else "no capture held a lease on it"
    )  # fmt: skip
    status = ABANDONED_STATUS
    if parked is not None:  # it exited on purpose, unsealed only because the store was unreachable then
        why = (f"its capture ({parked.get('by')}) exited unsealed at {parked.get('parked_at')}: "
               f"{parked.get('reason')}; the store was unreachable, {parked.get('events')} events parked")  # fmt: skip
        status = next((s for s in SessionStatus if s.final and s.value == parked.get("status")), status)
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        tail = await read_tail(conn, session_id)
        if tail is None or await is_sealed(conn, session_id):
            return None
        started = await latest_capture_time(conn, session_id) or now
        gap = gap_record(
            started=started, ended=now, reason="crash",
            detail=f"the capture process was gone: {why}; nothing was received from then until it was found",
            extra={"adopted_by": by, "replayed_from_spill": replayed},
        )  # fmt: skip
        rows, _ = await append_records(conn, session_id, tail, [gap])
        end = await seal_session(
            conn, session_id, status=status, ended_at=now,
            reason=f"abandoned: {why}; sealed by {by}", summary={"adopted_by": by},
        )  # fmt: skip
    await publish(redis, [(session_id, [*rows, end])])
    log.warning("adopted abandoned session %s of @%s: %s; crash gap from %s, sealed", session_id, row["target"],
                why, started.isoformat())  # fmt: skip
    return Adopted(session_id, row["target"], replayed, started, now, (*replay.gaps, *rows))


async def adopt_for_target(
    pool: AsyncConnectionPool[Any], settings: Settings, target: str, *, own_session: UUID, by: str,
    stale: list[dict[str, Any]], redis: aioredis.Redis | None = None,
) -> list[Adopted]:  # fmt: skip
    """Adopt every other unsealed session of a target whose lease the caller now holds (`stale`: the
    expired leases the caller replaced, which name the capture that died)."""
    previous = {row["session_id"]: row for row in stale}
    async with pool.connection() as conn:
        rows = await conn.execute(
            """SELECT s.id, s.target, l.owner, l.holder, l.host, l.pid, l.acquired_at, l.renewed_at, l.session_id
                 FROM live_sessions s LEFT JOIN capture_leases l ON l.session_id = s.id
                WHERE s.ended_at IS NULL AND s.status = ANY(%s) AND lower(s.target) = %s AND s.id <> %s""",
            (SessionStatus.active_values(), target.lower(), own_session),
        )
        found = await rows.fetchall()
    adopted = []
    for row in found:
        if row["owner"] is None and row["id"] in previous:
            row = {**row, **previous[row["id"]], "id": row["id"]}
        done = await adopt_session(pool, settings, row, by=by, redis=redis)
        if done is not None:
            adopted.append(done)
    return adopted


async def reap(
    pool: AsyncConnectionPool[Any], settings: Settings, *, by: str, redis: aioredis.Redis | None = None
) -> list[Adopted]:
    """Find and adopt every abandoned session (each under its target's lease, given back after)."""
    async with pool.connection() as conn:
        found = await abandoned_sessions(conn, grace_seconds=settings.capture_lease_seconds)
    adopted: list[Adopted] = []
    for row in found:
        me = LeaseHolder.here(by)
        try:
            async with pool.connection() as conn:
                await acquire(conn, target=row["target"], session_id=row["id"], me=me,
                              seconds=settings.capture_lease_seconds)  # fmt: skip
        except CaptureBusy as busy:
            log.info("not adopting session %s yet: %s", row["id"], busy)
            continue
        try:
            done = await adopt_session(pool, settings, row, by=by, redis=redis)
            if done is not None:
                adopted.append(done)
        finally:
            async with pool.connection() as conn:
                await release(conn, target=row["target"], me=me)
    return adopted


class Reaper(BackgroundLoop):
    """Adopts abandoned sessions at start and then every `interval` seconds, in the background."""

    task_name = "capture-reaper"

    def __init__(
        self, pool: AsyncConnectionPool[Any], settings: Settings, *, by: str, redis: aioredis.Redis | None = None
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.by = by
        self.redis = redis
        self.interval = settings.capture_lease_seconds
        self.adopted: list[Adopted] = []

    async def _run(self) -> None:
        while True:
            try:
                self.adopted.extend(await reap(self.pool, self.settings, by=self.by, redis=self.redis))
            except (psycopg.Error, PoolTimeout, OSError) as error:
                log.warning("reaper: cannot look for abandoned sessions now: %s", error)
            except Exception:  # the reaper must outlive any one bad session
                log.exception("reaper: adopting an abandoned session failed")
            await asyncio.sleep(self.interval)
