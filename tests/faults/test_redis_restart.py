"""Redis restarted while a Socket.IO client follows a live: no silent hole in what the client is told."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import socketio
import uvicorn
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from scis.analyser.fanout import LiveEventFanout
from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.embedded.redis import EmbeddedRedis
from scis.simulator import SimulatorServer
from tests.capture.support import end_live_while_listening, new_capture, stored_events, wait_for


async def test_a_redis_restart_is_told_to_live_feed_clients_as_a_seq_range(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any], tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "redis", free_port(), tmp_path / "redis.log")
    server.start()
    redis = aioredis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 0))
    sio = socketio.AsyncServer(async_mode="asgi")
    fanout = LiveEventFanout(sio, server.url)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="off"))  # fmt: skip
    web_task = asyncio.create_task(web.serve())
    client = socketio.AsyncClient()
    task: asyncio.Task[Any] | None = None
    capture = None
    try:
        await wait_for(lambda: web.started, seconds=10)
        await fanout.start()
        room = sim.add_room("redis_restart", rate=300, seed=8)
        capture = new_capture(sim, "redis_restart", settings, pool, redis)
        events: list[int] = []
        gaps: list[dict[str, Any]] = []
        client.on("events", lambda batch: events.extend(event["seq"] for event in batch))
        client.on("gap", gaps.append)
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        task = asyncio.create_task(capture.run())
        await wait_for(lambda: capture.stats.status == "live", seconds=10)
        assert (await client.call("join", {"session_id": str(capture.session_id)}, timeout=5))["ok"]
        await wait_for(lambda: len(events) > 200, seconds=15)

        await asyncio.to_thread(server.stop)  # every publish fails, the subscriber is gone
        await asyncio.sleep(2.0)
        await asyncio.to_thread(server.start)
        loop = asyncio.get_running_loop()
        back = loop.time()
        await wait_for(lambda: fanout.gap_notices > 0, seconds=30)
        resubscribed_after = loop.time() - back
        received_before = len(events)
        await wait_for(lambda: len(events) > received_before + 200, seconds=15)
        await end_live_while_listening(room)
        await asyncio.wait_for(task, 30)
        stored = [row["seq"] for row in await stored_events(pool, capture.session_id)]
        await wait_for(lambda: bool(events) and events[-1] == stored[-1], seconds=15)  # the seal reached the client

        first_followed = events[0]
        told = set(events)
        for gap in gaps:
            end = gap["to_seq"] if gap["to_seq"] is not None else min((s for s in events if s > gap["from_seq"]),
                                                                      default=stored[-1])  # fmt: skip
            told.update(range(gap["from_seq"], end + 1))
        silent = [seq for seq in stored if seq >= first_followed and seq not in told]
        in_gaps = len(told - set(events))
        print(f"\n[redis restart] stored {len(stored)}, sent to the client {len(events)}, gap notices {len(gaps)} "
              f"covering {in_gaps} seqs, silent holes {len(silent)}, notice {resubscribed_after:.2f} s after Redis "
              f"was back")  # fmt: skip
        assert gaps and not silent
        assert events == sorted(events) and len(events) == len(set(events))
    finally:
        if capture is not None and task is not None and not task.done():  # a failing test leaves nothing running
            await capture.stop("test over")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        await client.disconnect()
        await fanout.stop()
        web.should_exit = True
        await web_task
        await redis.aclose()
        server.stop()
