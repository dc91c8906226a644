"""Socket.IO fan-out of live events: one Redis subscription, one Socket.IO room per live session.

Browsers connect, emit `join` with `{"session_id": "..."}` and receive every stored event of that
live as `event` messages, in seq order, and none of another live. Events come from the bus
channel family `scis.core.bus.LIVE_EVENTS` (`scis:live:{session_id}:events`, payload:
docs/events.md), which the capture writer publishes after each commit. A client that joins late
reads what it missed from the events API (`after_seq`), then follows the room; `seq` tells it where
it is.

Mounting (analyser service)::

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    fanout = LiveEventFanout(sio, redis_url, authenticate=..., authorize=...)
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path=""))   # or wrap the FastAPI app
    # on startup: await fanout.start(); on shutdown: await fanout.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import socketio

from scis.capture import metrics as capture_metrics
from scis.core import bus

log = logging.getLogger(__name__)

EVENT_NAME = "event"

# authenticate(environ, auth) -> identity or None (refused); authorize(identity, session_id) -> allowed
Authenticate = Callable[[dict[str, Any], Any], Awaitable[Any | None]]
Authorize = Callable[[Any, str], Awaitable[bool]]


def room_of(session_id: str) -> str:
    return f"live:{session_id}"


class LiveEventFanout:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        redis_url: str,
        *,
        namespace: str = "/",
        authenticate: Authenticate | None = None,
        authorize: Authorize | None = None,
    ) -> None:
        self.sio = sio
        self.redis_url = redis_url
        self.namespace = namespace
        self.authenticate = authenticate
        self.authorize = authorize
        self.forwarded = 0
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        sio.on("connect", self._on_connect, namespace=namespace)
        sio.on("disconnect", self._on_disconnect, namespace=namespace)
        sio.on("join", self._on_join, namespace=namespace)
        sio.on("leave", self._on_leave, namespace=namespace)

    async def start(self) -> None:
        """Subscribe to every live's event channel; returns once the subscription is active."""
        if self._task is None:
            self._subscribed.clear()
            self._task = asyncio.create_task(self._forward_forever(), name="scis-live-fanout")
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if self.authenticate is not None:
            identity = await self.authenticate(environ, auth)
            if identity is None:
                return False
            await self.sio.save_session(sid, {"identity": identity}, namespace=self.namespace)
        capture_metrics.SOCKET_CLIENTS.inc()
        return True

    async def _on_disconnect(self, sid: str, *_reason: Any) -> None:
        capture_metrics.SOCKET_CLIENTS.dec()

    async def _on_join(self, sid: str, data: Any) -> dict[str, Any]:
        session_id = _session_id(data)
        if session_id is None:
            return {"ok": False, "error": "join needs {'session_id': UUID}"}
        if self.authorize is not None:
            session = await self.sio.get_session(sid, namespace=self.namespace)
            if not await self.authorize(session.get("identity"), session_id):
                return {"ok": False, "error": f"not allowed to follow live session {session_id}"}
        await self.sio.enter_room(sid, room_of(session_id), namespace=self.namespace)
        return {"ok": True, "room": room_of(session_id)}

    async def _on_leave(self, sid: str, data: Any) -> dict[str, Any]:
        session_id = _session_id(data)
        if session_id is None:
            return {"ok": False, "error": "leave needs {'session_id': UUID}"}
        await self.sio.leave_room(sid, room_of(session_id), namespace=self.namespace)
        return {"ok": True}

    async def _forward_forever(self) -> None:
        """Forward in arrival order (which is seq order per live); resubscribe after a Redis failure."""
        delay = 0.5
        while True:
            client = bus.connect(self.redis_url)
            try:
                async for channel, payload in bus.subscribe(
                    client, bus.LIVE_EVENTS.pattern, subscribed=self._subscribed
                ):
                    delay = 0.5
                    await self._forward(channel, payload)
            except (aioredis.RedisError, OSError) as error:
                log.warning("live fan-out lost Redis (%s); resubscribing in %.1f s", error, delay)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)

    async def _forward(self, channel: str, payload: dict[str, Any]) -> None:
        session_id = bus.LIVE_EVENTS.key_of(channel)
        if session_id is None:
            return
        await self.sio.emit(EVENT_NAME, payload, room=room_of(session_id), namespace=self.namespace)
        self.forwarded += 1


def _session_id(data: Any) -> str | None:
    value = data.get("session_id") if isinstance(data, dict) else data
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
