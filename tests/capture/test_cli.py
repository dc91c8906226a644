"""`scis capture` and `scis monitor` as processes: exit codes, SIGTERM seals, progress line."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from scis.embedded.ports import free_port
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import session_row, stored_events, wait_for
from tests.support.processes import spawn_module


def _env(sim: SimulatorServer, home: Path, postgres_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(home), SCIS_DATABASE_URL=postgres_url, SCIS_REDIS_URL=redis_url,
        SCIS_TIKTOK_BASE_URL=sim.base_url, SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_WATCHDOG_SECONDS="5",
        SCIS_STREAK_TIMEOUT_SECONDS="0.5",
    )  # fmt: skip
    return env


async def test_exit_codes_for_offline_and_unknown_users(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    sim.add_room("cli_offline", state="offline")
    env = _env(sim, tmp_path, postgres_url, redis_url)
    offline = await spawn_module("scis.capture.cli", "--target", "@cli_offline", env=env)
    _, err = await asyncio.wait_for(offline.communicate(), 60)
    assert offline.returncode == 3, err.decode()
    assert b"offline" in err
    missing = await spawn_module("scis.capture.cli", "--target", "https://www.tiktok.com/@no_such_user/live", env=env)
    await asyncio.wait_for(missing.communicate(), 60)
    assert missing.returncode == 4
    bad = await spawn_module("scis.capture.cli", "--target", "not a handle", env=env)
    _, err = await asyncio.wait_for(bad.communicate(), 60)
    assert bad.returncode == 2 and b"target='not a handle'" in err
    no_case = await spawn_module("scis.capture.cli", "--target", "@cli_offline", "--case-id", "999999", env=env)
    _, err = await asyncio.wait_for(no_case.communicate(), 60)
    assert no_case.returncode == 2 and b"no such case" in err


async def test_sigterm_flushes_seals_and_exits_0(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("cli_live", rate=200, seed=4)
    session_id = uuid.uuid4()
    env = _env(sim, tmp_path, postgres_url, redis_url)
    env["SCIS_CAPTURE_SESSION_ID"] = str(session_id)
    env["SCIS_CAPTURE_METRICS_PORT"] = str(metrics_port := free_port())
    process = await spawn_module("scis.capture.cli", "--target", "@cli_live", env=env)

    async def stored() -> int:
        try:
            return int((await session_row(pool, session_id))["events_count"])
        except AssertionError:
            return 0

    deadline = asyncio.get_running_loop().time() + 30
    while await stored() < 100:
        assert asyncio.get_running_loop().time() < deadline, "capture stored nothing"
        await asyncio.sleep(0.1)
    # The process serves its own capture metrics (what a capture Pod's PodMonitor scrapes).
    async with httpx.AsyncClient(timeout=10) as client:
        metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert 'scis_capture_queue_depth{target="cli_live"}' in metrics and "scis_capture_events_total{" in metrics
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    session = await session_row(pool, session_id)
    assert session["status"] == "stopped" and "SIGTERM" in session["status_reason"]
    rows = await stored_events(pool, session_id)
    assert rows[-1]["kind"] == "session_end"
    async with pool.connection() as conn:
        assert (await verify_session(conn, session_id)).intact
    await room.stop()


async def test_monitor_prints_progress_and_stops_when_the_live_ends(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    room = sim.add_room("cli_monitor", rate=100, max_events=150, seed=9)
    env = _env(sim, tmp_path, postgres_url, redis_url)
    process = await spawn_module("scis.capture.monitor_cli", "@cli_monitor", env=env)
    await wait_for(lambda: room.finished.is_set(), seconds=120)  # a process start can take long when loaded
    await asyncio.sleep(1.0)
    room.end()
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    last = out.decode().strip().splitlines()[-1]
    assert last.startswith("@cli_monitor ended |") and "events (" in last and "viewers" in last
