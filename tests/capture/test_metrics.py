"""The capture path's Prometheus metrics count what a real capture stored, no more, no less."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY
from psycopg_pool import AsyncConnectionPool

from scis.core.settings import Settings
from scis.evidence.records import CHAIN_KINDS
from scis.simulator import SimulatorServer
from tests.capture.support import new_capture, stored_events, wait_for

COUNTED = (
    ("scis_capture_frames_total", {"outcome": "malformed"}),
    ("scis_capture_gaps_total", {"reason": "disconnect"}),
    ("scis_capture_reconnects_total", {}),
    ("scis_capture_write_seconds_count", {}),
    ("scis_capture_sessions_ended_total", {"status": "ended"}),
)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def events_total() -> float:
    return sum(
        s.value for m in REGISTRY.collect() if m.name == "scis_capture_events" for s in m.samples
        if s.name == "scis_capture_events_total"
    )  # fmt: skip


async def test_a_capture_is_counted_in_the_metrics(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    before = {name: sample(name, labels) for name, labels in COUNTED}
    events_before = events_total()
    room = sim.add_room("metered", rate=200, max_events=400, seed=11)
    capture = new_capture(sim, "metered", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: len(room.sent_messages) >= 100, seconds=10)
    # While it runs, its per-live gauges exist; they carry the target, never a user.
    assert sample("scis_capture_queue_depth", {"target": "metered"}) >= 0
    assert REGISTRY.get_sample_value("scis_capture_last_event_timestamp_seconds", {"target": "metered"}) is not None
    assert sample("scis_capture_lives") >= 1
    room.fault("malformed", kind="garbage")
    await asyncio.sleep(0.2)
    room.fault("drop")
    await wait_for(lambda: room.finished.is_set(), seconds=20)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    room.end()
    await asyncio.wait_for(task, 20)

    rows = await stored_events(pool, capture.session_id)
    stored_tiktok = sum(1 for row in rows if row["kind"] not in CHAIN_KINDS)
    assert events_total() - events_before == stored_tiktok == capture.stats.events_total
    after = {name: sample(name, labels) for name, labels in COUNTED}
    assert after["scis_capture_frames_total"] - before["scis_capture_frames_total"] == 1
    gaps = sum(1 for row in rows if row["kind"] == "gap" and row["data"]["reason"] == "disconnect")
    assert after["scis_capture_gaps_total"] - before["scis_capture_gaps_total"] == gaps >= 1
    assert after["scis_capture_reconnects_total"] - before["scis_capture_reconnects_total"] == capture.stats.reconnects
    assert after["scis_capture_write_seconds_count"] > before["scis_capture_write_seconds_count"]
    assert after["scis_capture_sessions_ended_total"] - before["scis_capture_sessions_ended_total"] == 1
    # Once it ended, its per-live series are gone (bounded cardinality).
    assert REGISTRY.get_sample_value("scis_capture_queue_depth", {"target": "metered"}) is None
