"""The event bus on Redis pub/sub: channel names and JSON payloads are listed in docs/events.md."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

LIVES_CHANNEL = "scis:lives"
PROFILES_CHANNEL = "scis:profiles"
AUDIT_CHANNEL = "scis:audit"


def live_events_channel(session_id: str) -> str:
    return f"scis:live:{session_id}:events"


def connect(redis_url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(redis_url, decode_responses=False, health_check_interval=30)


async def publish(client: aioredis.Redis, channel: str, payload: dict[str, Any]) -> int:
    """Publish one JSON message; returns how many subscribers got it."""
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return int(await client.publish(channel, data))


async def subscribe(client: aioredis.Redis, *channels: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield (channel, payload) for every JSON message published on the channels (patterns allowed)."""
    pubsub = client.pubsub()
    patterns = [c for c in channels if "*" in c]
    plain = [c for c in channels if "*" not in c]
    if plain:
        await pubsub.subscribe(*plain)
    if patterns:
        await pubsub.psubscribe(*patterns)
    try:
        async for message in pubsub.listen():
            if message["type"] not in ("message", "pmessage"):
                continue
            channel = message["channel"]
            yield (channel.decode() if isinstance(channel, bytes) else channel), json.loads(message["data"])
    finally:
        await pubsub.aclose()
