"""Socket.IO fan-out: a browser following one live gets every event of it, in order, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import socketio
import uvicorn
from psycopg_pool import AsyncConnectionPool

from scis.analyser.fanout import LiveEventFanout
from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.simulator import SimulatorServer
from tests.capture.support import new_capture, stored_events, wait_for


@pytest.fixture
async def fanout_url(redis_url: str) -> AsyncIterator[str]:
    sio = socketio.AsyncServer(async_mode="asgi")
    fanout = LiveEventFanout(sio, redis_url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, seconds=10)
    await fanout.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await fanout.stop()
        server.should_exit = True
        await task


async def follow(url: str, session_id: str) -> tuple[socketio.AsyncClient, list[dict[str, Any]]]:
    client = socketio.AsyncClient()
    received: list[dict[str, Any]] = []
    client.on("events", received.extend)
    await client.connect(url, transports=["websocket"])
    answer = await client.call("join", {"session_id": session_id}, timeout=5)
    assert answer == {"ok": True, "room": f"live:{session_id}"}
    return client, received


async def test_each_client_gets_every_event_of_its_live_in_order_and_none_of_another(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], redis_client: aioredis.Redis,
    fanout_url: str,
) -> None:  # fmt: skip
    sim.add_room("live_one", rate=300, max_events=300, seed=1)
    sim.add_room("live_two", rate=300, max_events=300, seed=2)
    one = new_capture(sim, "live_one", settings, pool, redis_client)
    two = new_capture(sim, "live_two", settings, pool, redis_client)
    client_one, got_one = await follow(fanout_url, str(one.session_id))
    client_two, got_two = await follow(fanout_url, str(two.session_id))
    bad = await client_two.call("join", {"session_id": "not-a-uuid"}, timeout=5)
    assert bad["ok"] is False
    tasks = [asyncio.create_task(one.run()), asyncio.create_task(two.run())]
    await wait_for(lambda: sim.room("live_one").finished.is_set() and sim.room("live_two").finished.is_set(), 10)
    await asyncio.sleep(settings.streak_timeout_seconds + 0.5)
    sim.room("live_one").end()
    sim.room("live_two").end()
    await asyncio.wait_for(asyncio.gather(*tasks), 15)
    for capture, got in ((one, got_one), (two, got_two)):
        rows = await stored_events(pool, capture.session_id)
        await wait_for(lambda got=got, rows=rows: len(got) >= len(rows), seconds=5)  # type: ignore[misc]
        assert [e["seq"] for e in got] == [row["seq"] for row in rows]
        assert {e["session_id"] for e in got} == {str(capture.session_id)}
        assert [e["chain_hash"] for e in got] == [row["chain_hash"] for row in rows]
        assert got[-1]["kind"] == "session_end"
    chats = [e for e in got_one if e["kind"] == "chat"]
    assert chats and isinstance(chats[0]["msg_id"], str) and isinstance(chats[0]["user_id"], str)
    await client_one.disconnect()
    await client_two.disconnect()


async def test_a_capture_announces_its_statuses_on_scis_lives(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], redis_client: aioredis.Redis
) -> None:
    import json

    sim.add_room("announcer", "every_message")
    pubsub = redis_client.pubsub()
    await pubsub.subscribe("scis:lives")
    capture = new_capture(sim, "announcer", settings, pool, redis_client)
    await asyncio.wait_for(capture.run(), 15)
    statuses = []
    deadline = asyncio.get_running_loop().time() + 2
    while len(statuses) < 2 and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None and json.loads(message["data"])["session_id"] == str(capture.session_id):
            statuses.append(json.loads(message["data"])["status"])
    await pubsub.aclose()
    assert statuses == ["live", "ended"]


async def test_one_commit_reaches_a_client_as_one_message(redis_client: aioredis.Redis, fanout_url: str) -> None:
    """Decision 230: the fan-out relays the writer's array of one commit as one Socket.IO message."""
    import json
    import uuid

    from scis.core.bus import LIVE_EVENTS

    session_id = str(uuid.uuid4())
    client = socketio.AsyncClient()
    messages: list[list[dict[str, Any]]] = []
    client.on("events", messages.append)
    await client.connect(fanout_url, transports=["websocket"])
    assert (await client.call("join", {"session_id": session_id}, timeout=5))["ok"]
    commit = [{"session_id": session_id, "seq": seq, "kind": "chat"} for seq in range(5, 8)]
    await redis_client.publish(LIVE_EVENTS.name(session_id), json.dumps(commit))
    await redis_client.publish(LIVE_EVENTS.name(session_id), json.dumps({**commit[-1], "seq": 8}))
    await wait_for(lambda: len(messages) >= 2, seconds=10)
    assert messages == [commit, [{**commit[-1], "seq": 8}]]
    await client.disconnect()


async def test_a_commit_message_is_relayed_as_its_events_text_and_a_skipped_range_as_a_gap(
    redis_client: aioredis.Redis, fanout_url: str
) -> None:
    """Decision 240: the writer's message (seq range first, then the events) is relayed without being
    parsed; a commit that does not follow the previous one is announced as a gap before it."""
    import json
    import uuid

    from scis.core.bus import LIVE_EVENTS

    session_id = str(uuid.uuid4())
    client = socketio.AsyncClient()
    messages: list[list[dict[str, Any]]] = []
    gaps: list[dict[str, Any]] = []
    client.on("events", messages.append)
    client.on("gap", gaps.append)
    await client.connect(fanout_url, transports=["websocket"])
    assert (await client.call("join", {"session_id": session_id}, timeout=5))["ok"]

    def commit(seqs: range, ended: bool = False) -> tuple[str, list[dict[str, Any]]]:
        events = [{"session_id": session_id, "seq": seq, "kind": "chat", "body": 'a "quoted" ]} text'} for seq in seqs]
        text = json.dumps(events, separators=(",", ":"))
        header = f'{{"from_seq":{seqs[0]},"to_seq":{seqs[-1]},"ended":{"true" if ended else "false"},"events":'
        return header + text + "}", events

    first, first_events = commit(range(5, 8))
    later, later_events = commit(range(10, 12), ended=True)
    await redis_client.publish(LIVE_EVENTS.name(session_id), first)
    await redis_client.publish(LIVE_EVENTS.name(session_id), later)
    await wait_for(lambda: len(messages) >= 2, seconds=10)
    assert messages == [first_events, later_events]
    assert [(g["from_seq"], g["to_seq"]) for g in gaps] == [(8, 9)]
    await client.disconnect()
