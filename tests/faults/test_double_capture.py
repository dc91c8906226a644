"""Two captures of one target at once: CLI + CLI, the same --session-id twice, API + CLI and CLI + API."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from scis.analyser.captures import CaptureManager, MonitorExists
from scis.analyser.models import MonitorCreate
from scis.capture.runner import EXIT_BUSY
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, end_live_while_listening
from tests.faults.support import capture_env, events_count, figures, spawn_capture, wait_stored


async def refused(process: asyncio.subprocess.Process) -> str:
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == EXIT_BUSY, err.decode()
    return err.decode()


async def test_one_target_is_captured_by_one_process_only(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    target = "twice"
    room = sim.add_room(target, rate=200, seed=3)
    env = capture_env(sim, tmp_path, postgres_url, redis_url)
    first = await spawn_capture("--target", f"@{target}", env=env)
    await wait_stored(pool, target, 50)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM live_sessions WHERE target = %s", (target,))
        (first_session,) = [row["id"] for row in await cur.fetchall()]

    # CLI + CLI, and a second process given the running session's id: refused, naming the first.
    message = await refused(await spawn_capture("--target", f"@{target}", env=env))
    assert f"session {first_session} by scis capture (pid {first.pid} on" in message and "since" in message
    message = await refused(await spawn_capture("--target", f"@{target}", "--session-id", str(first_session), env=env))
    assert "already being captured" in message and "Traceback" not in message

    # CLI + API: the analyser answers 409 (MonitorExists) naming the CLI process.
    settings = capture_settings(tmp_path / "api", tiktok_base_url=sim.base_url, webcast_base_url=sim.base_url)
    manager = CaptureManager(pool=pool, settings=settings)
    with pytest.raises(MonitorExists) as api_refused:
        await manager.start(MonitorCreate(target=f"@{target}"), created_by="analyst")
    assert f"pid {first.pid}" in str(api_refused.value)
    assert not manager.list(), "a refused capture must not be listed"

    first.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 0, err.decode()

    # API + CLI: now the analyser holds the target and the CLI is refused, naming the API.
    before = await events_count(pool, target)
    monitor = await manager.start(MonitorCreate(target=f"@{target}"), created_by="analyst")
    message = await refused(await spawn_capture("--target", f"@{target}", env=env))
    assert f"session {monitor.session_id} by analyser API (started by analyst)" in message
    await wait_stored(pool, target, before + 50)
    await end_live_while_listening(room)
    await asyncio.wait_for(manager.close(), 60)

    result = await figures("two captures of one target", pool, room, target)
    assert [s["status"] for s in result.sessions] == ["stopped", "ended"]
