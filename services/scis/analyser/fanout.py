"""Socket.IO fan-out of live events: one Redis subscription, one Socket.IO room per live session.

Browsers connect, emit `join` with `{"session_id": "..."}` and receive every stored event of that
live as `events` messages (a JSON array per commit, in seq order), and none of another live. One
message per commit rather than per event: at hundreds of lives, per-event emits (a packet encoded and
a WebSocket frame sent per event and per client, decoded again on the client) cost more than the
whole capture path (decision 230). Events come from
the bus channel family `scis.core.bus.LIVE_EVENTS` (`scis:live:{session_id}:events`, payload:
docs/events.md: the seq range and the JSON array of the events of one commit), which the capture
writer publishes after each commit. The array's JSON text is relayed as it is, in one packet encoded
once per room (decision 240). A client that joins late
reads what it missed from the events API (`after_seq`), then follows the room; `seq` tells it where
it is.

When the fan-out loses events (Redis went away: the writer could not publish, or this subscriber
was gone), it tells each room with a `gap` message: `{"session_id", "from_seq", "to_seq", "reason"}`
(seqs inclusive; `to_seq` null while the end is not known yet, i.e. right after resubscribing). The
client fills the range from the events API (`after_seq = from_seq - 1`). Resubscription is retried
within a second, and an outage is logged once when it starts and once when it ends (`bus.follow`).

Mounting (analyser service)::

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    fanout = LiveEventFanout(sio, redis_url, authenticate=..., authorize=...)
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path=""))   # or wrap the FastAPI app
    # on startup: await fanout.start(); on shutdown: await fanout.stop()
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from scis.capture import metrics as capture_metrics
from scis.capture.payloads import read_commit_message
from scis.core import bus

log = logging.getLogger(__name__)

EVENTS_NAME = "events"  # payload: a JSON array of events of one live, in seq order
GAP_NAME = "gap"

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
        self.gap_notices = 0
        self._last_seq: dict[str, int] = {}  # per live: the last seq forwarded
        self._lost = False  # Redis was lost since the last subscription
        self._follower = bus.Follower(
            redis_url, bus.LIVE_EVENTS.pattern, handle=self._forward, on_subscribed=self._on_subscribed,
            on_lost=self._on_lost, what="live fan-out", raw=True,
        )  # fmt: skip
        # The text of a Socket.IO EVENT packet up to its data, for this namespace: the events' JSON
        # from the bus is spliced in as it is, never parsed and encoded again (decision 240).
        prefix = "" if namespace == "/" else f"{namespace},"
        self._events_packet_head = f'{sio_packet.EVENT}{prefix}["{EVENTS_NAME}",'
        sio.on("connect", self._on_connect, namespace=namespace)
        sio.on("disconnect", self._on_disconnect, namespace=namespace)
        sio.on("join", self._on_join, namespace=namespace)
        sio.on("leave", self._on_leave, namespace=namespace)

    async def start(self) -> None:
        """Subscribe to every live's event channel; returns once the subscription is active."""
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

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

    async def _on_lost(self) -> None:
        self._lost = True

    async def _on_subscribed(self) -> None:
        if self._lost:
            self._lost = False
            await self._announce_open_gaps()

    async def _announce_open_gaps(self) -> None:
        """Right after an outage: events after each live's last forwarded seq may be missing."""
        for session_id, last in list(self._last_seq.items()):
            await self._gap(session_id, last + 1, None)

    async def _gap(self, session_id: str, from_seq: int, to_seq: int | None) -> None:
        notice = {"session_id": session_id, "from_seq": from_seq, "to_seq": to_seq,
                  "reason": "the live feed lost events (Redis outage): read them from the events API"}  # fmt: skip
        await self.sio.emit(GAP_NAME, notice, room=room_of(session_id), namespace=self.namespace)
        self.gap_notices += 1

    async def _forward(self, channel: str, data: bytes) -> None:
        session_id = bus.LIVE_EVENTS.key_of(channel)
        if session_id is None:
            return
        commit = read_commit_message(data)
        if commit is None:  # not the writer's commit message: relayed the slow way if it is JSON
            await self._forward_parsed(session_id, data)
            return
        last = self._last_seq.get(session_id)
        if last is not None and commit.from_seq > last + 1:
            await self._gap(session_id, last + 1, commit.from_seq - 1)
        if commit.ended:
            self._last_seq.pop(session_id, None)
        elif last is None or commit.to_seq > last:
            self._last_seq[session_id] = commit.to_seq
        await self._emit_encoded(room_of(session_id), commit.events_json)
        self.forwarded += commit.to_seq - commit.from_seq + 1

    async def _emit_encoded(self, room: str, events_json: bytes) -> None:
        """Send one `events` message whose data is JSON text already: encoded once for the whole room."""
        text = self._events_packet_head + events_json.decode() + "]"
        message = eio_packet.Packet(eio_packet.MESSAGE, text)
        for _, eio_sid in list(self.sio.manager.get_participants(self.namespace, room)):
            await self.sio.eio.send_packet(eio_sid, message)

    async def _forward_parsed(self, session_id: str, data: bytes) -> None:
        """A JSON array of events, or one event object (relayed as an array of one)."""
        try:
            payload = json.loads(data)
        except ValueError:
            log.warning("ignoring a non-JSON message for live %s", session_id)
            return
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            return
        for event in events:
            await self._note_seq(session_id, event)
        await self.sio.emit(EVENTS_NAME, events, room=room_of(session_id), namespace=self.namespace)
        self.forwarded += len(events)

    async def _note_seq(self, session_id: str, event: dict[str, Any]) -> None:
        """Tell the room when a seq was skipped; forget a live once it ended."""
        seq = event.get("seq") if isinstance(event, dict) else None
        if not isinstance(seq, int):
            return
        last = self._last_seq.get(session_id)
        if last is not None and seq > last + 1:
            await self._gap(session_id, last + 1, seq - 1)
        if event.get("kind") == "session_end":
            self._last_seq.pop(session_id, None)
        elif last is None or seq > last:
            self._last_seq[session_id] = seq


def _session_id(data: Any) -> str | None:
    value = data.get("session_id") if isinstance(data, dict) else data
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
