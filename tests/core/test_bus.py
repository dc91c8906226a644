"""Bus channel families: one definition gives a channel's name, the pattern and the key back."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from redis._parsers import _AsyncHiredisParser, _AsyncRESP3Parser
from redis.utils import HIREDIS_AVAILABLE

from scis.core import bus


def test_a_channel_family_names_matches_and_parses_its_channels() -> None:
    session = str(uuid.uuid4())
    channel = bus.LIVE_EVENTS.name(session)
    assert channel == f"scis:live:{session}:events" and bus.LIVE_EVENTS.pattern == "scis:live:*:events"
    assert bus.LIVE_EVENTS.key_of(channel) == session
    for other in ("scis:lives", "scis:live::events", "scis:live:a:b:events", "scis:profiles", f"x{channel}"):
        assert bus.LIVE_EVENTS.key_of(other) is None, other


async def test_subscribe_signals_readiness_and_skips_what_is_not_json(redis_url: str) -> None:
    client = bus.connect(redis_url)
    subscribed = asyncio.Event()
    session = str(uuid.uuid4())
    received: list[tuple[str, dict[str, object]]] = []

    async def listen() -> None:
        async for channel, payload in bus.subscribe(client, bus.LIVE_EVENTS.pattern, subscribed=subscribed):
            if bus.LIVE_EVENTS.key_of(channel) == session:
                received.append((channel, payload))
                return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 10)
    publisher = aioredis.Redis.from_url(redis_url)
    await publisher.publish(bus.LIVE_EVENTS.name(session), b"not json")
    await bus.publish(publisher, bus.LIVE_EVENTS.name(session), {"seq": 1})
    await asyncio.wait_for(task, 10)
    await publisher.aclose()
    await client.aclose()
    assert received == [(bus.LIVE_EVENTS.name(session), {"seq": 1})]


async def test_three_hundred_lives_publishing_at_once_all_get_through(redis_url: str) -> None:
    """redis-py 8's default pool refuses a 101st concurrent command ("Too many connections")."""
    client = bus.connect(redis_url)
    try:
        channel = bus.LIVE_EVENTS.name(str(uuid.uuid4()))
        results = await asyncio.gather(*(bus.publish(client, channel, {"seq": n}) for n in range(300)))
        # Every publish answered with its receivers' count: pattern subscribers that other tests' services
        # left on the shared Redis count too, so the count itself is not the point.
        assert len(results) == 300 and all(isinstance(receivers, int) for receivers in results)
    finally:
        await client.aclose()


async def test_messages_are_parsed_in_c_and_never_formatted_for_a_debug_line(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py's default push handler builds a debug line of every whole message (str of its bytes)
    # even when debug logging is off: a subscription hands messages through as they are (decision 245).
    assert HIREDIS_AVAILABLE, "hiredis (a dependency) parses Redis replies in C"
    formatted: list[object] = []

    async def default_handler(self: object, response: object) -> object:
        formatted.append(response)
        return response

    for parser in (_AsyncHiredisParser, _AsyncRESP3Parser):
        monkeypatch.setattr(parser, "handle_pubsub_push_response", default_handler)
    client = bus.connect(redis_url)
    subscribed = asyncio.Event()
    session = str(uuid.uuid4())

    async def first() -> object:
        async for _, payload in bus.subscribe(client, bus.LIVE_EVENTS.name(session), subscribed=subscribed):
            return payload
        return None

    task = asyncio.create_task(first())
    await asyncio.wait_for(subscribed.wait(), 10)
    await bus.publish(client, bus.LIVE_EVENTS.name(session), {"seq": 2})
    assert await asyncio.wait_for(task, 10) == {"seq": 2}
    await client.aclose()
    assert formatted == []
