from __future__ import annotations

import asyncio

import httpx
import pytest

from scis.simulator import SimulatorServer
from scis.webcast.frames import MalformedFrame
from tests.simulator.support import collect, never, open_socket, until_count

TICKER = {
    "users": [{"id": 1, "handle": "ann", "nickname": "Ann"}],
    "interval": 0.02,
    "steps": [{"chat": {"user": "ann", "text": f"message {i}"}} for i in range(60)],
}


async def test_drop_sends_a_close_frame(sim: SimulatorServer) -> None:
    room = sim.add_room("dropper", TICKER)
    sock = await open_socket(sim, "dropper")
    events, _ = await collect(sock, until_count(5))
    room.drop(code=1011, reason="going away")
    _, closed = await collect(sock, never, seconds=2)
    assert closed is not None and closed.clean and closed.code == 1011 and "going away" in closed.reason


async def test_kill_closes_tcp_without_a_close_frame(sim: SimulatorServer) -> None:
    room = sim.add_room("killer", TICKER)
    sock = await open_socket(sim, "killer")
    await collect(sock, until_count(3))
    room.kill()
    _, closed = await collect(sock, never, seconds=2)
    assert closed is not None and not closed.clean and closed.code == 1006


async def test_stall_keeps_the_socket_open_then_catches_up(sim: SimulatorServer) -> None:
    room = sim.add_room("staller", TICKER)
    sock = await open_socket(sim, "staller")
    before, _ = await collect(sock, until_count(3))
    room.stall(0.8)
    in_flight, _ = await collect(sock, never, seconds=0.15)  # frames sent before the stall began
    before += in_flight
    during, closed = await collect(sock, never, seconds=0.4)
    assert during == [] and closed is None
    after, _ = await collect(sock, lambda ev: len(before) + len(ev) >= 60, seconds=3)
    await sock.close()
    assert [e.msg_id for e in before + after] == [m.msg_id for m in room.sent_messages]


async def test_malformed_frame_keeps_the_socket_usable(sim: SimulatorServer) -> None:
    room = sim.add_room("garbler", TICKER)
    sock = await open_socket(sim, "garbler")
    await collect(sock, until_count(2))
    room.stall(0.5)  # no good frame is sent while the two bad ones go out
    await asyncio.sleep(0.05)
    room.malformed()
    with pytest.raises(MalformedFrame) as caught:
        while True:
            await asyncio.wait_for(sock.receive(), 2)
    assert caught.value.raw.startswith(b"\xff\xff\xff\xff")
    room.malformed(kind="gzip")
    with pytest.raises(MalformedFrame, match="gzip"):
        await asyncio.wait_for(sock.receive(), 2)
    more, _ = await collect(sock, until_count(3))
    await sock.close()
    assert len(more) >= 3


async def test_no_streak_end_suppresses_ends(sim: SimulatorServer) -> None:
    room = sim.add_room("streaky", "gift_streaks")
    room.no_streak_end()
    sock = await open_socket(sim, "streaky")
    await asyncio.wait_for(room.finished.wait(), 3)
    events, _ = await collect(sock, lambda ev: len(ev) >= len(room.sent_messages), seconds=2)
    await sock.close()
    gifts = [e for e in events if e.kind == "gift"]
    assert gifts and not any(e.repeat_end and e.gift_type == 1 for e in gifts)
    assert any(e.repeat_end and e.gift_type != 1 for e in gifts)  # a non-streak gift still arrives whole


async def test_scenario_streak_without_end(sim: SimulatorServer) -> None:
    room = sim.add_room("streaky2", "gift_streaks")
    sock = await open_socket(sim, "streaky2")
    await asyncio.wait_for(room.finished.wait(), 3)
    events, _ = await collect(sock, lambda ev: len(ev) >= len(room.sent_messages), seconds=2)
    await sock.close()
    by_group: dict[int | None, list[bool]] = {}
    for event in events:
        if event.gift_type == 1:
            by_group.setdefault(event.group_id, []).append(event.repeat_end)
    assert sorted(any(ends) for ends in by_group.values()) == [False, True, True]


async def test_end_live(sim: SimulatorServer) -> None:
    room = sim.add_room("ender", TICKER)
    sock = await open_socket(sim, "ender")
    await collect(sock, until_count(3))
    room.end()
    events, closed = await collect(sock, never, seconds=2)
    assert events[-1].kind == "control" and events[-1].data["action_name"] == "end"
    assert closed is not None and closed.clean
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        alive = (await http.get("/webcast/room/check_alive/", params={"room_ids": room.room_id})).json()
        info = (await http.get("/webcast/room/info/", params={"room_id": room.room_id})).json()
    assert alive["data"][0]["alive"] is False and info["data"]["status"] == 4


async def test_resume_after_drop_loses_nothing_and_may_duplicate(sim: SimulatorServer) -> None:
    room = sim.add_room("resumer", TICKER, resend_on_resume=2)
    sock = await open_socket(sim, "resumer")
    first, _ = await collect(sock, until_count(10))
    room.drop()
    in_flight, closed = await collect(sock, never, seconds=2)
    assert closed is not None
    first += in_flight
    await asyncio.sleep(0.2)  # the room keeps producing while nobody listens
    resumed = await open_socket(sim, "resumer", cursor=sock.cursor, internal_ext=sock.internal_ext)
    await asyncio.wait_for(room.finished.wait(), 3)
    second, _ = await collect(resumed, lambda ev: bool(ev) and ev[-1].msg_id == room.sent_messages[-1].msg_id)
    await resumed.close()
    seen = [e.msg_id for e in first + second]
    assert set(seen) == {m.msg_id for m in room.sent_messages}
    assert len(seen) - len(set(seen)) == 2  # TikTok re-sends a few: the capture dedupes by msg_id


async def test_pings_are_recorded_and_answered(sim: SimulatorServer) -> None:
    room = sim.add_room("pinger", TICKER)
    sock = await open_socket(sim, "pinger")
    assert sock._ws is not None
    pong = await sock._ws.ping(b"anyone?")
    await collect(sock, lambda _: pong.done(), seconds=10)
    assert pong.done() and not pong.cancelled()
    await sock.close()
    assert room.pings == [b"anyone?"]


async def test_faults_over_the_control_api(sim: SimulatorServer) -> None:
    room = sim.add_room("remote", TICKER)
    sock = await open_socket(sim, "remote")
    await collect(sock, until_count(2))
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        answer = await http.post("/_sim/rooms/remote/fault/drop", params={"code": 4000, "reason": "remote"})
        assert answer.status_code == 200 and answer.json()["handle"] == "remote"
        assert (await http.post("/_sim/rooms/remote/fault/explode")).status_code == 404
        assert (await http.post("/_sim/rooms/remote/fault/stall", json={"seconds": 0.1})).status_code == 200
    _, closed = await collect(sock, never, seconds=2)
    assert closed is not None and closed.code == 4000
    assert room.stats()["connections"] == 1
