"""One owner per capture across processes and pods: a lease per target and per session in PostgreSQL.

Every capture (the analyser API, `scis capture`, a capture Pod, an adopter sealing an abandoned
session) takes the lease of its target before it touches TikTok or the store, renews it by
heartbeat, and gives it back when its session is sealed. A second capture of the same target, or a
second process given the same session id, is refused with a message naming the running one. A
lease is stale once it expired, or at once when its holder was a process of this host that is gone
(a `kill -9` is noticed by the next start without waiting for the expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scis.evidence.canonical import iso_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds (or asks for) a lease: a random token plus what an analyst needs to find it."""

    owner: str
    holder: str
    host: str
    pid: int

    @classmethod
    def here(cls, holder: str) -> LeaseHolder:
        return cls(secrets.token_hex(8), holder, socket.gethostname(), os.getpid())


class CaptureBusy(Exception):
    """The target (or the session) is captured by another holder; the message names it."""

    def __init__(self, message: str, running: dict[str, Any]) -> None:
        super().__init__(message)
        self.running = running


def describe_lease(row: dict[str, Any]) -> str:
    return (
        f"session {row['session_id']} by {row['holder']} (pid {row['pid']} on {row['host']}) "
        f"since {iso_utc(row['acquired_at'])}, lease renewed {iso_utc(row['renewed_at'])}"
    )


def holder_is_gone(row: dict[str, Any]) -> bool:
    """True when the holder was a process of this host that no longer exists."""
    if row["host"] != socket.gethostname() or row["pid"] == os.getpid():
        return False
    try:
        os.kill(int(row["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def is_stale(row: dict[str, Any]) -> bool:
    return bool(row["expired"]) or holder_is_gone(row)


_SELECT = """SELECT target, session_id, owner, holder, host, pid, acquired_at, renewed_at, expires_at,
                    expires_at < now() AS expired
               FROM capture_leases"""


async def acquire(
    conn: psycopg.AsyncConnection[Any], *, target: str, session_id: UUID, me: LeaseHolder, seconds: float
) -> list[dict[str, Any]]:
    """Take the lease of target and session; returns the stale leases it replaced (their sessions may
    need adopting). Raises CaptureBusy when a live holder has either."""
    target = target.lower()
    try:
        async with conn.transaction():
            stale = await _take(conn, target, session_id, me, seconds)
    except psycopg.errors.UniqueViolation:  # the same session id was just taken under another target
        raise CaptureBusy(f"session {session_id} was just taken by another capture", {}) from None
    return stale


async def _take(
    conn: psycopg.AsyncConnection[Any], target: str, session_id: UUID, me: LeaseHolder, seconds: float
) -> list[dict[str, Any]]:
    cur = await conn.execute(f"{_SELECT} WHERE target = %s OR session_id = %s FOR UPDATE", (target, session_id))
    stale: list[dict[str, Any]] = []
    for row in await cur.fetchall():
        if row["owner"] == me.owner:
            continue
        if not is_stale(row):
            what = f"@{target}" if row["target"] == target else f"session {session_id}"
            raise CaptureBusy(f"{what} is already being captured: {describe_lease(row)}", row)
        stale.append(row)
    for row in stale:
        await conn.execute("DELETE FROM capture_leases WHERE target = %s AND owner = %s", (row["target"], row["owner"]))
    cur = await conn.execute(
        """INSERT INTO capture_leases (target, session_id, owner, holder, host, pid, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))
           ON CONFLICT (target) DO UPDATE SET session_id = EXCLUDED.session_id,
               renewed_at = now(), expires_at = EXCLUDED.expires_at
               WHERE capture_leases.owner = EXCLUDED.owner
           RETURNING target""",
        (target, session_id, me.owner, me.holder, me.host, me.pid, seconds),
    )
    if await cur.fetchone() is None:  # another process inserted between our read and our write
        raise CaptureBusy(f"@{target} was just taken by another capture", {})
    return stale


async def renew(
    conn: psycopg.AsyncConnection[Any], leases: list[tuple[str, LeaseHolder]], *, seconds: float
) -> set[tuple[str, str]]:
    """Extend leases (target, holder) in one statement; the (target, owner) pairs still ours (one that
    is missing expired and was taken over)."""
    cur = await conn.execute(
        """UPDATE capture_leases AS lease
              SET renewed_at = now(), expires_at = now() + make_interval(secs => %s)
             FROM unnest(%s::text[], %s::text[]) AS held(target, owner)
            WHERE lease.target = held.target AND lease.owner = held.owner
        RETURNING lease.target, lease.owner""",
        (seconds, [target.lower() for target, _ in leases], [me.owner for _, me in leases]),
    )
    rows = await cur.fetchall()
    return {(row["target"], row["owner"]) if isinstance(row, dict) else (row[0], row[1]) for row in rows}


async def release(conn: psycopg.AsyncConnection[Any], *, target: str, me: LeaseHolder) -> None:
    await conn.execute("DELETE FROM capture_leases WHERE target = %s AND owner = %s", (target.lower(), me.owner))


async def holder_of_session(conn: psycopg.AsyncConnection[Any], session_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(f"{_SELECT} WHERE session_id = %s", (session_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


class BackgroundLoop:
    """A coroutine `_run` as a task of its own: `start()` it, `stop()` cancels and waits for it."""

    task_name = "capture-background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError


class Heartbeat(BackgroundLoop):
    """Renews the leases held by the captures of a process every third of their life, all of them in
    one statement: one commit per third of a lease for every live, not one per live (decision 233).
    Calls a lease's `on_lost` when someone else now holds it."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, seconds: float) -> None:
        self.pool = pool
        self.seconds = seconds
        self.task_name = "capture-leases"
        self._held: dict[tuple[str, str], tuple[LeaseHolder, Callable[[], Coroutine[Any, Any, None]]]] = {}
        self._losing: set[asyncio.Task[None]] = set()

    def hold(self, target: str, me: LeaseHolder, on_lost: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Keep renewing `me`'s lease of `target` until `let_go`."""
        self._held[(target.lower(), me.owner)] = (me, on_lost)
        if self._task is None or self._task.done():
            self.start()

    def let_go(self, target: str, me: LeaseHolder) -> None:
        self._held.pop((target.lower(), me.owner), None)
        task = self._task
        if not self._held and task is not None and task is not asyncio.current_task():
            task.cancel()  # nothing left to renew
            self._task = None

    async def _run(self) -> None:
        failing = False
        while self._held:
            await asyncio.sleep(1.0 if failing else self.seconds / 3)
            held = dict(self._held)
            if not held:
                return
            try:
                async with self.pool.connection(timeout=self.seconds / 3) as conn:
                    ours = await renew(conn, [(target, me) for (target, _), (me, _) in held.items()],
                                       seconds=self.seconds)  # fmt: skip
            except (psycopg.Error, PoolTimeout, OSError) as error:
                if not failing:
                    failing = True
                    log.warning("cannot renew the capture leases of %d lives yet: %s", len(held), error)
                continue
            if failing:
                log.info("capture leases renewed again")
                failing = False
            for key, (_, on_lost) in held.items():
                if key not in ours and self._held.pop(key, None) is not None:
                    losing = asyncio.create_task(on_lost())
                    self._losing.add(losing)
                    losing.add_done_callback(self._losing.discard)
