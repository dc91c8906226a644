"""One push WebSocket of a simulated room: sends the room's log from a position, in gzip msg frames."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from scis.simulator.protocol import TRANSPORT_KEY
from scis.webcast import webcast_pb2 as pb
from scis.webcast.frames import PAYLOAD_ENTER_ROOM_RESP, msg_frame

log = logging.getLogger(__name__)

MALFORMED_GARBAGE = b"\xff\xff\xff\xff\x0fnot a push frame"


class RoomLog(Protocol):
    """What a push session sees of its room (SimRoom): the log to send, and where client frames go."""

    @property
    def sent_messages(self) -> Sequence[pb.Message]: ...

    @property
    def batch_size(self) -> int: ...

    def response_for(self, start: int, end: int) -> pb.WebcastResponse: ...

    def next_log_id(self) -> int: ...

    def record_client_frame(self, data: bytes, session: PushSession) -> None: ...


class PushSession:
    """One push WebSocket: sends the room's log from its position, in gzip msg frames."""

    def __init__(self, room: RoomLog, websocket: WebSocket, position: int) -> None:
        self.room = room
        self.websocket = websocket
        self.position = position
        self.wake = asyncio.Event()
        self.entered = asyncio.Event()
        self.stalled_until = 0.0
        self.seq_id = 0
        self.frames_sent = 0
        self._commands: deque[tuple[str, dict[str, Any]]] = deque()
        self._closing = False
        self._closed = False

    def command(self, name: str, **params: Any) -> None:
        self._commands.append((name, params))
        self.wake.set()

    def abort(self) -> None:
        transport = self.websocket.scope.get("extensions", {}).get(TRANSPORT_KEY)
        self._closed = True
        if transport is not None:
            transport.abort()
        self.wake.set()

    async def run(self) -> None:
        """Serve until the client leaves, a fault closes the socket or the live ends."""
        reader = asyncio.create_task(self._read())
        try:
            await self._send_loop()
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            log.debug("push session ended: %r", exc)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            self.wake.clear()
            while self._commands:
                name, params = self._commands.popleft()
                if name == "close":
                    await self.websocket.close(code=params.get("code", 1000), reason=params.get("reason", ""))
                    return
                if name == "malformed":
                    await self.websocket.send_bytes(self._malformed(params.get("kind", "garbage")))
                if name == "close_after_flush":
                    self._closing = True
                if name == "enter_room_resp":
                    await self._send_enter_room_resp()
            now = loop.time()
            backlog = len(self.room.sent_messages) - self.position
            if self.entered.is_set() and now >= self.stalled_until and backlog > 0:
                await self._send_batch()
                continue
            if self._closing and backlog <= 0:
                await self.websocket.close(code=1000, reason="live ended")
                return
            timeout = self.stalled_until - now if self.stalled_until > now else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _send_batch(self) -> None:
        end = min(len(self.room.sent_messages), self.position + self.room.batch_size)
        self.seq_id += 1
        frame = msg_frame(
            self.room.response_for(self.position, end), log_id=self.room.next_log_id(), seq_id=self.seq_id
        )
        await self.websocket.send_bytes(frame)
        self.position = end
        self.frames_sent += 1

    async def _send_enter_room_resp(self) -> None:
        """TikTok answers the enter-room with an ``im_enter_room_resp`` frame: a fetch result carrying
        no messages and the cursor the session's log goes on from."""
        self.seq_id += 1
        response = self.room.response_for(self.position, self.position)
        frame = msg_frame(
            response, log_id=self.room.next_log_id(), seq_id=self.seq_id, payload_type=PAYLOAD_ENTER_ROOM_RESP
        )
        await self.websocket.send_bytes(frame)
        self.entered.set()

    def _malformed(self, kind: str) -> bytes:
        if kind == "gzip":
            frame = pb.PushFrame(
                seq_id=self.seq_id,
                log_id=self.room.next_log_id(),
                payload_type="msg",
                payload_encoding="pb",
                headers={"compress_type": "gzip"},
                payload=b"\x1f\x8b\x08\x00corrupt gzip body",
            )
            return frame.SerializeToString()
        return MALFORMED_GARBAGE

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self._closed = True
                self.wake.set()
                return
            if data := message.get("bytes"):
                self.room.record_client_frame(data, self)
