"""A spill folder that is full or read-only: no crash, the loss is a gap when it happens, the session sealed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, new_capture, session_row, stored_events, stored_msg_ids, wait_for
from tests.support.filesystems import mounted_tmpfs


def gap_msg_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [m for row in rows if row["kind"] == "gap" for m in row["data"].get("msg_ids", [])]


@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
async def test_a_spill_folder_that_refuses_loses_only_what_the_gaps_name(
    sim: SimulatorServer, tmp_path: Path, pool: AsyncConnectionPool[Any], postgres_url: str, read_only: bool
) -> None:
    settings = capture_settings(tmp_path, capture_queue_size=20, capture_batch_size=50)
    room = sim.add_room(f"spillfail{int(read_only)}", rate=500, max_events=1500, seed=5)
    with mounted_tmpfs(tmp_path / "spill", size_kib=48, read_only=read_only):
        capture = new_capture(sim, room.handle, settings, pool)
        task = asyncio.create_task(capture.run())
        await wait_for(lambda: capture.stats.events_total > 0, seconds=10)
        async with await psycopg.AsyncConnection.connect(postgres_url) as blocker:
            # Hold the session row: commits wait, the queue fills, the tiny folder fills or refuses.
            await blocker.execute("SELECT 1 FROM live_sessions WHERE id = %s FOR UPDATE", (capture.session_id,))
            await wait_for(lambda: capture.queue.lost_total > 50, seconds=20)
            assert capture.stats.status == "live"
            await wait_for(lambda: capture.stats.status_reason.startswith("degraded: cannot spill"), seconds=5)
            await blocker.rollback()

        async def loss_stored_while_running() -> bool:
            rows = await stored_events(pool, capture.session_id)
            return any(r["kind"] == "gap" and r["data"]["reason"] == "overflow" for r in rows)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not await loss_stored_while_running():
            assert loop.time() < deadline, "the overflow gap was not stored while the capture ran"
            await asyncio.sleep(0.1)
        assert not task.done()
        await wait_for(lambda: room.finished.is_set(), seconds=20)
        await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
        room.end()
        stats = await asyncio.wait_for(task, 30)

    rows = await stored_events(pool, capture.session_id)
    sent = [str(m.msg_id) for m in room.sent_messages]
    stored = [str(m) for m in stored_msg_ids(rows)]
    lost = gap_msg_ids(rows)
    print(f"\nspill {'read-only' if read_only else 'full'}: sent {len(sent)}, stored {len(stored)}, "
          f"duplicates {len(stored) - len(set(stored))}, lost in gaps {len(lost)}, "
          f"gaps {sum(r['kind'] == 'gap' for r in rows)}, spilled {capture.queue.spilled_total}")  # fmt: skip
    assert len(stored) == len(set(stored)) and not set(stored) & set(lost)
    assert sorted(stored + lost) == sorted(sent) and lost
    assert 0 < stats.lost <= len(lost)  # a gift streak record stands for several message ids
    session = await session_row(pool, capture.session_id)
    assert session["status"] == "ended" and rows[-1]["kind"] == "session_end"
    assert rows[-1]["data"]["lost"] == capture.queue.lost_total > 0
    async with pool.connection() as conn:
        assert (await verify_session(conn, capture.session_id)).intact
