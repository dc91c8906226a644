"""One capture of one live: source → decode → normalise → dedupe → gift streaks → bounded queue
(spilling to disk) → chained COPY into PostgreSQL → Redis. Sealed at the end, whatever the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.capture import metrics as capture_metrics
from scis.capture.adoption import Adopted, adopt_for_target, recent_sessions_of_room, replay_spill, stored_message_keys
from scis.capture.capture_file import CaptureFileWriter, RecordType, event_to_json
from scis.capture.dedupe import RecentKeys
from scis.capture.gapfill import GapFiller, OpenGap
from scis.capture.leases import CaptureBusy, Heartbeat, LeaseHolder, acquire, release
from scis.capture.normalise import Normaliser, is_live_end
from scis.capture.resume import ResumePoints, load_resume_point, save_resume_point
from scis.capture.sources.base import (
    CaptureSource,
    LiveEnded,
    LiveRoom,
    PageEvent,
    RawFetch,
    RawFrame,
    ResumePoint,
    SourceGap,
    SourceItem,
    TargetUnavailable,
)
from scis.capture.spill import SpillQueue, session_spill_dir, write_parked_note
from scis.capture.stats import CaptureStats
from scis.capture.streaks import GiftStreaks
from scis.capture.video import VideoRecorder, choose_url
from scis.capture.writer import EventWriter, GroupCommitter, publish
from scis.core import bus
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.canonical import iso_utc
from scis.evidence.chain import (
    SessionSealed,
    gap_record,
    is_sealed,
    seal_session,
    session_config,
    start_session,
)
from scis.evidence.media import media_store
from scis.evidence.records import ChainedRecord, EventRecord

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
PROGRESS_EVERY_SECONDS = 5.0
RESUME_SAVE_SECONDS = 1.0
# Settings recorded in each session's configuration snapshot (never secrets or credentials).
SNAPSHOT_SETTINGS = (
    "env", "tiktok_base_url", "webcast_base_url", "chromium_path", "capture_batch_size",
    "capture_queue_size", "watchdog_seconds", "streak_timeout_seconds",
)  # fmt: skip


class ProgressSink(Protocol):
    async def report(
        self, *, phase: str, events_captured: int, viewers: int | None, last_event_at: datetime | None,
        chain_head: str | None, gaps: int,
    ) -> None: ...  # fmt: skip


@dataclass(slots=True)
class CaptureRequest:
    target: str  # bare handle
    source: str
    session_id: UUID
    case_id: int | None = None
    created_by: str = "system"
    record_path: Path | None = None
    video: bool = False  # record the live's video too (scis.capture.video)


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    return {
        name: str(getattr(settings, name)) if isinstance(getattr(settings, name), Path) else getattr(settings, name)
        for name in SNAPSHOT_SETTINGS
    }


class CaptureTicker:
    """One timer for the captures of a process: every TICK_SECONDS it runs each running capture's
    periodic duties (`LiveCapture.tick`). One sleeping task per live cost four wake-ups per live per
    second and was, with the lease heartbeats, the per-live overhead that grew with the number of
    lives rather than with the events (decision 232)."""

    def __init__(self, seconds: float = TICK_SECONDS) -> None:
        self.seconds = seconds
        self._captures: dict[LiveCapture, None] = {}  # insertion-ordered set
        self._task: asyncio.Task[None] | None = None

    def add(self, capture: LiveCapture) -> None:
        self._captures[capture] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="capture-ticker")

    def discard(self, capture: LiveCapture) -> None:
        self._captures.pop(capture, None)
        task = self._task
        if not self._captures and task is not None and task is not asyncio.current_task():
            task.cancel()  # nothing left to tick: no timer left sleeping
            self._task = None

    async def close(self) -> None:
        self._captures.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while self._captures:
            await asyncio.sleep(self.seconds)
            now = asyncio.get_running_loop().time()
            for capture in list(self._captures):
                try:
                    capture.tick(now)
                except Exception:  # one capture's failing duty must not stop the others' timer
                    log.exception("periodic duties of @%s failed", capture.request.target)


class LiveCapture:
    """Runs one capture to its end; `stop()` from anywhere flushes, seals and ends it."""

    def __init__(
        self,
        request: CaptureRequest,
        source: CaptureSource,
        *,
        pool: AsyncConnectionPool[Any],
        settings: Settings,
        redis: aioredis.Redis | None = None,
        progress: ProgressSink | None = None,
        committer: GroupCommitter | None = None,
        ticker: CaptureTicker | None = None,
        heartbeat: Heartbeat | None = None,
        holder: str = "scis capture",
    ) -> None:
        self.committer = committer
        self.ticker = ticker or CaptureTicker()  # many lives in a process share one (CaptureManager)
        self._writer_task: asyncio.Task[None] | None = None
        self._last_report = self._last_resume_save = 0.0
        self._reporting: asyncio.Task[None] | None = None
        self._failing: asyncio.Task[None] | None = None
        self.lease_holder = LeaseHolder.here(holder)
        self.heartbeat = heartbeat or Heartbeat(pool, seconds=settings.capture_lease_seconds)  # shared: CaptureManager
        self._holding_lease = False
        self.resume_points = ResumePoints()
        self.gap_filler = GapFiller([])  # crash/restart gaps this capture's resumed stream may fill
        self._resume_saving: asyncio.Task[None] | None = None
        self.adopted: list[Adopted] = []  # abandoned sessions of the target this capture sealed first
        self.refused: CaptureBusy | SessionSealed | None = None  # set when another capture owns the target
        self.request = request
        self.source = source
        self.pool = pool
        self.settings = settings
        self.redis = redis
        self.progress = progress
        self.session_id = request.session_id
        self.stats = CaptureStats(request.session_id, request.target, request.source, request.case_id)
        self.streaks = GiftStreaks(settings.streak_timeout_seconds)
        self.normaliser = Normaliser(self.streaks, RecentKeys())
        self.queue = SpillQueue(settings.capture_queue_size, session_spill_dir(settings.home, request.session_id))
        self.writer: EventWriter | None = None
        self._recorder: CaptureFileWriter | None = None
        self.video: VideoRecorder | None = None
        self._video_task: asyncio.Task[None] | None = None
        self._stop_reason: str | None = None
        self._end: tuple[SessionStatus, str] | None = None
        self._stopped = asyncio.Event()
        self.opened = asyncio.Event()  # the live was found, or found unavailable
        self.done = asyncio.Event()

    @property
    def stop_requested(self) -> bool:
        """`stop()` was called (even if the live then ended on its own first)."""
        return self._stop_reason is not None

    async def stop(self, reason: str = "stopped by the operator") -> None:
        """Ask the capture to end: what was received is stored, the chain is sealed."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stopped.set()
        await self.source.stop()

    async def run(self) -> CaptureStats:
        """Capture to the end; raises CaptureBusy or SessionSealed (also kept in `refused`) if refused."""
        try:
            await self._take_lease()
            return await self._run()
        except (CaptureBusy, SessionSealed) as refusal:
            self.refused = refusal
            raise
        finally:
            await self._give_back_lease()
            capture_metrics.untrack(self, self.stats.status)
            self.opened.set()
            self.done.set()

    async def _take_lease(self) -> None:
        """Own the target and the session, adopt what earlier captures of the target left behind, and
        store what an earlier run of this very session spilled (so a restart gap comes after it)."""
        me = self.lease_holder
        async with self.pool.connection() as conn:
            stale = await acquire(conn, target=self.request.target, session_id=self.session_id, me=me,
                                  seconds=self.settings.capture_lease_seconds)  # fmt: skip
            self._holding_lease = True
            self.heartbeat.hold(self.request.target, me, self._lease_lost)
            if await is_sealed(conn, self.session_id):
                raise SessionSealed(f"live session {self.session_id} is sealed; start a new session")
        by = f"{me.holder} (pid {me.pid} on {me.host})"
        self.adopted = await adopt_for_target(
            self.pool,
            self.settings,
            self.request.target,
            own_session=self.session_id,
            by=by,
            stale=stale,
            redis=self.redis,
        )
        own = await replay_spill(self.pool, self.settings, self.session_id, redis=self.redis)
        stated = [*own.gaps, *(row for adopted in self.adopted for row in adopted.gaps)]
        self.gap_filler.gaps.extend(gap for row in stated if (gap := OpenGap.of(row)) is not None)
        async with self.pool.connection() as conn:
            point = await load_resume_point(conn, [self.session_id, *(a.session_id for a in self.adopted)])
        resume_from = getattr(self.source, "resume_from", None)
        if point is not None and resume_from is not None:
            resume_from(point)

    async def _lease_lost(self) -> None:
        await self.stop("capture failed: its lease was taken over by another process; it stopped appending")

    async def _give_back_lease(self) -> None:
        if not self._holding_lease:
            return
        self.heartbeat.let_go(self.request.target, self.lease_holder)
        try:
            async with self.pool.connection(timeout=5) as conn:
                await release(conn, target=self.request.target, me=self.lease_holder)
        except Exception as error:  # the lease then simply expires
            log.warning("could not give back the lease of @%s: %s", self.request.target, error)

    async def _run(self) -> CaptureStats:
        started_at = datetime.now(UTC)
        self.stats.started_at = started_at
        try:
            room = await self.source.open()
        except TargetUnavailable as unavailable:
            await self._record_unavailable(unavailable, started_at)
            return self.stats
        self.stats.room_id = room.room_id
        config = session_config(
            session_id=self.session_id,
            target=self.request.target,
            source=self.request.source,
            case_id=self.request.case_id,
            settings=settings_snapshot(self.settings),
            started_at=started_at,
            extra={
                "room": {
                    "room_id": room.room_id,
                    "title": room.title,
                    "host_user_id": room.host_user_id,
                    **room.details,
                },
                "source_detail": self.source.describe(),
                "record_file": str(self.request.record_path) if self.request.record_path else None,
                **self._video_config(room),
            },
        )
        async with self.pool.connection() as conn, conn.transaction():
            tail, first_rows = await start_session(
                conn, session_id=self.session_id, target=self.request.target, source=self.request.source,
                case_id=self.request.case_id, config=config, started_at=started_at, status=SessionStatus.LIVE,
                created_by=self.request.created_by,
            )  # fmt: skip
            await conn.execute("UPDATE live_sessions SET room_id = %s WHERE id = %s", (room.room_id, self.session_id))
            # What the server re-sends on connecting (its recent history) may already be stored, in this
            # session if it is resumed, in the sessions just adopted or in an earlier session of this
            # broadcast: never store it twice.
            resumed = [self.session_id] if tail.next_seq > len(first_rows) else []
            earlier = resumed + [adopted.session_id for adopted in self.adopted]
            live = self.request.source != "replay"  # a replay re-reads a recording into a session of its own
            for other in await recent_sessions_of_room(conn, room.room_id, besides=self.session_id) if live else []:
                if other not in earlier:
                    earlier.append(other)
            if earlier:
                await self._remember_stored_keys(conn, earlier)
        self.stats.status, self.stats.status_reason = SessionStatus.LIVE, f"capturing room {room.room_id}"
        capture_metrics.track(self)
        self.opened.set()
        await self._announce()
        self.writer = EventWriter(
            self.pool, self.session_id, tail, batch_size=self.settings.capture_batch_size,
            stats=self.stats, redis=self.redis, committer=self.committer, on_stored=self._place_gap_fills,
        )  # fmt: skip
        await self.writer.publish(first_rows)
        self.stats.stored(first_rows)
        self.gap_filler.gaps.extend(gap for row in first_rows if (gap := OpenGap.of(row)) is not None)
        if recovered := self.queue.recover():
            log.warning("session %s: %d spilled events from an earlier run queued first", self.session_id, recovered)
        if self.request.record_path is not None:
            self._recorder = CaptureFileWriter(
                self.request.record_path,
                {"target": self.request.target, "source": self.request.source, "room_id": room.room_id,
                 "session_id": str(self.session_id), "started_at": iso_utc(started_at), "title": room.title},
            )  # fmt: skip

        writer_task = asyncio.create_task(self.writer.run(self.queue), name=f"capture-writer-{self.session_id}")
        self._start_video(room)
        self._writer_task = writer_task
        self.ticker.add(self)
        status, reason = SessionStatus.FAILED, "capture stopped unexpectedly"
        try:
            status, reason = await self._read()
        except Exception as error:
            log.exception("capture of @%s failed", self.request.target)
            status, reason = SessionStatus.FAILED, f"capture failed: {error}"
            raise
        finally:
            await self._finish(writer_task, status, reason)
        return self.stats

    def _video_config(self, room: LiveRoom) -> dict[str, Any]:
        """The video source in the session's configuration (where the bytes come from; the lives service
        pulls the same stream for its viewers)."""
        chosen = choose_url(room.video_urls) if self.request.video else None
        return {"video": {"quality": chosen[0], "url": chosen[1]}} if chosen else {}

    def _start_video(self, room: LiveRoom) -> None:
        """Record the video beside the events when asked and the room gives a stream."""
        if not self.request.video:
            return
        if not room.video_urls:
            log.warning("@%s: the room gives no video stream; recording events only", self.request.target)
            return
        self.video = VideoRecorder(
            self.session_id, room.video_urls, media_store(self.settings), self.queue.put,
            segment_seconds=self.settings.video_segment_seconds,
        )  # fmt: skip
        self._video_task = asyncio.create_task(self.video.run(), name=f"capture-video-{self.session_id}")

    async def _stop_video(self) -> None:
        """Store the segment being written; its record (and a pending gap) goes in before the seal."""
        if self.video is None or self._video_task is None:
            return
        await self.video.stop()
        try:
            await self._video_task
        except Exception:  # the events are the capture; a failed video is logged, never fatal
            log.exception("@%s: video recording failed", self.request.target)

    async def _announce(self) -> None:
        """Tell the platform (scis:lives) that this capture's status changed."""
        if self.redis is None:
            return
        payload = {
            "session_id": str(self.session_id),
            "target": self.request.target,
            "status": self.stats.status,
            "reason": self.stats.status_reason,
        }
        try:
            await bus.publish(self.redis, bus.LIVES_CHANNEL, payload)
        except (aioredis.RedisError, OSError) as error:
            log.warning("could not announce status %s: %s", self.stats.status, error)

    async def _remember_stored_keys(self, conn: Any, session_ids: list[UUID]) -> None:
        """Message ids already stored (a gift streak's every frame too): what a resume re-sends is dropped."""
        dedupe = self.normaliser.dedupe
        dedupe.remember(await stored_message_keys(conn, session_ids, limit=dedupe.capacity))

    async def _read(self) -> tuple[SessionStatus, str]:
        """Feed the queue until the source ends; returns the session's final status and reason."""
        async for item in self.source.items():
            self._record(item)
            duplicates_before = self.normaliser.dedupe.duplicates
            records = self._records_of(item)
            if self.gap_filler.waiting and isinstance(item, RawFrame | RawFetch):
                records += self.gap_filler.resolve(records, self.normaliser.dedupe.duplicates - duplicates_before)
            elif isinstance(item, SourceGap):  # the reconnected socket may fill it (decision 412)
                self.gap_filler.gaps.extend(g for r in records if (g := OpenGap.own(self.session_id, r)) is not None)
            for record in records:
                self.queue.put(record)
                if is_live_end(record) and self._end is None:
                    tips = f": {record.body}" if record.body else ""
                    self._end = (SessionStatus.ENDED, f"the host ended the LIVE (control message{tips})")
                    await self.source.stop()
            if isinstance(item, RawFrame | RawFetch) and item.resume is not None:
                self.resume_points.after_frame(self.queue.put_seq, item.resume)
            self.stats.queued = self.queue.qsize()
            self.stats.spilled = self.queue.spilled_total
        if self._end is not None:
            return self._end
        if self._stop_reason is not None:
            return SessionStatus.STOPPED, self._stop_reason
        return SessionStatus.ENDED, "the source ended"

    def _place_gap_fills(self, rows: Sequence[ChainedRecord]) -> None:
        """A `gap_filled` for this capture's own gap goes in once the gap is stored (it names its seq)."""
        if self.gap_filler.unplaced or self.gap_filler.waiting:
            for record in self.gap_filler.placed(rows):
                self.queue.put_urgent(record)

    def _records_of(self, item: SourceItem) -> list[EventRecord]:
        if isinstance(item, RawFrame):
            return self.normaliser.push_frame(item.data, item.captured_at, decoded=item.decoded)
        if isinstance(item, RawFetch):
            return self.normaliser.fetch_result(item.data, item.captured_at)
        if isinstance(item, PageEvent):
            return self.normaliser.page_event(item.record)
        if isinstance(item, SourceGap):
            self.stats.reconnects += 1
            self.stats.status = SessionStatus.LIVE
            log.warning("@%s: gap %s from %s to %s", self.request.target, item.reason, item.started, item.ended)
            return [
                gap_record(
                    started=item.started, ended=item.ended, reason=item.reason, detail=item.detail, extra=item.extra
                )
            ]
        if isinstance(item, LiveEnded):
            self._end = self._end or (SessionStatus.ENDED, item.reason)
        return []

    def _record(self, item: SourceItem) -> None:
        if self._recorder is None:
            return
        if isinstance(item, RawFrame):
            self._recorder.write(RecordType.FRAME, item.captured_at, item.data)
        elif isinstance(item, RawFetch):
            self._recorder.write(RecordType.FETCH, item.captured_at, item.data)
        elif isinstance(item, PageEvent):
            self._recorder.write(RecordType.EVENT, item.record.captured_at, event_to_json(item.record))
        elif isinstance(item, SourceGap):
            gap = {
                "from": iso_utc(item.started),
                "to": iso_utc(item.ended),
                "reason": item.reason,
                "detail": item.detail,
            }
            self._recorder.write(RecordType.GAP, item.ended, json.dumps(gap).encode())

    def tick(self, now: float) -> None:
        """Close silent gift streaks, keep counters fresh, note the resume point, report progress,
        notice a dead writer; called by the ticker (`now`: loop time). Never waits: what has to wait
        (a stop, a progress report, a resume point without a shared committer) runs as a task."""
        for record in self.streaks.expire():
            self.queue.put(record)
        self._note_losses()
        if now - self._last_resume_save >= RESUME_SAVE_SECONDS:
            self._last_resume_save = now
            self._note_resume_point()
        self.stats.queued = self.queue.qsize()
        self.stats.spilled = self.queue.spilled_total
        self.stats.malformed = self.normaliser.malformed
        self.stats.duplicates = self.normaliser.dedupe.duplicates
        capture_metrics.observe(self)
        writer_task = self._writer_task
        if writer_task is not None and writer_task.done():
            self.ticker.discard(self)
            error = writer_task.exception() if not writer_task.cancelled() else None
            self._failing = asyncio.create_task(self.stop(f"capture failed: the store stage stopped: {error}"))
            return
        reporting = self._reporting
        due = self.progress is not None and now - self._last_report >= PROGRESS_EVERY_SECONDS
        if due and (reporting is None or reporting.done()):
            self._last_report = now
            self._reporting = asyncio.create_task(self._report_progress())

    def _note_resume_point(self) -> None:
        point = self.resume_points.safe(self.queue.committed_seq, self.streaks.oldest_open())
        if point is None or point is self.resume_points.saved:
            return
        if self.committer is not None:  # many lives in this process: stored with the next shared commit
            self.committer.save_resume_point(self.session_id, point, self._resume_point_saved)
            return
        saving = self._resume_saving
        if saving is None or saving.done():
            # In the background: a locked or stalled database must never hold up the ticker.
            self._resume_saving = asyncio.create_task(self._save_resume_point(point))

    async def _save_resume_point(self, point: ResumePoint) -> None:
        try:
            async with self.pool.connection(timeout=1.0) as conn:
                await save_resume_point(conn, self.session_id, point)
        except Exception as error:  # the store is down: the older point stays (a resume re-sends more)
            log.debug("cannot store the resume point yet: %s", error)
            return
        self.resume_points.saved = point

    def _resume_point_saved(self, point: ResumePoint) -> None:
        self.resume_points.saved = point

    def _note_losses(self) -> None:
        """Hand each stretch of loss to the writer as a gap at once, and say why in the status."""
        if self.queue.take_loss_gap() is not None:
            log.error("@%s: %d events lost so far: %s", self.request.target, self.queue.lost_total,
                      self.queue.spill_error or "spill folder unusable")  # fmt: skip
        if self.queue.spill_error is not None and self.stats.status is SessionStatus.LIVE:
            self.stats.status_reason = (
                f"degraded: cannot spill to {self.queue.spill_dir} ({self.queue.spill_error}); "
                "events beyond the memory queue are lost and recorded as overflow gaps"
            )
        elif self.stats.status_reason.startswith("degraded: cannot spill"):
            self.stats.status_reason = f"capturing room {self.stats.room_id}"
        self.stats.lost = self.queue.lost_total

    async def _report_progress(self) -> None:
        if self.progress is None:
            return
        try:
            await self.progress.report(
                phase=self.stats.status.phase, events_captured=self.stats.events_total, viewers=self.stats.viewers,
                last_event_at=self.stats.last_event_at, chain_head=self.stats.chain_head, gaps=self.stats.gaps,
            )  # fmt: skip
        except Exception as error:  # progress is informative; it must never stop a capture
            log.warning("progress report failed: %s", error)

    async def _finish(self, writer_task: asyncio.Task[None], status: SessionStatus, reason: str) -> None:
        """Flush everything received, close open streaks as inferred, seal the chain."""
        self.ticker.discard(self)
        for duty in (self._resume_saving, self._reporting):
            if duty is not None:
                duty.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await duty
        await self._stop_video()
        why = "live_end" if status is SessionStatus.ENDED else "capture_stop"
        for record in self.streaks.close_all(why):
            self.queue.put(record)
        self._note_losses()
        self.queue.close()
        if self._recorder is not None:
            self._recorder.close()
        if not writer_task.done() or writer_task.exception() is None:
            if not await self._store_flushed(writer_task):
                await self._park(writer_task, status, reason)
                return
        else:
            status, reason = SessionStatus.FAILED, f"capture failed: the store stage stopped: {writer_task.exception()}"
        if self._stop_reason and self._stop_reason.startswith("capture failed"):
            status, reason = SessionStatus.FAILED, self._stop_reason
        self.stats.duplicates = self.normaliser.dedupe.duplicates
        self.stats.malformed = self.normaliser.malformed
        summary = {
            "events": self.stats.events_total,
            "events_by_kind": dict(self.stats.events_by_kind),
            "gaps": self.stats.gaps,
            "malformed": self.stats.malformed,
            "duplicates_dropped": self.stats.duplicates,
            "spilled": self.queue.spilled_total,
            "lost": self.queue.lost_total,
        }
        if self.video is not None:
            summary["video"] = {
                "segments": self.stats.video_segments, "bytes": self.stats.video_bytes,
                "connections": self.video.connections, "store": self.video.store.describe(),
            }  # fmt: skip
        try:
            timeout = self.settings.capture_stop_timeout_seconds
            async with self.pool.connection(timeout=timeout) as conn, conn.transaction():
                end = await seal_session(conn, self.session_id, status=status, reason=reason, summary=summary)
        except (psycopg.OperationalError, PoolTimeout) as error:  # everything is stored; only the seal is missing
            await self._park(writer_task, status, f"{reason}; the seal failed: {error}")
            return
        assert self.writer is not None
        await self.writer.publish([end])
        self.stats.stored([end])
        self.stats.status, self.stats.status_reason = status, reason
        self.stats.ended_at = end.record.captured_at
        await self._announce()
        await self._report_progress()
        log.info("@%s: capture %s (%s); %d events, chain head %s", self.request.target, status, reason,
                 self.stats.events_total, end.chain_hash)  # fmt: skip

    async def _store_flushed(self, writer_task: asyncio.Task[None]) -> bool:
        """Wait for the store stage to take everything; False when a stop was asked and the store took
        nothing for capture_stop_timeout_seconds (PostgreSQL unreachable): a stop must not hang."""
        if not self._stopped.is_set():
            await writer_task
            return True
        while True:
            stored_before = self.stats.records_total
            done, _ = await asyncio.wait({writer_task}, timeout=self.settings.capture_stop_timeout_seconds)
            if done:
                writer_task.result()
                return True
            if self.stats.records_total == stored_before:
                return False

    async def _park(self, writer_task: asyncio.Task[None], status: SessionStatus, reason: str) -> None:
        """Leave the session unsealed with everything received in its spill folder and a note saying why;
        the next capture of the target, or of this session id, stores it and seals (decision 410)."""
        writer_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer_task
        assert self.writer is not None
        kept, lost = self.queue.park(self.writer.in_flight)
        folder = self.queue.spill_dir
        parked_at = datetime.now(UTC)
        self.stats.parked = kept
        self.stats.lost = self.queue.lost_total
        self.stats.status_reason = (
            f"{reason}; not sealed: the store took nothing for {self.settings.capture_stop_timeout_seconds:g} s, "
            f"so {kept} events received are kept in {folder}"
            + (f" ({lost} could not be written there)" if lost else "")
            + f"; the next capture of @{self.request.target} (or --session-id {self.session_id}) stores them and seals"
        )
        write_parked_note(folder, {
            "session_id": str(self.session_id), "target": self.request.target, "parked_at": iso_utc(parked_at),
            "status": status, "reason": reason, "events": kept, "lost": lost,
            "by": f"{self.lease_holder.holder} (pid {self.lease_holder.pid} on {self.lease_holder.host})",
        })  # fmt: skip
        await self._announce()
        log.error("@%s: %s", self.request.target, self.stats.status_reason)

    async def _record_unavailable(self, unavailable: TargetUnavailable, started_at: datetime) -> None:
        """Record that the live could not be captured (offline, not_found, ...) as a sealed session."""
        config = session_config(
            session_id=self.session_id, target=self.request.target, source=self.request.source,
            case_id=self.request.case_id, settings=settings_snapshot(self.settings), started_at=started_at,
            extra={"source_detail": self.source.describe()},
        )  # fmt: skip
        async with self.pool.connection() as conn, conn.transaction():
            _, first = await start_session(
                conn, session_id=self.session_id, target=self.request.target, source=self.request.source,
                case_id=self.request.case_id, config=config, started_at=started_at, status=unavailable.status,
                created_by=self.request.created_by,
            )  # fmt: skip
            end = await seal_session(conn, self.session_id, status=unavailable.status, reason=unavailable.reason)
        self.stats.stored([*first, end])
        self.stats.status, self.stats.status_reason = unavailable.status, unavailable.reason
        self.stats.ended_at = end.record.captured_at
        self.opened.set()
        if self.redis is not None:
            await publish(self.redis, [(self.session_id, [*first, end])])
            await self._announce()
        log.info("@%s: %s (%s)", self.request.target, unavailable.status, unavailable.reason)
