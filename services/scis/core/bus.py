"""The event bus on Redis pub/sub: channel names and JSON payloads are listed in docs/events.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from scis.core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LIVES_CHANNEL = "scis:lives"
PROFILES_CHANNEL = "scis:profiles"
AUDIT_CHANNEL = "scis:audit"


@dataclass(frozen=True)
class ChannelFamily:
    """A family of channels named after one key, e.g. scis:live:{session_id}:events.

    `name(key)` is one channel, `pattern` subscribes to all of them, `key_of(channel)` reads the key
    back from a channel name (None when the channel is not of this family).
    """

    prefix: str
    suffix: str

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}{self.suffix}"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}*{self.suffix}"

    def key_of(self, channel: str) -> str | None:
        if not (channel.startswith(self.prefix) and channel.endswith(self.suffix)):
            return None
        key = channel[len(self.prefix) : len(channel) - len(self.suffix)]
        return key if key and ":" not in key else None


# One live's stored events, in seq order (docs/events.md).
LIVE_EVENTS = ChannelFamily("scis:live:", ":events")
# Alerts raised for one case's watchlist (docs/events.md).
CASE_ALERTS = ChannelFamily("scis:case:", ":alerts")
# Progress and end of one case's report jobs (docs/events.md).
CASE_REPORT_JOBS = ChannelFamily("scis:case:", ":report_jobs")


# Connections one client holds at most; a command waits up to POOL_WAIT_SECONDS for a free one.
# redis-py 8's default pool fails the 101st concurrent command ("Too many connections"), and opening
# a connection per concurrent command made an analyser whose 150 lives publish at the same moment
# open 150 connections at once, which timed out on a busy machine: the lives stalled (decision 241).
# A publish takes a connection for one round trip, so a few dozen serve hundreds of lives.
MAX_CONNECTIONS = 32
POOL_WAIT_SECONDS = 10.0


def connect(redis_url: str, *, fail_fast: bool = False) -> aioredis.Redis:
    """A client; `fail_fast`: no retries inside redis-py (its backoff would hide an outage for seconds)
    for callers that retry on their own."""
    options: dict[str, Any] = {"decode_responses": False, "health_check_interval": 30,
                               "max_connections": MAX_CONNECTIONS, "timeout": POOL_WAIT_SECONDS}  # fmt: skip
    if fail_fast:
        options["retry"] = Retry(NoBackoff(), 0)
    return aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(redis_url, **options))


async def _message_as_is(message: Any) -> Any:
    """A subscription's RESP3 messages as they are. redis-py's default handler formats every message
    whole for a debug line, even with debug logging off: 10 µs of a 4 KiB commit message (decision 245)."""
    return message


async def publish(client: aioredis.Redis, channel: str, payload: dict[str, Any]) -> int:
    """Publish one JSON message; returns how many subscribers got it."""
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return int(await client.publish(channel, data))


async def subscribe(
    client: aioredis.Redis,
    *channels: str,
    subscribed: asyncio.Event | None = None,
    on_subscribed: Callable[[], Awaitable[None]] | None = None,
    raw: bool = False,
) -> AsyncIterator[tuple[str, Any]]:
    """Yield (channel, payload) for every JSON message published on the channels (patterns allowed).

    `subscribed` is set (and `on_subscribed` awaited) once the subscription is active, before any
    message; a message that is not JSON is logged and skipped. `raw`: the payload is the message's
    bytes, not parsed (for a subscriber that relays them as they are).
    """
    pubsub = client.pubsub(push_handler_func=_message_as_is)
    patterns = [c for c in channels if "*" in c]
    plain = [c for c in channels if "*" not in c]
    try:
        if plain:
            await pubsub.subscribe(*plain)
        if patterns:
            await pubsub.psubscribe(*patterns)
        if subscribed is not None:
            subscribed.set()
        if on_subscribed is not None:
            await on_subscribed()
        async for message in pubsub.listen():
            if message["type"] not in ("message", "pmessage"):
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else channel
            if raw:
                yield name, message["data"]
                continue
            try:
                payload = json.loads(message["data"])
            except ValueError:
                log.warning("ignoring a non-JSON message on %s", name)
                continue
            yield name, payload
    finally:
        await pubsub.aclose()


# Resubscription delays after a Redis failure, then every second: a feed is never away for long.
RESUBSCRIBE_SECONDS = (0.1, 0.25, 0.5, 1.0)


async def follow(
    redis_url: str,
    *channels: str,
    handle: Callable[[str, Any], Awaitable[None]],
    subscribed: asyncio.Event | None = None,
    on_subscribed: Callable[[], Awaitable[None]] | None = None,
    on_lost: Callable[[], Awaitable[None]] | None = None,
    what: str = "subscriber",
    raw: bool = False,
) -> None:
    """Call `handle(channel, payload)` for every message, forever; resubscribe within a second after a
    Redis failure. `on_lost` is awaited once when an outage starts, `on_subscribed` after every
    (re)subscription; an outage is logged once when it starts and once when it ends."""
    loop = asyncio.get_running_loop()
    attempt = 0
    lost_since: float | None = None

    async def subscribed_again() -> None:
        nonlocal attempt, lost_since
        attempt = 0
        if lost_since is not None:
            log.warning("%s: Redis back after %.1f s", what, loop.time() - lost_since)
            lost_since = None
        if on_subscribed is not None:
            await on_subscribed()

    while True:
        client = connect(redis_url, fail_fast=True)  # this loop retries, within a second
        try:
            messages = subscribe(client, *channels, subscribed=subscribed, on_subscribed=subscribed_again, raw=raw)
            async for channel, payload in messages:
                await handle(channel, payload)
        except (aioredis.RedisError, OSError) as error:
            if lost_since is None:
                lost_since = loop.time()
                log.warning("%s lost Redis (%s); resubscribing every second at most", what, error)
                if on_lost is not None:
                    await on_lost()
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
        await asyncio.sleep(RESUBSCRIBE_SECONDS[min(attempt, len(RESUBSCRIBE_SECONDS) - 1)])
        attempt += 1


class Follower:
    """`follow` in a background task: `start()` returns once subscribed, `stop()` cancels it."""

    def __init__(
        self,
        redis_url: str,
        *channels: str,
        handle: Callable[[str, Any], Awaitable[None]],
        on_subscribed: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], Awaitable[None]] | None = None,
        what: str = "subscriber",
        raw: bool = False,
    ) -> None:
        self.redis_url = redis_url
        self.raw = raw
        self.channels = channels
        self.handle = handle
        self.on_subscribed = on_subscribed
        self.on_lost = on_lost
        self.what = what
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once subscribed (TimeoutError after 10 s)."""
        if self._task is None:
            self.subscribed.clear()
            self._task = asyncio.create_task(
                follow(self.redis_url, *self.channels, handle=self.handle, subscribed=self.subscribed,
                       on_subscribed=self.on_subscribed, on_lost=self.on_lost, what=self.what, raw=self.raw),
                name=self.what,
            )  # fmt: skip
        await asyncio.wait_for(self.subscribed.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
