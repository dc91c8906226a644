from __future__ import annotations

import asyncio
import io
import json

import av
import httpx
import pytest

from scis.simulator import SimulatorServer
from scis.webcast.events import to_event
from scis.webcast.room import fetch_room, room_id_from_page
from tests.simulator.support import collect, never, open_socket


async def test_live_page_carries_the_room_id_both_ways(sim: SimulatorServer) -> None:
    room = sim.add_room("pagey")
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        page = (await http.get("/@pagey/live")).text
    room_id, state = room_id_from_page(page)
    assert room_id == str(room.room_id)
    assert state["LiveRoom"]["liveRoomUserInfo"]["user"]["uniqueId"] == "pagey"
    assert f'content="snssdk1233://live?room_id={room.room_id}"' in page
    assert "binaryType" in page and "im_enter_room" in page


async def test_rooms_can_be_added_and_inspected_over_http(sim: SimulatorServer) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        added = await http.post("/_sim/rooms", json={"handle": "remote_host", "scenario": "every_message"})
        assert added.status_code == 200 and added.json()["sent"] == 0
        sock = await open_socket(sim, "remote_host")
        events, _ = await collect(sock, never, seconds=3)
        sent = (await http.get("/_sim/rooms/remote_host/sent")).json()
        assert [item["msg_id"] for item in sent] == [e.msg_id for e in events]
        assert (await http.get("/_sim/rooms")).json()[0]["handle"] == "remote_host"
        assert (await http.get("/_sim/rooms/nobody")).status_code == 404


async def test_several_hosts_at_once(sim: SimulatorServer) -> None:
    rooms = [sim.add_room(f"host_{i}", "gift_streaks") for i in range(3)]
    sockets = [await open_socket(sim, f"host_{i}") for i in range(3)]
    results = await asyncio.gather(*(collect(s, lambda ev: bool(ev) and ev[-1].body is not None, 3) for s in sockets))
    for sock in sockets:
        await sock.close()
    for room, (events, _) in zip(rooms, results, strict=True):
        assert {e.room_id for e in events} == {str(room.room_id)}
        assert [e.msg_id for e in events] == [m.msg_id for m in room.sent_messages]


async def test_sent_events_normalise_like_received_ones(sim: SimulatorServer) -> None:
    room = sim.add_room("mirror", "every_message")
    sock = await open_socket(sim, "mirror")
    events, _ = await collect(sock, never, seconds=3)
    assert [(e.kind, e.msg_id, e.body) for e in events] == [(e.kind, e.msg_id, e.body) for e in room.sent_events()]
    assert to_event(room.sent_messages[0]).kind == "viewers"
    assert all(json.dumps(e.data) for e in events)  # `data` goes to a jsonb column as is
    times = [e.server_time for e in events]
    assert len(set(times)) == len(times)


async def test_flv_stream_at_the_room_info_url(sim: SimulatorServer) -> None:
    sim.add_room("video_host")
    info = await fetch_room(sim.base_url, sim.base_url, "video_host")
    data = bytearray()
    async with httpx.AsyncClient() as http, http.stream("GET", info.stream_urls["ld"]) as response:
        assert response.headers["content-type"] == "video/x-flv"
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > 4000:
                break
    assert data[:3] == b"FLV"
    with av.open(io.BytesIO(bytes(data)), mode="r", format="flv") as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) >= 2:
                break
    assert frames and frames[0].width == 160


async def test_stream_of_an_unknown_room_is_404(sim: SimulatorServer) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        assert (await http.get("/stage/stream-1_hd.flv")).status_code == 404


@pytest.mark.parametrize("state", ["private", "blocked"])
async def test_fetch_refuses_unavailable_rooms(sim: SimulatorServer, state: str) -> None:
    room = sim.add_room("closed_door", state=state)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        answer = await http.get("/webcast/im/fetch/", params={"room_id": room.room_id})
    assert answer.json()["status_code"] != 0
