"""The simulator misbehaving at 1,000 events/s under a real `scis capture` process: it drops the socket,
stalls (socket open, nothing sent: the capture's watchdog must notice and reconnect), sends corrupt
frames (kept raw as `malformed` evidence) and re-sends already-sent messages after a reconnect
(dropped by msg_id). Every reconnect gap must be closed by a `gap_filled` record: the capture
reconnects from before its last frame, so the re-sent overlap proves nothing was skipped.
Each prints its figures and checks sent = stored + ids named in gap records,
0 duplicates, every chain intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from scis.simulator import SimulatorServer
from scis.simulator.session import MALFORMED_GARBAGE
from tests.capture.support import end_live_while_listening, wait_for
from tests.faults.support import capture_env, events_count, figures, spawn_capture, wait_caught_up, wait_stored

RATE = 1000
AFTER_FAULT = 4000  # records stored after the fault before the live is ended (the room never goes quiet)
WATCHDOG_SECONDS = 5
RESENT = 800
FAULT_PARAMS: dict[str, dict[str, Any]] = {
    "drop": {"code": 1011, "reason": "simulated drop"},
    "stall": {"seconds": 60},  # far longer than the watchdog: only the capture's own timeout ends it
    "malformed": {},
    "resend": {"count": RESENT},
}


@pytest.mark.parametrize("fault", list(FAULT_PARAMS))
async def test_simulator_fault_at_1000_events_per_second(
    sim: SimulatorServer, tmp_path: Any, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any],
    fault: str,
) -> None:  # fmt: skip
    target = f"simfault_{fault}"
    room = sim.add_room(target, rate=RATE, seed=51)
    env = capture_env(sim, tmp_path, postgres_url, redis_url, SCIS_WATCHDOG_SECONDS=str(WATCHDOG_SECONDS))
    process = await spawn_capture("--target", f"@{target}", env=env)
    await wait_stored(pool, target, 1000, seconds=120)
    connections = room.connections
    if fault == "malformed":
        room.fault("malformed", kind="garbage")
        room.fault("malformed", kind="gzip")
    else:
        room.fault(fault, **FAULT_PARAMS[fault])
        await wait_for(lambda: room.connections > connections, seconds=120)  # the capture reconnected
    await wait_stored(pool, target, await events_count(pool, target) + AFTER_FAULT, seconds=300)
    await wait_caught_up(pool, room, target)
    await end_live_while_listening(room)  # the end message comes after everything produced before it
    _, err = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode == 0, err.decode()

    result = await figures(f"simulator {fault} at {RATE} events/s", pool, room, target)
    (session,) = result.sessions
    rows = result.rows[session["id"]]
    summary = rows[-1]["data"]
    print(f"[simulator {fault}] connections {room.connections}, duplicates dropped {summary['duplicates_dropped']}, "
          f"malformed {summary['malformed']}")  # fmt: skip
    assert result.sent >= AFTER_FAULT and session["status"] == "ended"
    assert result.sent == result.stored + result.named_in_gaps, f"{len(result.missing)} sent messages unaccounted for"
    if fault != "malformed":  # the reconnect re-sent the last frame: the overlap proves the gap filled
        assert result.gaps["disconnect"] + result.gaps["stall"] >= 1
        assert not result.unfilled("disconnect", "stall"), f"gaps left open: {result.unfilled('disconnect', 'stall')}"
    if fault == "drop":
        assert result.gaps["disconnect"] >= 1
    elif fault == "stall":
        stalls = [r["data"] for r in rows if r["kind"] == "gap" and r["data"]["reason"] == "stall"]
        assert stalls and f"no frame for {WATCHDOG_SECONDS} s" in stalls[0]["detail"]
    elif fault == "malformed":
        malformed = [r for r in rows if r["kind"] == "malformed"]
        assert len(malformed) == 2 and summary["malformed"] == 2
        assert malformed[0]["raw"] == MALFORMED_GARBAGE and "bad gzip" in malformed[1]["data"]["reason"]
    else:
        assert summary["duplicates_dropped"] >= RESENT // 2, "the re-sent messages were not recognised"
