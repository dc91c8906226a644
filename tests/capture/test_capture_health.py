"""What `scis status` says of open sessions: a running capture, and one a dead process left `live`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from psycopg_pool import AsyncConnectionPool

from scis.core.settings import Settings
from scis.lives.health import capture_health, describe
from scis.simulator import SimulatorServer
from tests.capture.support import new_capture, wait_for


async def test_status_tells_a_running_capture_from_an_abandoned_session(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    abandoned = uuid.uuid4()
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO live_sessions (id, target, source, status, started_at)"
            " VALUES (%s, %s, 'websocket', 'live', %s)",
            (abandoned, "left.behind", datetime.now(UTC) - timedelta(minutes=30)),
        )
    room = sim.add_room("watched.now", rate=100, max_events=100_000, seed=2)
    capture = new_capture(sim, "watched.now", settings, pool)
    task = asyncio.create_task(capture.run())
    try:
        await wait_for(lambda: capture.stats.events_total >= 20, seconds=30)
        # This process's own /metrics answer stands for the analyser's.
        health = {h.session.id: h for h in await capture_health(postgres_url, {"analyser": generate_latest().decode()})}
    finally:
        room.end()
        await asyncio.wait_for(task, 30)
        async with pool.connection() as conn:
            await conn.execute("UPDATE live_sessions SET status = 'failed' WHERE id = %s", (abandoned,))

    running = health[capture.session_id]
    assert running.runner == "analyser" and running.queue_depth is not None and running.spill_bytes == 0
    assert running.session.events_count > 0 and running.verdict == "capturing"
    assert "@watched.now" in describe(running)
    left = health[abandoned]
    assert left.runner is None and left.queue_depth is None
    assert left.verdict.startswith("ABANDONED?") and left.session.idle_seconds > 1700
