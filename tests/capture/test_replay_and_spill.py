"""Record a capture to a file and replay it; overflow spilled to disk and replayed into the store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from scis.capture.capture_file import RecordType, encode_record, open_capture_file
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.sources.replay import ReplaySource
from scis.capture.spill import SpillQueue
from scis.core.settings import Settings
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import (
    assert_all_sent_stored,
    capture_settings,
    end_live_while_listening,
    new_capture,
    run_until_done,
    session_row,
    stored_events,
    wait_for,
)

FIELDS = ("kind", "msg_id", "user_id", "body", "gift_name", "repeat_count", "inferred", "counts", "raw", "captured_at")


async def test_a_recorded_capture_replays_to_the_same_events(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], tmp_path: Path
) -> None:
    sim.add_room("recorded", "every_message")
    record_file = tmp_path / "recorded.sciscap"
    live = new_capture(sim, "recorded", settings, pool, record_path=record_file)
    await run_until_done(live)
    header, records = open_capture_file(record_file)
    kinds = {record.type for record in records}
    assert header["target"] == "recorded" and RecordType.FRAME in kinds and RecordType.FETCH in kinds

    replay_request = CaptureRequest(target="recorded", source="replay", session_id=uuid.uuid4())
    replay = LiveCapture(replay_request, ReplaySource(record_file), pool=pool, settings=settings)
    await run_until_done(replay)

    def comparable(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [tuple(row[f] for f in FIELDS) for row in rows if row["kind"] not in ("session_start", "session_end")]

    assert comparable(await stored_events(pool, replay.session_id)) == comparable(
        await stored_events(pool, live.session_id)
    )
    session = await session_row(pool, replay.session_id)
    assert session["status"] == "ended" and session["source"] == "replay"
    assert len(session["config"]["source_detail"]["file_sha256"]) == 64


async def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from scis.capture.capture_file import CaptureFileWriter

    path = tmp_path / "torn.sciscap"
    writer = CaptureFileWriter(path, {"target": "x"})
    now = datetime.now(UTC)
    writer.write(RecordType.FRAME, now, b"one")
    writer.write(RecordType.FRAME, now, b"two")
    writer.close()
    with path.open("ab") as handle:
        handle.write(encode_record(RecordType.FRAME, now, b"three")[:-3])
    _, records = open_capture_file(path)
    assert [r.payload for r in records] == [b"one", b"two"]


async def test_the_spill_queue_keeps_order_and_survives_a_restart(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    folder = tmp_path / "spill" / "s"
    queue = SpillQueue(3, folder)
    for index in range(10):
        queue.put(EventRecord(kind="chat", captured_at=now, msg_id=index, raw=bytes([index])))
    assert queue.spilling and queue.spilled_total == 7
    assert queue.spill_bytes() == (folder / "000001.spill").stat().st_size > 0  # what the metrics report
    first = await queue.get_batch(2)
    assert [r.msg_id for r in first] == [0, 1]
    queue.put(EventRecord(kind="chat", captured_at=now, msg_id=10))  # still spilling: goes after 9
    rest = []
    while len(rest) < 9:
        rest.extend(await queue.get_batch(4))
    assert [r.msg_id for r in rest] == list(range(2, 11)) and rest[0].raw == b"\x02"
    assert not queue.spilling and list(folder.iterdir()) == [folder / "000001.spill"]  # kept until committed
    assert queue.spill_bytes() == 0  # drained: nothing left to store
    queue.acknowledge()
    assert not folder.exists()

    crashed = SpillQueue(2, folder)
    for index in range(6):
        crashed.put(EventRecord(kind="chat", captured_at=now, msg_id=100 + index))
    # the process dies here: memory is lost, the spill file stays
    recovered = SpillQueue(2, folder)
    assert recovered.recover() == 4
    assert [p.name for p in folder.iterdir()] == ["000001.spill"]  # read in place, never copied
    recovered.put(EventRecord(kind="chat", captured_at=now, msg_id=106))  # after the recovered ones
    recovered.close()
    got = []
    while batch := await recovered.get_batch(10):
        got.extend(batch)
    assert [r.msg_id for r in got] == [102, 103, 104, 105, 106]
    recovered.acknowledge()
    assert not folder.exists()


async def test_a_slow_database_spills_to_disk_and_nothing_is_lost(
    sim: SimulatorServer, tmp_path: Path, pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    import psycopg

    settings = capture_settings(tmp_path, capture_queue_size=10, capture_batch_size=50)
    room = sim.add_room("slowdb", rate=500, max_events=800, seed=11)
    capture = new_capture(sim, "slowdb", settings, pool)
    task = asyncio.create_task(capture.run())
    try:
        await wait_for(lambda: capture.stats.events_total > 0, seconds=60)
        # Hold the session row: every batch commit now waits, as with an overloaded database.
        async with await psycopg.AsyncConnection.connect(postgres_url) as blocker:
            await blocker.execute("SELECT 1 FROM live_sessions WHERE id = %s FOR UPDATE", (capture.session_id,))
            await wait_for(lambda: capture.queue.spilling and capture.queue.qsize() > 200, seconds=120)
            spill_folder = capture.queue.spill_dir
            assert sum(p.stat().st_size for p in spill_folder.iterdir()) > 0
            await blocker.rollback()
        await wait_for(lambda: room.finished.is_set(), seconds=120)
        await wait_for(lambda: capture.queue.qsize() == 0, seconds=120)
        await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
        sent_before_end = await end_live_while_listening(room)
        await asyncio.wait_for(task, 120)
    finally:
        if not task.done():  # a failure leaves no capture (and its timer) running into the next test
            await capture.stop("test failed")
            await asyncio.wait({task}, timeout=60)
    rows = await stored_events(pool, capture.session_id)
    assert_all_sent_stored(rows, room, sent_before_end)
    # qsize passed 200 while the memory queue holds 10: well over a hundred went through the file.
    assert capture.queue.spilled_total > 150 and capture.stats.spilled == capture.queue.spilled_total
    assert rows[-1]["data"]["spilled"] == capture.queue.spilled_total
    assert not spill_folder.exists()
    async with pool.connection() as conn:
        assert (await verify_session(conn, capture.session_id)).intact
