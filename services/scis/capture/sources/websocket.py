"""The websocket source: TikTok's push socket of the live, with watchdog, reconnects and resume.

Every binary message is handed on exactly as received. Silence longer than the watchdog means the
socket is dead even if it never closed (TikTok sockets die without a close frame); the source then
reconnects with exponential backoff and jitter, resuming from the last cursor/internal_ext so the
server replays what was missed (duplicates are removed downstream by msg_id), and reports the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from scis.capture.sources.base import (
    LiveEnded,
    LiveRoom,
    RawFetch,
    RawFrame,
    ResumePoint,
    SourceGap,
    SourceItem,
    TargetUnavailable,
)
from scis.capture.sources.lookup import find_room
from scis.capture.sources.watchdog import ReadWatchdog
from scis.core.status import SessionStatus
from scis.webcast import webcast_pb2 as pb
from scis.webcast.client import SocketClosed, WebcastSocket
from scis.webcast.frames import MalformedFrame, parse_response
from scis.webcast.room import RoomInfo, http_client, push_url, web_client_params

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of initial * factor**n."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.factor**attempt)
        return ceiling * random.uniform(0.5, 1.0)


def _now() -> datetime:
    return datetime.now(UTC)


def _point(
    room_id: str | None, cursor: str, internal_ext: str, push_server: str, route_params: dict[str, str]
) -> ResumePoint:
    return {"room_id": room_id, "cursor": cursor, "internal_ext": internal_ext, "push_server": push_server,
            "route_params": route_params}  # fmt: skip


def from_ended_gap(pending: tuple[datetime, str, str], attempts: int, cursor: str) -> SourceGap:
    """The gap of a drop the live never came back from: what was sent meanwhile was not received.

    Without it, messages sent between the drop and the end of the live (the end control message
    above all) would be missing with no record saying so.
    """
    started, reason, detail = pending
    return SourceGap(
        started, _now(), reason, f"{detail}; the live ended before the socket could reconnect",
        {"attempts": attempts, "resumed_from_cursor": cursor, "live_ended": True},
    )  # fmt: skip


class WebsocketSource:
    name = "websocket"

    def __init__(
        self,
        handle: str,
        *,
        tiktok_base_url: str,
        webcast_base_url: str,
        watchdog_seconds: float,
        cookies: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        heartbeat_seconds: float = 10.0,
    ) -> None:
        self.handle = handle
        self.tiktok_base_url = tiktok_base_url
        self.webcast_base_url = webcast_base_url
        self.watchdog_seconds = watchdog_seconds
        self.cookies = dict(cookies or {})
        self.backoff = backoff or Backoff()
        self.heartbeat_seconds = heartbeat_seconds
        self.room: RoomInfo | None = None
        self.reconnects = 0
        self._first: tuple[bytes, pb.WebcastResponse, datetime] | None = None
        self._socket: WebcastSocket | None = None
        self._stopping = asyncio.Event()
        self.resume_point: ResumePoint | None = None

    def resume_from(self, point: ResumePoint | None) -> None:
        """Before open(): ask the server to re-send from where an earlier capture of this live stored up to."""
        self.resume_point = point

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "tiktok_base_url": self.tiktok_base_url,
            "webcast_base_url": self.webcast_base_url,
            "watchdog_seconds": self.watchdog_seconds,
            "cookies": sorted(self.cookies),  # names only: values never leave this machine
        }

    async def open(self) -> LiveRoom:
        self.room = await find_room(self.tiktok_base_url, self.webcast_base_url, self.handle, cookies=self.cookies)
        try:
            self._first = await self._fetch_first(self.room.room_id)
        except (httpx.HTTPError, MalformedFrame) as error:
            # The push socket alone is enough; the first fetch only seeds cursor and push server.
            log.warning("@%s: first fetch failed, connecting without it: %s", self.handle, error)
        return LiveRoom(
            handle=self.handle,
            room_id=self.room.room_id,
            title=self.room.title,
            host_user_id=self.room.host.id,
            details={"room_status": self.room.status, "host_nickname": self.room.host.nickname},
            video_urls=dict(self.room.stream_urls),
        )

    async def _fetch_first(self, room_id: str) -> tuple[bytes, pb.WebcastResponse, datetime]:
        point = self.resume_point if self.resume_point and self.resume_point.get("room_id") == room_id else {}
        if point:
            log.info("@%s: resuming from the stored cursor %s", self.handle, point.get("cursor"))
        params = {**web_client_params(room_id), "cursor": point.get("cursor", ""),
                  "internal_ext": point.get("internal_ext", "")}  # fmt: skip
        async with http_client(self.cookies) as http:
            answer = await http.get(f"{self.webcast_base_url.rstrip('/')}/webcast/im/fetch/", params=params)
        answer.raise_for_status()
        return answer.content, parse_response(answer.content), _now()

    async def stop(self) -> None:
        self._stopping.set()
        if self._socket is not None:
            await self._socket.close()

    async def items(self) -> AsyncIterator[SourceItem]:
        if self.room is None:
            raise RuntimeError("open() the source first")
        room_id = self.room.room_id
        push_server = self.room.push_server or self.webcast_base_url
        route_params: dict[str, str] = dict(self.room.route_params)
        cursor = internal_ext = ""
        point = self.resume_point if self.resume_point and self.resume_point.get("room_id") == room_id else None
        if self._first is None and point is not None:  # no first fetch: the socket itself resumes there
            cursor, internal_ext = point.get("cursor", ""), point.get("internal_ext", "")
            push_server = point.get("push_server") or push_server
            route_params.update(point.get("route_params") or {})
        if self._first is not None:
            raw, first, at = self._first
            push_server = first.push_server or push_server
            route_params.update(first.route_params)
            cursor, internal_ext = first.cursor, first.internal_ext
            yield RawFetch(raw, at, _point(room_id, cursor, internal_ext, push_server, route_params))
        last_frame_at = _now()
        pending_gap: tuple[datetime, str, str] | None = None
        attempt = 0
        while not self._stopping.is_set():
            url = push_url(push_server, room_id, cursor=cursor, internal_ext=internal_ext, route_params=route_params)
            sock = self._socket = WebcastSocket(
                url, room_id, heartbeat_seconds=self.heartbeat_seconds, cookies=self.cookies
            )
            try:
                await sock.connect()
            except SocketClosed as error:
                pending_gap = pending_gap or (last_frame_at, "disconnect", error.reason)
                ended = await self._wait_before_retry(attempt, error.reason)
                attempt += 1
                if ended is not None:
                    yield from_ended_gap(pending_gap, attempt, cursor)
                    yield ended
                    return
                continue
            if self._stopping.is_set():  # stop() came while connecting, when it had no socket to close yet
                await sock.close()
                self._socket = None
                return
            if pending_gap is not None:
                started, reason, detail = pending_gap
                self.reconnects += 1
                yield SourceGap(started, _now(), reason, detail, {"attempts": attempt, "resumed_from_cursor": cursor})
                pending_gap, attempt = None, 0
            # A reconnect resumes from before the last frame received: a server honouring the cursor
            # re-sends that frame, and its messages coming again prove nothing in between was skipped
            # (they are dropped as duplicates; the gap gets its `gap_filled`, decision 412).
            before_last = latest = (cursor, internal_ext)
            watchdog = ReadWatchdog(self.watchdog_seconds)
            try:
                while True:
                    decoded = None
                    try:
                        data, decoded = await watchdog.read(sock.receive_decoded())
                    except MalformedFrame as error:
                        data = error.raw
                    last_frame_at = _now()
                    before_last, latest = latest, (sock.cursor or latest[0], sock.internal_ext or latest[1])
                    point = _point(room_id, *latest, push_server, route_params)
                    yield RawFrame(data, last_frame_at, point, decoded)
            except TimeoutError:
                detail = f"no frame for {self.watchdog_seconds:g} s: socket deemed dead"
                log.warning("@%s: %s, reconnecting", self.handle, detail)
                pending_gap = (last_frame_at, "stall", detail)
            except SocketClosed as error:
                if not self._stopping.is_set():
                    log.warning("@%s: socket closed (%s), reconnecting", self.handle, error.reason)
                pending_gap = (last_frame_at, "disconnect", error.reason)
            finally:
                watchdog.close()
                cursor, internal_ext = before_last
                with contextlib.suppress(Exception):
                    await sock.close()
                self._socket = None
            if self._stopping.is_set():
                return
            ended = await self._wait_before_retry(attempt, pending_gap[1] if pending_gap else "")
            attempt += 1
            if ended is not None:
                if pending_gap is not None:
                    yield from_ended_gap(pending_gap, attempt, cursor)
                yield ended
                return

    async def _wait_before_retry(self, attempt: int, why: str) -> LiveEnded | None:
        """Back off, then ask the room API whether the live is still on; LiveEnded if it is not."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.backoff.delay(attempt))
        if self._stopping.is_set():
            return None
        try:
            await find_room(self.tiktok_base_url, self.webcast_base_url, self.handle, cookies=self.cookies)
        except TargetUnavailable as unavailable:
            if unavailable.status in (SessionStatus.OFFLINE, SessionStatus.NOT_FOUND):
                return LiveEnded(f"the live is over: {unavailable.reason} (after: {why})")
            log.warning("@%s: room lookup failed while reconnecting: %s", self.handle, unavailable.reason)
        return None
