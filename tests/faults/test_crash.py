"""`kill -9` mid-stream (with events spilled to disk), then a plain restart or a resume with the session id."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from scis.capture.spill import session_spill_dir
from scis.simulator import SimulatorServer
from tests.capture.support import end_live_while_listening
from tests.faults.support import capture_env, events_count, figures, spawn_capture, wait_stored


async def kill_while_spilling(
    pool: AsyncConnectionPool[Any], postgres_url: str, home: Path, process: asyncio.subprocess.Process, target: str
) -> uuid.UUID:
    """Hold the session row so the capture spills, then kill -9 it; returns its session id."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM live_sessions WHERE lower(target) = %s ORDER BY started_at DESC",
                                 (target,))  # fmt: skip
        row = await cur.fetchone()
        assert row is not None
    session_id: uuid.UUID = row["id"]
    folder = session_spill_dir(home, session_id)
    async with await psycopg.AsyncConnection.connect(postgres_url) as blocker:
        await blocker.execute("SELECT 1 FROM live_sessions WHERE id = %s FOR UPDATE", (session_id,))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not (folder.is_dir() and sum(p.stat().st_size for p in folder.iterdir()) > 20_000):
            assert loop.time() < deadline, "the capture did not spill while its commits were held"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await blocker.rollback()
    return session_id


@pytest.mark.parametrize("restart", ["plain", "same-session-id"])
async def test_kill_9_mid_stream_then_restart(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any],
    restart: str,
) -> None:  # fmt: skip
    target = f"k9_{restart.replace('-', '_')}"
    room = sim.add_room(target, rate=300, seed=21)
    env = capture_env(sim, tmp_path, postgres_url, redis_url, SCIS_CAPTURE_QUEUE_SIZE="50",
                      SCIS_CAPTURE_BATCH_SIZE="100")  # fmt: skip
    first = await spawn_capture("--target", f"@{target}", env=env)
    await wait_stored(pool, target, 300)
    killed = await kill_while_spilling(pool, postgres_url, tmp_path, first, target)
    assert first.returncode == -signal.SIGKILL
    spilled_files = list(session_spill_dir(tmp_path, killed).iterdir())
    assert spilled_files, "the killed capture left no spill file to replay"

    again = ("--session-id", str(killed)) if restart == "same-session-id" else ()
    second = await spawn_capture("--target", f"@{target}", *again, env=env)
    before = await events_count(pool, target)
    await wait_stored(pool, target, before + 300)
    sent_before_end = await end_live_while_listening(room)
    _, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()

    result = await figures(f"kill -9, restart {restart}", pool, room, target)
    assert not session_spill_dir(tmp_path, killed).exists(), "the spill of the killed run was not replayed"
    rows = result.rows[killed]
    if restart == "plain":
        assert len(result.sessions) == 2 and result.sessions[0]["status"] == "failed"
        assert "abandoned" in result.sessions[0]["status_reason"]
        assert result.gaps["crash"] >= 1  # the outage until the adoption (and what died in memory, if any)
        outage_gap = next(r for r in rows if r["kind"] == "gap" and "adopted_by" in r["data"])
        assert outage_gap["data"]["reason"] == "crash" and outage_gap["data"]["replayed_from_spill"] > 0
    else:
        assert len(result.sessions) == 1 and result.sessions[0]["status"] == "ended"
        assert result.gaps["restart"] == 1
        outage_gap = next(r for r in rows if r["kind"] == "gap" and r["data"]["reason"] == "restart")
    # What the killed process held only in memory, and what was sent while no capture ran, is
    # missing; each such message was sent inside a stretch a gap record names (or before the new
    # capture's first frame), and the outage gap starts at the last event stored, replayed ones too.
    last_before = max(r["captured_at"] for r in rows[: rows.index(outage_gap)] if r["kind"] != "gap")
    assert datetime.fromisoformat(outage_gap["data"]["from"].replace("Z", "+00:00")) == last_before
    assert not result.uncovered, f"{len(result.uncovered)} messages lost outside every gap"
    assert result.stored + len(result.missing) == result.sent
    # The restarted capture resumed from the stored cursor and got the outage re-sent (decision 411).
    assert not result.missing_before_the_end(sent_before_end) and not result.unfilled("crash", "restart")
