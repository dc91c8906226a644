"""One owner per capture (leases in PostgreSQL) and abandoned sessions adopted, never left live."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from scis.capture.adoption import reap
from scis.capture.leases import CaptureBusy
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.spill import SpillQueue, session_spill_dir
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, start_session
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import (
    assert_all_sent_stored,
    end_live_while_listening,
    new_capture,
    session_row,
    stored_events,
    wait_for,
    websocket_source,
)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def leave_abandoned(
    pool: AsyncConnectionPool[Any], settings: Settings, target: str, *, host: str | None = None,
    expires_in: float = 30.0, stored: int = 5, spilled: int = 4, session_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, list[int]]:  # fmt: skip
    """What a capture killed with -9 leaves: an unsealed live session, its lease, its spill folder."""
    import socket

    session_id = session_id or uuid.uuid4()
    start = datetime.now(UTC) - timedelta(seconds=60)
    base = 9_000_000_000 + int(uuid.uuid4().int % 1_000_000) * 100
    async with pool.connection() as conn, conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target=target, source="websocket", case_id=None, config={},
            started_at=start, status=SessionStatus.LIVE,
        )  # fmt: skip
        records = [EventRecord(kind="chat", captured_at=start + timedelta(seconds=i), msg_id=base + i, body=f"m{i}")
                   for i in range(stored)]  # fmt: skip
        await append_records(conn, session_id, tail, records)
        await conn.execute(
            """INSERT INTO capture_leases (target, session_id, owner, holder, host, pid, acquired_at, expires_at)
               VALUES (%s, %s, 'killed', 'scis capture', %s, %s, %s, now() + make_interval(secs => %s))""",
            (target.lower(), session_id, host or socket.gethostname(), dead_pid(), start, expires_in),
        )
    queue = SpillQueue(1, session_spill_dir(settings.home, session_id))
    for i in range(stored, stored + spilled + 1):  # the first stays in memory and dies with the process
        queue.put(EventRecord(kind="chat", captured_at=start + timedelta(seconds=i), msg_id=base + i, body=f"m{i}"))
    return session_id, [base + i for i in range(stored)] + [base + i for i in range(stored + 1, stored + spilled + 1)]


async def test_a_second_capture_of_a_target_is_refused_naming_the_first(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("owned", rate=50, seed=2)
    first = new_capture(sim, "owned", settings, pool)
    task = asyncio.create_task(first.run())
    await wait_for(lambda: first.stats.status == "live", seconds=10)
    second = new_capture(sim, "Owned", settings, pool)  # handles are case-insensitive
    with pytest.raises(CaptureBusy) as refused:
        await second.run()
    message = str(refused.value)
    assert f"session {first.session_id}" in message and "scis capture (pid" in message and "since" in message
    same_session = LiveCapture(
        CaptureRequest(target="owned", source="websocket", session_id=first.session_id),
        websocket_source(sim, "owned", settings), pool=pool, settings=settings,
    )  # fmt: skip
    with pytest.raises(CaptureBusy):
        await same_session.run()
    other_target_same_session = LiveCapture(
        CaptureRequest(target="someone_else", source="websocket", session_id=first.session_id),
        websocket_source(sim, "someone_else", settings), pool=pool, settings=settings,
    )  # fmt: skip
    with pytest.raises(CaptureBusy) as by_session:
        await other_target_same_session.run()
    assert f"session {first.session_id} is already being captured" in str(by_session.value)
    await first.stop()
    await asyncio.wait_for(task, 15)
    assert (await session_row(pool, first.session_id))["status"] == "stopped"
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM capture_leases WHERE target = 'owned'")
        assert (await cur.fetchone())["n"] == 0, "the lease is given back once the session is sealed"
    third = new_capture(sim, "owned", settings, pool)  # free again
    stop_soon = asyncio.get_running_loop().call_later(1.0, lambda: asyncio.ensure_future(third.stop()))
    await asyncio.wait_for(third.run(), 15)
    stop_soon.cancel()
    room.end()
    assert third.stats.status == "stopped"


async def test_the_reaper_replays_the_spill_records_a_crash_gap_and_seals(
    settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    session_id, kept = await leave_abandoned(pool, settings, "reaped")
    adopted = await reap(pool, settings, by="test reaper")
    assert session_id in {a.session_id for a in adopted}
    rows = await stored_events(pool, session_id)
    assert [r["msg_id"] for r in rows if r["kind"] == "chat"] == kept  # the memory one is gone, the spilled not
    memory_gap, gap, end = rows[-3], rows[-2], rows[-1]
    chats = [r for r in rows if r["kind"] == "chat"]
    # The event the dead process held only in memory lies between its last committed and first spilled one.
    assert memory_gap["kind"] == "gap" and memory_gap["data"]["reason"] == "crash"
    assert moment(memory_gap["data"]["from"]) == chats[4]["captured_at"]
    assert moment(memory_gap["data"]["to"]) == chats[5]["captured_at"]
    assert gap["kind"] == "gap" and gap["data"]["reason"] == "crash" and gap["data"]["replayed_from_spill"] == 4
    assert moment(gap["data"]["from"]) == chats[-1]["captured_at"]  # from the last event stored, replayed ones too
    assert end["kind"] == "session_end" and "abandoned" in end["data"]["reason"]
    session = await session_row(pool, session_id)
    assert session["status"] == "failed" and session["ended_at"] is not None
    assert not session_spill_dir(settings.home, session_id).exists()
    async with pool.connection() as conn:
        assert (await verify_session(conn, session_id)).intact
        cur = await conn.execute("SELECT count(*) AS n FROM capture_leases WHERE session_id = %s", (session_id,))
        assert (await cur.fetchone())["n"] == 0
    assert session_id not in {a.session_id for a in await reap(pool, settings, by="test reaper")}


async def test_a_lease_held_on_another_host_is_respected_until_it_expires(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    session_id, _ = await leave_abandoned(pool, settings, "elsewhere", host="pod-elsewhere-0", expires_in=30)
    assert session_id not in {a.session_id for a in await reap(pool, settings, by="test reaper")}
    with pytest.raises(CaptureBusy) as refused:
        await new_capture(sim, "elsewhere", settings, pool).run()
    assert "on pod-elsewhere-0" in str(refused.value)
    async with pool.connection() as conn:
        await conn.execute("UPDATE capture_leases SET expires_at = now() - interval '1 second' WHERE session_id = %s",
                           (session_id,))  # fmt: skip
    assert session_id in {a.session_id for a in await reap(pool, settings, by="test reaper")}


async def test_a_new_capture_of_the_target_adopts_the_abandoned_session(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    old_session, kept = await leave_abandoned(pool, settings, "restarted")
    room = sim.add_room("restarted", rate=100, max_events=50, seed=4)
    capture = new_capture(sim, "restarted", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: room.finished.is_set(), seconds=15)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    sent_before_end = await end_live_while_listening(room)
    await asyncio.wait_for(task, 15)
    assert_all_sent_stored(await stored_events(pool, capture.session_id), room, sent_before_end)
    old = await session_row(pool, old_session)
    assert old["status"] == "failed" and "sealed by scis capture" in old["status_reason"]
    assert "stopped renewing its lease" in old["status_reason"]  # the dead holder is named
    rows = await stored_events(pool, old_session)
    assert [r["msg_id"] for r in rows if r["kind"] == "chat"] == kept and rows[-2]["data"]["reason"] == "crash"
    assert [r["data"]["reason"] for r in rows if r["kind"] == "gap"] == ["crash", "crash"]


async def test_resuming_the_session_replays_its_spill_before_the_restart_gap(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], tmp_path: Path
) -> None:
    session_id, kept = await leave_abandoned(pool, settings, "resumed")
    room = sim.add_room("resumed", rate=100, max_events=30, seed=6)
    resumed = LiveCapture(
        CaptureRequest(target="resumed", source="websocket", session_id=session_id),
        websocket_source(sim, "resumed", settings), pool=pool, settings=settings,
    )  # fmt: skip
    task = asyncio.create_task(resumed.run())
    await wait_for(lambda: room.finished.is_set(), seconds=15)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    await end_live_while_listening(room)
    await asyncio.wait_for(task, 15)
    rows = await stored_events(pool, session_id)
    kinds = [r["kind"] for r in rows]
    memory_gap = kinds.index("gap")
    assert rows[memory_gap]["data"]["reason"] == "crash" and kinds[memory_gap + 1] == "gap"
    restart = memory_gap + 1
    assert [r["msg_id"] for r in rows[:restart] if r["kind"] == "chat"] == kept
    assert rows[restart]["data"]["reason"] == "restart"
    assert moment(rows[restart]["data"]["from"]) == rows[memory_gap - 1]["captured_at"]
    assert (await session_row(pool, session_id))["status"] == "ended"
    async with pool.connection() as conn:
        assert (await verify_session(conn, session_id)).intact


async def test_one_heartbeat_renews_every_lease_of_the_process_and_tells_the_one_taken_over(
    pool: AsyncConnectionPool[Any],
) -> None:
    """The leases of all the lives of a process are renewed in one statement (decision 233); a lease
    that someone else now holds is reported to its capture alone, and the others keep being renewed."""
    from scis.capture.leases import Heartbeat, LeaseHolder, acquire

    holders = {f"beat_{index}_{uuid.uuid4().hex[:6]}": LeaseHolder.here("test") for index in range(3)}
    async with pool.connection() as conn:
        for target, me in holders.items():
            await acquire(conn, target=target, session_id=uuid.uuid4(), me=me, seconds=3)
    lost: list[str] = []
    heartbeat = Heartbeat(pool, seconds=3)  # renews every second
    taken, *kept = holders
    for target, me in holders.items():

        async def on_lost(target: str = target) -> None:
            lost.append(target)

        heartbeat.hold(target, me, on_lost)
    async with pool.connection() as conn:
        await conn.execute("UPDATE capture_leases SET owner = 'someone else' WHERE target = %s", (taken,))
    try:
        await wait_for(lambda: lost == [taken], 30)
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT renewed_at FROM capture_leases WHERE target = ANY(%s)", (kept,))
            before = [row["renewed_at"] for row in await cur.fetchall()]
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # renewed again, though one lease of the group was lost
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT renewed_at FROM capture_leases WHERE target = ANY(%s)", (kept,))
                after = [row["renewed_at"] for row in await cur.fetchall()]
            if all(b > a for a, b in zip(sorted(before), sorted(after), strict=True)):
                break
            assert asyncio.get_running_loop().time() < deadline, "the kept leases were not renewed"
            await asyncio.sleep(0.2)
        assert len(after) == 2
        assert lost == [taken]
    finally:
        for target, me in holders.items():
            heartbeat.let_go(target, me)
        await heartbeat.stop()
