"""`scis monitor --wait --again`: an offline target is polled (no session per poll), captured when it
goes live, waited for again after the live ends, and the closing line adds up every attempt."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.capture.waiting import MAX_BACKOFF_FACTOR, next_delay, wait_until_live
from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from tests.support.processes import spawn_module


def test_poll_delay_has_jitter_and_backs_off_on_failures_only() -> None:
    assert next_delay(10, 0, lambda low, high: low) == 8.0
    assert next_delay(10, 0, lambda low, high: high) == 12.0
    assert next_delay(10, 2, lambda low, high: 1.0) == 40.0
    assert next_delay(10, 50, lambda low, high: 1.0) == 10 * MAX_BACKOFF_FACTOR


async def _sessions(pool: AsyncConnectionPool[Any], target: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM live_sessions WHERE target = %s ORDER BY started_at", (target,))
        return await cur.fetchall()


async def _until(check: Any, seconds: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def test_monitor_waits_offline_live_offline_live(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("waiting_host", state="offline", rate=30, seed=2)
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(tmp_path), SCIS_DATABASE_URL=postgres_url, SCIS_REDIS_URL=redis_url,
        SCIS_TIKTOK_BASE_URL=sim.base_url, SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_WAIT_POLL_SECONDS="1",
    )  # fmt: skip
    process = await spawn_module(
        "scis.capture.monitor_cli", "@waiting_host", "--wait", "--again",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=(log := (tmp_path / "monitor.log").open("wb")),
    )  # fmt: skip
    try:
        await asyncio.sleep(4)  # a few polls while offline
        assert await _sessions(pool, "waiting_host") == [], "polling an offline target must not create sessions"

        async def live_with_events(count: int) -> bool:
            sessions = await _sessions(pool, "waiting_host")
            return len(sessions) == count and sessions[-1]["events_count"] >= 20

        room.go_live()
        await _until(lambda: live_with_events(1))
        room.end()

        async def first_ended() -> bool:
            return (await _sessions(pool, "waiting_host"))[0]["status"] == "ended"

        await _until(first_ended)
        await asyncio.sleep(2)  # waiting again, offline
        assert len(await _sessions(pool, "waiting_host")) == 1
        room.go_live()
        await _until(lambda: live_with_events(2))
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError((tmp_path / "monitor.log").read_text()[-3000:]) from None
        log.close()
        text = (tmp_path / "monitor.log").read_text()
        assert process.returncode == 0, text
        assert text.count("Waiting") >= 2
        sessions = await _sessions(pool, "waiting_host")
        assert [s["status"] for s in sessions] == ["ended", "stopped"]
        total = sum(s["events_count"] for s in sessions)
        assert "2 lives captured" in text and f"{sum(s['events_count'] - 2 for s in sessions)} events" in text, (
            text[-500:],
            total,
        )
    finally:
        if process.returncode is None:  # a failed check must not leave the monitor running
            process.kill()
            await process.wait()
    await room.stop()


async def test_capture_wait_runs_one_live_per_attempt(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    """`scis capture --wait`, what a LiveMonitor Pod with spec.wait runs: each run waits while the room is
    offline (no session), captures the live into its --session-id and exits 0 when it ends; the next
    attempt (spec.again) waits for the next live. Offline -> live -> offline -> live."""
    room = sim.add_room("pod_waiter", state="offline", rate=30, seed=3)
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(tmp_path), SCIS_DATABASE_URL=postgres_url, SCIS_REDIS_URL=redis_url,
        SCIS_TIKTOK_BASE_URL=sim.base_url, SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_WAIT_POLL_SECONDS="1",
    )  # fmt: skip
    for attempt in range(2):
        session_id = str(uuid.uuid4())
        log_path = tmp_path / f"capture-{attempt}.log"
        with log_path.open("wb") as log:
            process = await spawn_module(
                "scis.capture.cli", "--target", "@pod_waiter", "--wait",
                "--session-id", session_id, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                await asyncio.sleep(3)  # polls while offline
                assert process.returncode is None, log_path.read_text()
                assert len(await _sessions(pool, "pod_waiter")) == attempt, "waiting must not create a session"
                room.go_live()

                async def captured(session_id: str = session_id) -> bool:
                    sessions = [s for s in await _sessions(pool, "pod_waiter") if str(s["id"]) == session_id]
                    return bool(sessions) and sessions[0]["events_count"] >= 20

                await _until(captured)
                room.end()
                code = await asyncio.wait_for(process.wait(), 60)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        text = log_path.read_text()
        assert code == 0 and "Waiting" in text, text[-2000:]
    sessions = await _sessions(pool, "pod_waiter")
    assert [s["status"] for s in sessions] == ["ended", "ended"]
    await room.stop()


async def test_capture_wait_stopped_while_waiting_exits_0_with_nothing_captured(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    sim.add_room("never_live", state="offline", rate=30, seed=4)
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(tmp_path), SCIS_DATABASE_URL=postgres_url, SCIS_TIKTOK_BASE_URL=sim.base_url,
        SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_WAIT_POLL_SECONDS="1",
    )  # fmt: skip
    process = await spawn_module(
        "scis.capture.cli", "--target", "@never_live", "--wait",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    first = await asyncio.wait_for(process.stderr.readline(), 120)  # polling has begun (signals handled)
    assert b"Waiting" in first, first
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and b"stopped while waiting; nothing captured" in err, err[-1000:]
    assert await _sessions(pool, "never_live") == []


async def test_a_wait_stopped_while_its_lookup_finds_the_live_does_not_report_live(sim: SimulatorServer) -> None:
    """The stop comes while the room lookup is on its way and the lookup then finds the target live."""
    sim.add_room("stopped_mid_lookup", state="live", rate=1, seed=3)
    settings = Settings(tiktok_base_url=sim.base_url, webcast_base_url=sim.base_url, wait_poll_seconds=1)
    stopped = asyncio.Event()
    waiting = asyncio.create_task(wait_until_live("stopped_mid_lookup", settings, stopped))
    await asyncio.sleep(0)  # the lookup is sent; its answer takes more than one turn of the loop
    stopped.set()
    assert await waiting is False
    assert await wait_until_live("stopped_mid_lookup", settings, asyncio.Event()) is True
