"""PostgreSQL stopped for 30 s under a live at 500 events/s: the queue spills, then everything is stored once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, end_live_while_listening, new_capture, opened_pool, wait_for
from tests.faults.support import figures

OUTAGE_SECONDS = 30.0


async def wait_until_quiet(capture: Any, seconds: float) -> None:
    """On a busy machine the socket reader can be seconds behind the simulator: wait until the
    capture has stored no new event for 3 s with an empty queue (the backlog is read and stored).

    Events, not chain records: with the host quiet the watchdog keeps finding the socket silent and
    records a `stall` gap every couple of seconds, so the record count never stands still."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    last, since = -1, loop.time()
    while loop.time() < deadline:
        if capture.stats.events_total != last or capture.queue.qsize():
            last, since = capture.stats.events_total, loop.time()
        elif loop.time() - since >= 3.0:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the capture did not catch up with the live")


async def test_postgresql_stopped_30_s_at_500_events_per_second(sim: SimulatorServer, tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), tmp_path / "postgres.log")
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(server.migrate)  # as the owner; the capture below runs as scis_app
        settings = capture_settings(tmp_path, capture_queue_size=1000, capture_batch_size=500)
        async with opened_pool(server.url) as pool:
            room = sim.add_room("pg_outage", rate=500, seed=30)
            capture = new_capture(sim, "pg_outage", settings, pool)
            task = asyncio.create_task(capture.run())
            try:
                await wait_for(lambda: capture.stats.events_total >= 500, seconds=30)
                await asyncio.to_thread(server.stop)
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(server.start)
                loop = asyncio.get_running_loop()
                back, stored_before = loop.time(), capture.stats.records_total
                await wait_for(lambda: capture.stats.records_total > stored_before, seconds=60)
                storing_again = loop.time() - back
                await wait_for(lambda: capture.queue.qsize() < 500, seconds=120)
                caught_up = loop.time() - back
                room.go_quiet()  # the capture reads what is left
                await wait_for(lambda: room.finished.is_set(), seconds=10)
                await wait_until_quiet(capture, seconds=600)
                sent_before_end = await end_live_while_listening(room)
                await asyncio.wait_for(task, 60)
            finally:
                if not task.done():  # a failing test leaves nothing running
                    await capture.stop("test over")
            result = await figures("PostgreSQL stopped 30 s at 500 events/s", pool, room, "pg_outage")
            print(f"[PostgreSQL stopped 30 s] spilled {capture.queue.spilled_total}, store retries "
                  f"{capture.stats.store_retries}, storing again {storing_again:.1f} s and "
                  f"caught up {caught_up:.1f} s after PostgreSQL was back")  # fmt: skip
            assert capture.queue.spilled_total > 5000 and capture.queue.lost_total == 0
            assert storing_again < 10, "the writer waited for the pool's reconnect backoff"
            assert not result.missing_before_the_end(sent_before_end) and result.sessions[0]["status"] == "ended"
    finally:
        await asyncio.to_thread(server.stop)
