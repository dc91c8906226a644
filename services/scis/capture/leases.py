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


async def renew(conn: psycopg.AsyncConnection[Any], *, target: str, me: LeaseHolder, seconds: float) -> bool:
    """Extend the lease; False when it is no longer ours (it expired and was taken over)."""
    cur = await conn.execute(
        """UPDATE capture_leases SET renewed_at = now(), expires_at = now() + make_interval(secs => %s)
            WHERE target = %s AND owner = %s RETURNING target""",
        (seconds, target.lower(), me.owner),
    )
    return await cur.fetchone() is not None


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
    """Renews a held lease every third of its life; calls `on_lost` if someone else now holds it."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], *, target: str, me: LeaseHolder, seconds: float, on_lost: Any
    ) -> None:
        self.pool = pool
        self.target = target
        self.me = me
        self.seconds = seconds
        self.on_lost = on_lost
        self.task_name = f"capture-lease-{target}"

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(1.0 if failing else self.seconds / 3)
            try:
                async with self.pool.connection(timeout=self.seconds / 3) as conn:
                    held = await renew(conn, target=self.target, me=self.me, seconds=self.seconds)
            except (psycopg.Error, PoolTimeout, OSError) as error:
                if not failing:
                    failing = True
                    log.warning("cannot renew the capture lease of @%s yet: %s", self.target, error)
                continue
            if failing:
                log.info("capture lease of @%s renewed again", self.target)
                failing = False
            if not held:
                await self.on_lost()
                return
