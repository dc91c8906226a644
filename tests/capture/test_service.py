"""CaptureManager, list_events and the API models."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from scis.analyser.captures import CaptureManager, MonitorExists, MonitorNotFound
from scis.analyser.models import CaptureSourceKind, MonitorCreate
from scis.analyser.service import list_events, verify
from scis.capture.sources.base import CaptureSource
from scis.capture.targets import InvalidTarget, parse_target
from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from tests.capture.support import wait_for, websocket_source


@pytest.mark.parametrize(
    ("value", "handle"),
    [
        ("@alice_k", "alice_k"),
        ("bob.builds", "bob.builds"),
        ("https://www.tiktok.com/@carol_/live", "carol_"),
        ("www.tiktok.com/@carol_/live?lang=en", "carol_"),
        ("https://www.tiktok.com/@dave", "dave"),
    ],
)
def test_targets_are_handles_or_live_urls(value: str, handle: str) -> None:
    assert parse_target(value) == handle


@pytest.mark.parametrize("value", ["", "@", "has space", "https://www.tiktok.com/video/123", "@" + "x" * 25, "dot."])
def test_bad_targets_are_refused_naming_the_value(value: str) -> None:
    with pytest.raises(InvalidTarget, match="target="):
        parse_target(value)


def test_monitor_create_names_the_field_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        MonitorCreate(target="not a handle!", case_id=1)
    error = info.value.errors()[0]
    assert error["loc"] == ("target",) and "'not a handle!'" in error["msg"]
    with pytest.raises(ValidationError, match="replay_file"):
        MonitorCreate(target="@x", source=CaptureSourceKind.replay)
    assert MonitorCreate(target="https://www.tiktok.com/@x/live").target == "x"


@pytest.fixture
def manager_for(sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]) -> CaptureManager:
    def factory(monitor_in: MonitorCreate, settings: Settings) -> CaptureSource:
        return websocket_source(sim, monitor_in.target, settings)

    return CaptureManager(pool=pool, settings=settings, source_factory=factory)


async def test_the_manager_runs_lists_and_stops_captures(
    sim: SimulatorServer, manager_for: CaptureManager, pool: AsyncConnectionPool[Any]
) -> None:
    sim.add_room("managed_one", rate=200, seed=1)
    sim.add_room("managed_two", rate=200, seed=2)
    sim.add_room("managed_off", state="offline")
    one = await manager_for.start(MonitorCreate(target="@managed_one"), created_by="alice")
    two = await manager_for.start(MonitorCreate(target="managed_two", case_id=None), created_by="alice")
    off = await manager_for.start(MonitorCreate(target="managed_off"), created_by="alice")
    assert (one.status, two.status, off.status) == ("live", "live", "offline")
    with pytest.raises(MonitorExists):
        await manager_for.start(MonitorCreate(target="@Managed_One"), created_by="bob")
    await wait_for(lambda: manager_for.get(one.session_id).events_total > 50, seconds=10)
    listed = {m.session_id: m for m in manager_for.list()}
    assert set(listed) == {one.session_id, two.session_id, off.session_id}
    assert {m.session_id for m in manager_for.list(active_only=True)} == {one.session_id, two.session_id}
    assert listed[one.session_id].events_by_kind and listed[one.session_id].last_event_at is not None
    # One timer and one lease renewal for every live of the process (decisions 232, 233), not one each.
    names = [task.get_name() for task in asyncio.all_tasks()]
    assert names.count("capture-ticker") == 1 and names.count("capture-leases") == 1, names

    stopped = await manager_for.stop(one.session_id)
    assert stopped.status == "stopped" and stopped.ended_at is not None
    await manager_for.close()
    assert manager_for.get(two.session_id).status == "stopped"
    with pytest.raises(MonitorNotFound):
        manager_for.get(__import__("uuid").uuid4())
    async with pool.connection() as conn:
        result = await verify(conn, one.session_id)
    assert result.intact and result.sealed and result.failure is None


async def test_list_events_pages_and_filters(
    sim: SimulatorServer, manager_for: CaptureManager, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("paged", "every_message")
    monitor = await manager_for.start(MonitorCreate(target="paged"), created_by="alice")
    await wait_for(lambda: manager_for.get(monitor.session_id).status == "ended", seconds=10)
    async with pool.connection() as conn:
        seen, after = [], None
        while True:
            page = await list_events(conn, monitor.session_id, limit=7, after_seq=after)
            seen.extend(page.items)
            if page.next_after_seq is None:
                break
            after = page.next_after_seq
        assert [e.seq for e in seen] == list(range(len(seen))) and seen[-1].kind == "session_end"
        chats = await list_events(conn, monitor.session_id, kinds=["chat"])
        assert [e.body for e in chats.items] == ["hello from Alice", "@alice_k hi!", "bye 👋"]
        alice = room.scenario.users["alice_k"]  # type: ignore[union-attr]
        mine = await list_events(conn, monitor.session_id, user_id=alice.id)
        assert mine.items and {e.user_id for e in mine.items} == {str(alice.id)}
        middle = datetime.fromisoformat(seen[5].captured_at)
        later = await list_events(conn, monitor.session_id, since=middle)
        earlier = await list_events(conn, monitor.session_id, until=middle)
        assert len(later.items) + len(earlier.items) == len(seen)
    await asyncio.sleep(0)
