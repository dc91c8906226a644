"""The in-process capture runner's engine: one asyncio task per live in the analyser process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from scis.analyser.models import MonitorCreate, MonitorRead
from scis.capture.leases import CaptureBusy, Heartbeat
from scis.capture.pipeline import CaptureRequest, CaptureTicker, LiveCapture
from scis.capture.sources.base import CaptureSource
from scis.capture.sources.factory import build_source
from scis.capture.waiting import wait_until_live
from scis.capture.writer import GroupCommitter
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.chain import SessionSealed
from scis.webcast.room import UserNotFound

log = logging.getLogger(__name__)

KEEP_FINISHED = 200
OPEN_WAIT_SECONDS = 15.0

SourceFactory = Callable[[MonitorCreate, Settings], CaptureSource]
# Told of each capture a chain starts by itself (to audit it), with the chain's first session id.
SuccessorHook = Callable[[MonitorRead, UUID], Awaitable[None]]


@dataclass
class Chain:
    """The captures of one `again` monitor: after a live ends, the next capture waits for the next live."""

    monitor_in: MonitorCreate
    created_by: str
    first: UUID
    current: UUID
    on_successor: SuccessorHook | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)  # set: start no further capture


class MonitorNotFound(LookupError):
    """No capture with this session id runs (or ran recently) in this process."""


class MonitorExists(Exception):
    """The target is already being captured; the message names the session."""


def default_source(monitor_in: MonitorCreate, settings: Settings) -> CaptureSource:
    replay = Path(monitor_in.replay_file) if monitor_in.replay_file else None
    return build_source(monitor_in.source.value, monitor_in.target, settings, replay_file=replay)


class CaptureManager:
    """One asyncio task per live; knows each capture's status and counters."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[Any],
        settings: Settings,
        redis: aioredis.Redis | None = None,
        source_factory: SourceFactory = default_source,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.redis = redis
        self.source_factory = source_factory
        self.committer = GroupCommitter(pool, redis=redis)
        self.ticker = CaptureTicker()  # one timer for every live of this process, not one per live
        self.heartbeat = Heartbeat(pool, seconds=settings.capture_lease_seconds)  # one renewal for all leases
        self._captures: OrderedDict[UUID, LiveCapture] = OrderedDict()
        self._tasks: dict[UUID, asyncio.Task[Any]] = {}
        self._waiting: dict[UUID, asyncio.Event] = {}  # set: stop waiting (the capture never starts)
        self._chains: dict[UUID, Chain] = {}  # every session id of an `again` monitor -> its chain

    async def start(
        self, monitor_in: MonitorCreate, *, created_by: str, on_successor: SuccessorHook | None = None
    ) -> MonitorRead:
        """Start capturing; returns once the live was found (or found unavailable). With `again`, each
        later capture of the chain is started here and reported to `on_successor`."""
        for capture in self._captures.values():
            if capture.request.target.lower() == monitor_in.target.lower() and capture.stats.status.active:
                raise MonitorExists(f"@{monitor_in.target} is already being captured (session {capture.session_id})")
        polled = asyncio.Event()
        capture = self._launch(monitor_in, created_by, polled)
        if monitor_in.again:
            chain = Chain(monitor_in, created_by, capture.session_id, capture.session_id, on_successor)
            self._chains[capture.session_id] = chain
        # Answer once the live is found (or found unavailable), or, when waiting, after the first poll.
        opened, first_poll = asyncio.create_task(capture.opened.wait()), asyncio.create_task(polled.wait())
        try:
            await asyncio.wait({opened, first_poll}, timeout=OPEN_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            opened.cancel()
            first_poll.cancel()
        if capture.refused is not None:  # another process (CLI, Pod, analyser) owns the target
            self._captures.pop(capture.session_id, None)
            self._chains.pop(capture.session_id, None)
            raise MonitorExists(str(capture.refused))
        return MonitorRead.from_stats(capture.stats)

    def _launch(self, monitor_in: MonitorCreate, created_by: str, polled: asyncio.Event) -> LiveCapture:
        """A new capture (new session id) and its task: waiting first if asked, else capturing at once."""
        request = CaptureRequest(
            target=monitor_in.target,
            source=monitor_in.source.value,
            session_id=uuid.uuid4(),
            case_id=monitor_in.case_id,
            created_by=created_by,
            video=monitor_in.video,
        )
        capture = LiveCapture(
            request, self.source_factory(monitor_in, self.settings), pool=self.pool, settings=self.settings,
            redis=self.redis, committer=self.committer, ticker=self.ticker, heartbeat=self.heartbeat,
            holder=f"analyser API (started by {created_by})",
        )  # fmt: skip
        self._captures[request.session_id] = capture
        run = self._wait_then_run(capture, polled) if monitor_in.wait else self._run(capture)
        task = asyncio.create_task(run, name=f"capture-{monitor_in.target}")
        self._tasks[request.session_id] = task
        self._forget_old()
        return capture

    async def _run(self, capture: LiveCapture) -> None:
        try:
            await capture.run()
        except (CaptureBusy, SessionSealed) as refusal:
            log.info("capture of @%s refused: %s", capture.request.target, refusal)
        except Exception as error:
            capture.stats.status, capture.stats.status_reason = SessionStatus.FAILED, f"capture failed: {error}"
            log.exception("capture %s failed", capture.session_id)
        finally:
            self._tasks.pop(capture.session_id, None)

    async def _wait_then_run(self, capture: LiveCapture, polled: asyncio.Event) -> None:
        """Poll the offline target (status waiting, no session yet) until it goes live, then capture it."""
        stopped = self._waiting[capture.session_id] = asyncio.Event()
        stats, target = capture.stats, capture.request.target
        stats.status, stats.status_reason = SessionStatus.WAITING, f"polling @{target} until the live starts"

        def on_poll(state: str) -> None:
            stats.status_reason = f"waiting for the live: {state}"
            polled.set()

        try:
            live = await wait_until_live(target, self.settings, stopped, on_poll=on_poll)
        except UserNotFound as error:
            live, stats.status, stats.status_reason = False, SessionStatus.NOT_FOUND, str(error)
        finally:
            self._waiting.pop(capture.session_id, None)
        if not live:
            if stats.status is SessionStatus.WAITING:
                stats.status, stats.status_reason = SessionStatus.STOPPED, "stopped while waiting; nothing captured"
            capture.opened.set()
            capture.done.set()
            self._tasks.pop(capture.session_id, None)
            return
        stats.status, stats.status_reason = SessionStatus.STARTING, "the target went live"
        await self._run(capture)
        await self._next_in_chain(capture)

    async def _next_in_chain(self, ended: LiveCapture) -> None:
        """`again`: the live ended cleanly and nobody stopped the chain, so wait for the next live."""
        chain = self._chains.get(ended.session_id)
        if chain is None or chain.stopped.is_set() or ended.stats.status is not SessionStatus.ENDED:
            return
        successor = self._launch(chain.monitor_in, chain.created_by, asyncio.Event())
        chain.current = successor.session_id
        self._chains[successor.session_id] = chain
        log.info("@%s: live ended; session %s waits for the next", chain.monitor_in.target, successor.session_id)
        if chain.on_successor is not None:
            try:
                await chain.on_successor(MonitorRead.from_stats(successor.stats), chain.first)
            except Exception:  # the capture runs regardless; the failure is logged for the operator
                log.exception("could not report session %s, started by the chain", successor.session_id)

    async def stop(self, session_id: UUID, *, reason: str = "stopped by the operator") -> MonitorRead:
        """Stop a capture: everything received is stored and the chain sealed before this returns.
        Any session id of an `again` chain stops the whole chain: its current capture, and no next one."""
        self._get(session_id)  # an unknown id: MonitorNotFound
        chain = self._chains.get(session_id)
        if chain is not None:
            chain.stopped.set()
            if chain.current != session_id and chain.current in self._captures:
                await self._stop_one(chain.current, reason)
        return await self._stop_one(session_id, reason)

    async def _stop_one(self, session_id: UUID, reason: str) -> MonitorRead:
        capture = self._get(session_id)
        task = self._tasks.get(session_id)
        waiting = self._waiting.get(session_id)
        if waiting is not None and task is not None:
            waiting.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
            if capture.stats.status.active:  # went live just as it was stopped: stop the capture too
                await capture.stop(reason)
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
            return MonitorRead.from_stats(capture.stats)
        if task is not None:
            await capture.stop(reason)
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
        return MonitorRead.from_stats(capture.stats)

    def get(self, session_id: UUID) -> MonitorRead:
        return MonitorRead.from_stats(self._get(session_id).stats)

    def list(self, *, active_only: bool = False) -> list[MonitorRead]:
        """Captures of this process, newest first."""
        monitors = [MonitorRead.from_stats(c.stats) for c in reversed(self._captures.values())]
        return [m for m in monitors if m.status.active] if active_only else monitors

    async def close(self) -> None:
        """Stop every running capture (service shutdown): flushed and sealed, nothing lost."""
        running = list(self._tasks)
        await asyncio.gather(*(self.stop(sid, reason="analyser service shutting down") for sid in running))
        await self.committer.close()
        await self.ticker.close()
        await self.heartbeat.stop()

    def _get(self, session_id: UUID) -> LiveCapture:
        capture = self._captures.get(session_id)
        if capture is None:
            raise MonitorNotFound(f"no capture with session id {session_id} in this analyser")
        return capture

    def _forget_old(self) -> None:
        finished = [sid for sid, c in self._captures.items() if c.done.is_set()]
        for sid in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._captures[sid]
            self._chains.pop(sid, None)
