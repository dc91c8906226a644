from __future__ import annotations

import asyncio

from scis.simulator import SimulatorServer
from scis.webcast.client import SocketClosed, WebcastSocket
from tests.simulator.support import collect, never, open_socket


async def test_socket_receives_a_scenario_in_order_and_is_recorded(sim: SimulatorServer) -> None:
    room = sim.add_room("host_a", "every_message")
    sock = await open_socket(sim, "host_a", heartbeat_seconds=0.1)
    try:
        events, closed = await collect(sock, never, seconds=4)
    finally:
        await sock.close()

    assert [e.msg_id for e in events] == [m.msg_id for m in room.sent_messages]
    assert {e.kind for e in events} >= {
        "chat",
        "gift",
        "like",
        "join",
        "follow",
        "share",
        "viewers",
        "control",
        "pin",
        "emote",
        "unknown",
    }
    assert closed is not None and closed.clean and closed.code == 1000
    (enter,) = room.enter_rooms
    assert (enter.room_id, enter.live_id, enter.identity) == (room.room_id, 12, "audience")
    assert enter.HasField("account_type") and enter.account_type == 0
    assert enter.enter_unique_id > 0 and enter.filter_welcome_msg == "0"
    assert len(room.heartbeats) >= 2 and all(hb.room_id == room.room_id for hb in room.heartbeats)
    assert len(room.acks) == sock.acks_sent > 0
    assert all("seq:" in ack.internal_ext for ack in room.acks)


async def test_unreachable_push_url_raises_socket_closed() -> None:
    sock = WebcastSocket("ws://127.0.0.1:9/webcast/im/push/v2/?room_id=1", 1, open_timeout=1)
    try:
        await sock.connect()
    except SocketClosed as closed:
        assert "could not connect" in closed.reason
    else:
        raise AssertionError("connect() should have failed")


async def test_refused_room_raises_socket_closed(sim: SimulatorServer) -> None:
    sock = WebcastSocket(f"ws://127.0.0.1:{sim.port}/webcast/im/push/v2/?room_id=42", 42, open_timeout=2)
    try:
        await asyncio.wait_for(sock.connect(), 3)
    except SocketClosed:
        pass
    else:
        raise AssertionError("an unknown room should be refused")
