"""`SpillQueue.park()` keeps the order of arrival: what memory held (and the writer's batch) is read
back before the segments already on disk, and what was held while spilling failed after them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scis.capture.spill import SpillQueue
from scis.evidence.records import EventRecord

START = datetime(2026, 12, 1, tzinfo=UTC)


def chat(number: int) -> EventRecord:
    return EventRecord(kind="chat", captured_at=START + timedelta(milliseconds=number), msg_id=number)


async def read_all(queue: SpillQueue) -> list[int]:
    queue.close()
    order: list[int] = []
    while batch := await queue.get_batch(7):
        order.extend(int(record.msg_id or 0) for record in batch)
        queue.acknowledge()
    return order


async def test_parked_memory_goes_before_the_spilled_segments(tmp_path: Path) -> None:
    folder = tmp_path / "spill" / "session"
    queue = SpillQueue(10, folder)
    for number in range(1, 41):  # 1-10 in memory, 11-40 spilled
        queue.put(chat(number))
    in_flight = await queue.get_batch(4)  # 1-4 in the writer's hands when it is cancelled
    kept, lost = queue.park(in_flight)
    assert (kept, lost) == (40, 0)
    assert sorted(path.name for path in folder.iterdir()) == ["000001-parked.spill", "000001.spill"]
    again = SpillQueue(10, folder)
    assert again.recover() == 40
    assert await read_all(again) == list(range(1, 41))
    assert not folder.exists()


async def test_a_batch_read_from_a_segment_is_not_parked_twice(tmp_path: Path) -> None:
    folder = tmp_path / "spill" / "session"
    queue = SpillQueue(5, folder)
    for number in range(1, 21):  # 1-5 in memory, 6-20 spilled
        queue.put(chat(number))
    assert [r.msg_id for r in await queue.get_batch(5)] == [1, 2, 3, 4, 5]
    queue.acknowledge()
    in_flight = await queue.get_batch(5)  # 6-10, read from the segment, which stays on disk
    queue.put(chat(21))
    queue.park(in_flight)
    again = SpillQueue(5, folder)
    again.recover()
    assert await read_all(again) == list(range(6, 22))
