"""Helpers shared by the webcast and simulator tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from scis.simulator import SimulatorServer
from scis.webcast.client import SocketClosed, WebcastSocket
from scis.webcast.events import WebcastEvent, iter_events
from scis.webcast.frames import frame_payload
from scis.webcast.room import fetch_first, fetch_room, push_url, push_url_for


async def open_socket(
    sim: SimulatorServer,
    handle: str,
    *,
    heartbeat_seconds: float = 10.0,
    cursor: str | None = None,
    internal_ext: str = "",
) -> WebcastSocket:
    """Find the live like a capture does, then connect its push socket (resuming from a cursor if given)."""
    info = await fetch_room(sim.base_url, sim.base_url, handle)
    if cursor is None:
        first = await fetch_first(sim.base_url, info.room_id)
        url = push_url_for(first, info.room_id, sim.base_url)
    else:
        url = push_url(sim.base_url, info.room_id, cursor=cursor, internal_ext=internal_ext)
    sock = WebcastSocket(url, info.room_id, heartbeat_seconds=heartbeat_seconds)
    await sock.connect()
    return sock


async def collect(
    sock: WebcastSocket, until: Callable[[list[WebcastEvent]], bool], seconds: float = 3.0
) -> tuple[list[WebcastEvent], SocketClosed | None]:
    """Events received until `until(events)` holds, the socket closes, or `seconds` pass."""
    events: list[WebcastEvent] = []

    async def run() -> SocketClosed | None:
        while not until(events):
            try:
                _, frame, response = await sock.receive()
            except SocketClosed as closed:
                return closed
            if response is not None:
                events.extend(iter_events(frame_payload(frame)))
        return None

    try:
        closed = await asyncio.wait_for(run(), seconds)
    except TimeoutError:
        closed = None
    return events, closed


def until_count(n: int) -> Callable[[list[WebcastEvent]], bool]:
    return lambda events: len(events) >= n


def never(_: list[WebcastEvent]) -> bool:
    return False
