"""Waiting for an offline target: poll its room status, with jitter and backoff, until it goes live.

Used by `scis monitor --wait`, `scis capture --wait` (a LiveMonitor's Pod, spec.wait) and the
analyser API (`wait: true`): a recorder's users expect "start when they go live". Polls are one
live-page fetch (plus the room check when a room id shows), every SCIS_WAIT_POLL_SECONDS ±20 %;
lookup failures (network, rate limit) back off up to eight times that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from typing import TextIO

import httpx

from scis.core.settings import Settings
from scis.webcast.room import NotLive, RoomLookupError, UserNotFound, fetch_room

log = logging.getLogger(__name__)

JITTER = 0.2
MAX_BACKOFF_FACTOR = 8


def next_delay(interval: float, failures: int, draw: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before the next poll: the interval, doubled per consecutive lookup failure (capped), ±20 %."""
    base = interval * min(2**failures, MAX_BACKOFF_FACTOR)
    return base * draw(1 - JITTER, 1 + JITTER)


async def wait_until_live(
    handle: str, settings: Settings, stopped: asyncio.Event, *, on_poll: Callable[[str], None] | None = None
) -> bool:
    """True once the target is live; False if `stopped` is set first. UserNotFound is raised (no wait helps)."""
    failures = 0
    while not stopped.is_set():
        try:
            await fetch_room(settings.tiktok_base_url, settings.webcast_base_url, handle)
            # Stopped while the lookup was on its way: the caller has stopped waiting for this capture
            # and must not find it capturing (an analyser's stop would wait on it until the live ended).
            return not stopped.is_set()
        except UserNotFound:
            raise
        except NotLive as offline:
            failures, state = 0, str(offline)
        except (RoomLookupError, httpx.HTTPError, OSError) as error:
            failures, state = failures + 1, f"lookup failed ({error}); backing off"
            log.warning("@%s: %s", handle, state)
        if on_poll is not None:
            on_poll(state)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), next_delay(settings.wait_poll_seconds, failures))
    return False


async def wait_until_live_or_signal(
    handle: str, settings: Settings, stream: TextIO, *, before: Callable[[], Awaitable[None]] | None = None
) -> bool:
    """Poll until live (True) or SIGTERM/SIGINT (False), saying so on `stream`; `before` runs first."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    try:
        if before is not None:
            await before()
        print(f"@{handle} Waiting: polling until the live starts", file=stream, flush=True)
        return await wait_until_live(handle, settings, stopped)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
