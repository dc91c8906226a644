"""Captures of simulated lives through TikTok's push socket, stored in a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from psycopg_pool import AsyncConnectionPool

from scis.core.settings import Settings
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from scis.webcast.events import WebcastEvent
from tests.capture.support import (
    assert_all_sent_stored,
    capture_settings,
    end_live_while_listening,
    new_capture,
    run_until_done,
    session_row,
    stored_events,
    stored_msg_ids,
    wait_for,
    websocket_source,
)

COMPARED = (
    "kind", "method", "room_id", "user_id", "unique_id", "nickname", "body", "gift_id", "gift_name",
    "diamond_count", "repeat_count", "counts", "server_time",
)  # fmt: skip


def _expected(event: WebcastEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in COMPARED}


async def test_every_message_type_round_trips_with_equal_fields(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("every_type", "every_message")
    capture = new_capture(sim, "every_type", settings, pool)
    await run_until_done(capture)

    rows = await stored_events(pool, capture.session_id)
    by_msg_id = {row["msg_id"]: row for row in rows if row["msg_id"] is not None}
    sent = room.sent_events()
    streak_frames = {int(m) for row in rows for m in (row["data"].get("streak") or {}).get("msg_ids", [])}
    kinds_seen = set()
    for message, event in zip(room.sent_messages, sent, strict=True):
        if event.msg_id not in by_msg_id:
            assert event.msg_id in streak_frames, f"{event.kind} {event.msg_id} was not stored"
            continue
        row = by_msg_id[event.msg_id]
        assert {name: row[name] for name in COMPARED} == _expected(event), event.kind
        assert row["raw"] == message.SerializeToString()
        for key, value in event.data.items():
            assert row["data"][key] == value, (event.kind, key)
        kinds_seen.add(row["kind"])
    assert kinds_seen >= {
        "chat", "gift", "like", "join", "follow", "share", "viewers", "control", "pin", "emote", "unknown"
    }  # fmt: skip
    assert rows[0]["kind"] == "session_start" and rows[-1]["kind"] == "session_end"
    assert [row["seq"] for row in rows] == list(range(len(rows)))
    session = await session_row(pool, capture.session_id)
    assert session["status"] == "ended" and "ended the LIVE" in session["status_reason"]
    assert session["events_count"] == len(rows) and session["chain_head"] == rows[-1]["chain_hash"]
    assert session["room_id"] == str(room.room_id)
    async with pool.connection() as conn:
        assert (await verify_session(conn, capture.session_id)).intact


async def test_totals_are_stored_as_tiktok_gives_them(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    sim.add_room("totals", "every_message")
    capture = new_capture(sim, "totals", settings, pool)
    await run_until_done(capture)
    rows = await stored_events(pool, capture.session_id)
    likes = [row["counts"] for row in rows if row["kind"] == "like"]
    assert likes == [{"count": 5, "total": 105}, {"count": 10, "total": 115}]
    viewers = [row["counts"]["viewer_count"] for row in rows if row["kind"] == "viewers"]
    assert viewers == [12, 15]
    assert capture.stats.viewers == 15 and capture.stats.likes_total == 115


async def test_a_gift_streak_is_one_event_with_its_final_count(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("streaks", "gift_streaks")
    capture = new_capture(sim, "streaks", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: room.finished.is_set(), seconds=5)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.6)  # the open streak times out
    room.end()
    await asyncio.wait_for(task, 10)

    gifts = [row for row in await stored_events(pool, capture.session_id) if row["kind"] == "gift"]
    summary = sorted((row["gift_name"], row["repeat_count"], row["inferred"]) for row in gifts)
    assert summary == [("Corgi", 1, False), ("Finger Heart", 2, False), ("Rose", 5, False), ("TikTok", 3, True)]
    rose = next(row for row in gifts if row["gift_name"] == "Rose")
    assert rose["data"]["streak"]["frames"] == 6 and rose["data"]["streak"]["closed_by"] == "repeat_end"
    tiktok = next(row for row in gifts if row["gift_name"] == "TikTok")
    assert tiktok["data"]["streak"]["closed_by"] == "timeout"


async def test_a_streak_open_at_live_end_is_closed_as_inferred(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("streak_end", "gift_streaks")
    long_timeout = capture_settings(settings.home, streak_timeout_seconds=60)
    capture = new_capture(sim, "streak_end", long_timeout, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: room.finished.is_set(), seconds=5)
    await asyncio.sleep(0.2)
    room.end()
    await asyncio.wait_for(task, 10)
    rows = await stored_events(pool, capture.session_id)
    tiktok = [row for row in rows if row["gift_name"] == "TikTok"]
    assert len(tiktok) == 1 and tiktok[0]["inferred"] and tiktok[0]["repeat_count"] == 3
    assert tiktok[0]["data"]["streak"]["closed_by"] == "live_end"
    assert rows[-1]["kind"] == "session_end"


async def _capture_with_fault(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], handle: str, fault: str,
    **params: Any,
) -> tuple[list[dict[str, Any]], Any]:  # fmt: skip
    room = sim.add_room(handle, rate=400, max_events=600, seed=7)
    capture = new_capture(sim, handle, settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: len(room.sent_messages) >= 200, seconds=5)
    room.fault(fault, **params)
    await wait_for(lambda: room.finished.is_set(), seconds=10)
    await wait_for(lambda: capture.stats.reconnects >= 1, seconds=10)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    sent_before_end = await end_live_while_listening(room)
    await asyncio.wait_for(task, 15)
    rows = await stored_events(pool, capture.session_id)
    assert_all_sent_stored(rows, room, sent_before_end)
    return rows, room


async def test_a_dropped_socket_loses_and_duplicates_nothing(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    rows, room = await _capture_with_fault(sim, settings, pool, "dropper", "drop")
    gaps = [row for row in rows if row["kind"] == "gap" and not row["data"].get("live_ended")]
    assert len(gaps) == 1 and gaps[0]["data"]["reason"] == "disconnect"
    assert gaps[0]["data"]["from"] <= gaps[0]["data"]["to"]
    assert room.connections >= 2


async def test_a_silently_dead_socket_is_noticed_and_its_gap_recorded(
    sim: SimulatorServer, tmp_path: Any, pool: AsyncConnectionPool[Any]
) -> None:
    settings = capture_settings(tmp_path, watchdog_seconds=0.8)
    rows, _ = await _capture_with_fault(sim, settings, pool, "silent", "stall", seconds=30)
    gaps = [row for row in rows if row["kind"] == "gap"]
    # The room goes quiet once its events are all sent: that silence is (rightly) a stall too.
    assert gaps and {gap["data"]["reason"] for gap in gaps} == {"stall"}
    assert "no frame for 0.8 s" in gaps[0]["data"]["detail"]


async def test_a_connection_lost_without_close_frame_is_a_gap(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    rows, _ = await _capture_with_fault(sim, settings, pool, "killed", "kill")
    gaps = [row for row in rows if row["kind"] == "gap" and not row["data"].get("live_ended")]
    assert len(gaps) == 1 and gaps[0]["data"]["reason"] == "disconnect"


async def test_a_malformed_frame_is_kept_raw_and_capture_goes_on(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("garbled", rate=200, max_events=200, seed=3)
    capture = new_capture(sim, "garbled", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: len(room.sent_messages) >= 50, seconds=5)
    room.fault("malformed", kind="garbage")
    await asyncio.sleep(0.1)
    room.fault("malformed", kind="gzip")
    await wait_for(lambda: room.finished.is_set(), seconds=10)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    room.end()
    await asyncio.wait_for(task, 10)
    rows = await stored_events(pool, capture.session_id)
    malformed = [row for row in rows if row["kind"] == "malformed"]
    assert len(malformed) == 2 and capture.stats.malformed == 2
    assert malformed[0]["raw"] == b"\xff\xff\xff\xff\x0fnot a push frame"
    assert "bad gzip" in malformed[1]["data"]["reason"]
    assert sorted(stored_msg_ids(rows)) == sorted(m.msg_id for m in room.sent_messages)
    async with pool.connection() as conn:
        assert (await verify_session(conn, capture.session_id)).intact


async def test_statuses_for_offline_unknown_private_and_blocked(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    sim.add_room("sleeping", state="offline")
    sim.add_room("secret", state="private")
    sim.add_room("faraway", state="blocked")
    expected = {"sleeping": "offline", "nobody_here": "not_found", "secret": "private", "faraway": "blocked"}
    for handle, status in expected.items():
        capture = new_capture(sim, handle, settings, pool)
        await run_until_done(capture)
        session = await session_row(pool, capture.session_id)
        assert (session["status"], capture.stats.status) == (status, status), handle
        assert f"@{handle}" in session["status_reason"]
        rows = await stored_events(pool, capture.session_id)
        assert [row["kind"] for row in rows] == ["session_start", "session_end"]
        assert rows[-1]["data"]["status"] == status


async def test_stop_flushes_and_seals(sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]) -> None:
    room = sim.add_room("stopper", rate=300, seed=5)
    capture = new_capture(sim, "stopper", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: capture.stats.events_total >= 100, seconds=5)
    await capture.stop("stopped by the test")
    await asyncio.wait_for(task, 10)
    session = await session_row(pool, capture.session_id)
    assert (session["status"], session["status_reason"]) == ("stopped", "stopped by the test")
    rows = await stored_events(pool, capture.session_id)
    assert rows[-1]["kind"] == "session_end"
    counted = Counter(row["kind"] for row in rows)
    assert counted["session_end"] == 1 and sum(counted.values()) == session["events_count"]
    await room.stop()


async def test_a_stop_while_the_socket_connects_ends_the_source(sim: SimulatorServer, settings: Settings) -> None:
    """stop() during the handshake finds no open socket to close: the source must still end, not read on
    (an analyser's DELETE right after a monitor turned live waited for ever)."""
    room = sim.add_room("stopped_connecting", rate=50, seed=8)
    source = websocket_source(sim, "stopped_connecting", settings)
    await source.open()
    items = source.items()
    await anext(items)  # the first fetch; the next step opens the socket
    reading = asyncio.create_task(anext(items, None))
    await wait_for(lambda: source._socket is not None, seconds=30, interval=0)
    assert source._socket is not None and source._socket._ws is None, "the handshake is still under way"
    await source.stop()
    assert await asyncio.wait_for(reading, 30) is None, "the source went on reading after stop()"
    await room.stop()
