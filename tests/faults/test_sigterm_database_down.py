"""SIGTERM to `scis capture` while PostgreSQL is down: it parks what it holds in its spill folder with a
note, exits 7 unsealed within its stop timeout, and the next capture (plain restart, or the same
session id) stores everything: sent = stored, 0 duplicates, chains verify."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest

from scis.capture.runner import EXIT_PARKED
from scis.capture.spill import read_parked_note, session_spill_dir
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.simulator import SimulatorServer
from tests.capture.support import end_live_while_listening, opened_pool, wait_for
from tests.faults.support import capture_env, events_count, figures, spawn_capture, wait_caught_up, wait_stored

STOP_TIMEOUT_SECONDS = 3


@pytest.mark.parametrize("restart", ["plain", "same-session-id"])
async def test_sigterm_while_postgresql_is_down_parks_then_the_next_run_stores_everything(
    sim: SimulatorServer, tmp_path: Path, redis_url: str, restart: str
) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), tmp_path / "postgres.log")
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(server.migrate)  # as the owner; the captures run as scis_app
        target = f"term_{restart.replace('-', '_')}"
        room = sim.add_room(target, rate=200, seed=41)
        session_id = uuid.uuid4()
        home = tmp_path / "home"
        env = capture_env(sim, home, server.url, redis_url, SCIS_CAPTURE_QUEUE_SIZE="200",
                          SCIS_CAPTURE_BATCH_SIZE="100",
                          SCIS_CAPTURE_STOP_TIMEOUT_SECONDS=str(STOP_TIMEOUT_SECONDS))  # fmt: skip
        first = await spawn_capture("--target", f"@{target}", "--session-id", str(session_id), env=env)
        async with opened_pool(server.url) as pool:
            await wait_stored(pool, target, 300)
        await asyncio.to_thread(server.stop)
        received_before = len(room.sent_messages)
        await wait_for(lambda: len(room.sent_messages) > received_before + 600, seconds=120)  # memory, then spill
        first.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(first.communicate(), 300)
        message = err.decode()
        assert first.returncode == EXIT_PARKED, message
        assert "not sealed" in message and f"--session-id {session_id}" in message
        folder = session_spill_dir(home, session_id)
        note = read_parked_note(folder)
        assert note is not None and "SIGTERM" in note["reason"] and note["events"] > 0 and note["lost"] == 0
        assert any(path.name.endswith(".spill") for path in folder.iterdir())
        print(f"\n[SIGTERM with PostgreSQL down] exit {first.returncode}, {note['events']} events parked in spill")

        await asyncio.to_thread(server.start)
        async with opened_pool(server.url) as pool:
            again = ("--session-id", str(session_id)) if restart == "same-session-id" else ()
            second = await spawn_capture("--target", f"@{target}", *again, env=env)
            await wait_for(lambda: bool(room.sessions), seconds=120)  # connected (after storing the parked events)
            stored_before = await events_count(pool, target)
            await wait_stored(pool, target, stored_before + 300, seconds=120)
            await wait_caught_up(pool, room, target)
            sent_before_end = await end_live_while_listening(room)
            _, err = await asyncio.wait_for(second.communicate(), 600)  # it reads the re-sent backlog first
            assert second.returncode == 0, err.decode()
            result = await figures(f"SIGTERM with PostgreSQL down, then restart {restart}", pool, room, target)
        assert not folder.exists(), "the parked events were not all stored"
        missing = result.missing_before_the_end(sent_before_end)
        assert not missing, "the resumed capture asks the server to re-send: nothing may be missing"
        assert result.stored + len(result.missing) == result.sent
        assert not result.unfilled("crash", "restart"), "a gap the re-sent messages filled is not said to be filled"
        if restart == "plain":
            parked, resumed = result.sessions
            assert parked["status"] == "stopped" and "SIGTERM" in parked["status_reason"]
            assert "exited unsealed" in parked["status_reason"] and resumed["status"] == "ended"
        else:
            (session,) = result.sessions
            assert session["status"] == "ended" and result.gaps["restart"] == 1
    finally:
        await asyncio.to_thread(server.stop)
