"""WebcastSocket: the push WebSocket of one live, with enter-room, heartbeats and acks; no storage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from scis.webcast import webcast_pb2 as pb
from scis.webcast.frames import (
    DecodedFrame,
    MalformedFrame,
    ack_frame,
    decode_push,
    enter_room_frame,
    heartbeat_frame,
    new_enter_unique_id,
)
from scis.webcast.room import USER_AGENT

Received = tuple[bytes, pb.PushFrame, pb.WebcastResponse | None]


class SocketClosed(Exception):
    """The push socket closed or dropped; ``clean`` is False when no close frame arrived."""

    def __init__(self, reason: str, *, code: int | None = None, clean: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.clean = clean


class WebcastSocket:
    """An async iterator of ``(frame_bytes, PushFrame, WebcastResponse | None)`` for one push URL.

    A MalformedFrame raised by ``receive()`` (or the iterator) leaves the socket usable: call
    ``receive()`` again. Reconnecting is the caller's job; ``cursor``/``internal_ext`` hold the
    last values received, to resume from.
    """

    def __init__(
        self,
        url: str,
        room_id: int | str,
        *,
        heartbeat_seconds: float = 10.0,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.room_id = int(room_id)
        self.heartbeat_seconds = heartbeat_seconds
        self.open_timeout = open_timeout
        self._headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
        if cookies:
            self._headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self._ws: ClientConnection | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.cursor = ""
        self.internal_ext = ""
        self.heartbeats_sent = 0
        self.acks_sent = 0
        self.frames_received = 0

    async def connect(self) -> None:
        """Open the socket, send enter-room and start heartbeats."""
        try:
            self._ws = await connect(
                self.url,
                additional_headers=self._headers,
                open_timeout=self.open_timeout,
                ping_interval=None,  # TikTok answers no WebSocket pings; the heartbeat frame is the keepalive
                max_size=None,
                max_queue=1024,  # read ahead freely: TCP back-pressure on TikTok costs frames, not memory
                close_timeout=2,
                compression=None,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise SocketClosed(f"could not connect: {exc}") from exc
        await self._send(enter_room_frame(self.room_id, enter_unique_id=new_enter_unique_id()))
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="webcast-heartbeat")

    async def close(self) -> None:
        """Stop heartbeats and close the socket (idempotent)."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
            self._heartbeat_task = None
        if self._ws is not None:
            await self._ws.close()

    async def receive(self) -> Received:
        """The next frame; raises SocketClosed when the socket ends, MalformedFrame for a bad frame."""
        data, decoded = await self.receive_decoded()
        return data, decoded.frame, decoded.response

    async def receive_decoded(self) -> tuple[bytes, DecodedFrame]:
        """`receive`, with the frame's payload as decoded (handed on so that it is not decoded twice)."""
        if self._ws is None:
            raise SocketClosed("not connected")
        try:
            data = await self._ws.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from exc
        self.frames_received += 1
        if isinstance(data, str):
            raise MalformedFrame(data.encode(), "text message where a binary push frame was expected")
        decoded = decode_push(data)
        frame, response = decoded.frame, decoded.response
        if response is not None:
            if response.need_ack:
                # a closing socket must not cost us the frame already received: the next receive() reports it
                with contextlib.suppress(SocketClosed):
                    await self._send(ack_frame(frame.log_id, response.internal_ext))
                    self.acks_sent += 1
            # Only now, with nothing left to await: a receive() cancelled above (a watchdog timeout) must
            # not leave the resume cursor past a frame it never returned.
            self.cursor = response.cursor or self.cursor
            self.internal_ext = response.internal_ext or self.internal_ext
        return data, decoded

    def __aiter__(self) -> WebcastSocket:
        return self

    async def __anext__(self) -> Received:
        return await self.receive()

    async def __aenter__(self) -> WebcastSocket:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _send(self, data: bytes) -> None:
        assert self._ws is not None
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self._send(heartbeat_frame(self.room_id, self.heartbeats_sent + 1))
            except SocketClosed:
                return
            self.heartbeats_sent += 1
            await asyncio.sleep(self.heartbeat_seconds)


def _closed(exc: ConnectionClosed) -> SocketClosed:
    if exc.rcvd is None and exc.sent is not None:
        return SocketClosed(f"closed by the client: code {exc.sent.code}", code=exc.sent.code, clean=True)
    if exc.rcvd is None:
        return SocketClosed("connection lost without a close frame", code=1006, clean=False)
    detail = f" ({exc.rcvd.reason})" if exc.rcvd.reason else ""
    reason = f"closed by the server: code {exc.rcvd.code}{detail}"
    return SocketClosed(reason, code=exc.rcvd.code, clean=True)
