"""Helpers shared by the capture and evidence tests: settings, a pool, one capture run against the simulator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.sources.websocket import Backoff, WebsocketSource
from scis.core.db import open_pool
from scis.core.settings import Settings
from scis.simulator import SimulatorServer

FAST_BACKOFF = Backoff(initial=0.05, factor=2.0, maximum=0.5)


def capture_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "watchdog_seconds": 2.0,
        "streak_timeout_seconds": 0.6,
        "capture_batch_size": 200,
        "capture_queue_size": 10_000,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def opened_pool(url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool = open_pool(url, min_size=1, max_size=4)
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


def websocket_source(sim: SimulatorServer, handle: str, settings: Settings) -> WebsocketSource:
    return WebsocketSource(
        handle,
        tiktok_base_url=sim.base_url,
        webcast_base_url=sim.base_url,
        watchdog_seconds=settings.watchdog_seconds,
        backoff=FAST_BACKOFF,
        heartbeat_seconds=1.0,
    )


def new_capture(
    sim: SimulatorServer,
    handle: str,
    settings: Settings,
    pool: AsyncConnectionPool[Any],
    redis: aioredis.Redis | None = None,
    **request: Any,
) -> LiveCapture:
    source = websocket_source(sim, handle, settings)
    req = CaptureRequest(target=handle, source="websocket", session_id=uuid.uuid4(), **request)
    return LiveCapture(req, source, pool=pool, settings=settings, redis=redis)


async def run_until_done(capture: LiveCapture, seconds: float = 15.0) -> None:
    await asyncio.wait_for(capture.run(), seconds)


async def stored_events(pool: AsyncConnectionPool[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM events WHERE session_id = %s ORDER BY seq", (session_id,))
        return await cur.fetchall()


async def session_row(pool: AsyncConnectionPool[Any], session_id: uuid.UUID) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM live_sessions WHERE id = %s", (session_id,))
        row = await cur.fetchone()
        assert row is not None
        return row


def stored_msg_ids(rows: list[dict[str, Any]]) -> list[int]:
    """Every TikTok msg_id a session's rows account for, streak frames included."""
    ids: list[int] = []
    for row in rows:
        streak = (row["data"] or {}).get("streak")
        if streak:
            ids.extend(int(m) for m in streak["msg_ids"])
        elif row["msg_id"] is not None:
            ids.append(row["msg_id"])
    return ids


async def wait_for(predicate: Any, seconds: float = 10.0, interval: float = 0.02) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def end_live_while_listening(room: Any) -> int:
    """End a simulated live while the capture has a socket open; returns how many were sent before the end."""
    await wait_for(lambda: bool(room.sessions), seconds=10)
    sent_before_end = len(room.sent_messages)
    room.end()
    return sent_before_end


def assert_all_sent_stored(rows: list[dict[str, Any]], room: Any, sent_before_end: int) -> None:
    """Every sent message stored once; only the end message may be missing, and then a gap says why.

    A socket can still be deemed dead in the instant the live ends; the capture then cannot get the
    end message from anywhere and records a gap saying the live ended before it reconnected.
    """
    ids = stored_msg_ids(rows)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    missing = {m.msg_id for m in room.sent_messages} - set(ids)
    if missing:
        assert missing <= {m.msg_id for m in room.sent_messages[sent_before_end:]}, f"lost {len(missing)} events"
        assert live_ended_before_reconnect(rows)


def live_ended_before_reconnect(rows: Iterable[dict[str, Any]]) -> bool:
    """A gap record says the live ended while the socket was reconnecting: what was sent as it ended is lost."""
    return any(row["kind"] == "gap" and row["data"].get("live_ended") for row in rows)
