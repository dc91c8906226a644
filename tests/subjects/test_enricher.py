"""The running enricher folds a live as soon as the bus names it, and `scis profiles rebuild` agrees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from scis.cli import main
from scis.core import bus
from scis.core.db import open_pool
from scis.profiles.subjects.enricher import SubjectEnricher
from tests.subjects.support import T0, append, first_live_records, open_live, unique_user_ids
from tests.subjects.test_enrichment import snapshot


@pytest.fixture
async def pool(postgres_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    opened = open_pool(postgres_url, min_size=1, max_size=2)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_bus_message_triggers_folding_and_cli_rebuild_agrees(
    pool: AsyncConnectionPool[Any], redis_url: str, postgres_url: str
) -> None:
    alice, bob = unique_user_ids()
    redis = bus.connect(redis_url)
    # A sweep an hour away: only the bus message can make this enricher look at the live.
    enricher = SubjectEnricher(pool, redis, sweep_seconds=3600)
    enricher.start()
    try:
        await asyncio.wait_for(enricher.subscribed.wait(), timeout=30)
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            live = await open_live(conn, started_at=T0)
            await append(conn, live, first_live_records(alice, bob))
            await bus.publish(redis, bus.LIVE_EVENTS.name(str(live.session_id)), {"seq": 7})
            deadline = asyncio.get_running_loop().time() + 60
            while not (await snapshot(conn, (alice, bob)))["lives"]:
                assert asyncio.get_running_loop().time() < deadline, "the bus message was not acted on"
                await asyncio.sleep(0.1)
            folded = await snapshot(conn, (alice, bob))
            assert len(folded["lives"]) == 2
    finally:
        await enricher.stop()
        await redis.aclose()

    assert await asyncio.to_thread(main, ["profiles", "rebuild", "--database-url", postgres_url]) == 0
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        assert await snapshot(conn, (alice, bob)) == folded


async def test_a_bus_that_times_out_never_kills_the_listener(pool: AsyncConnectionPool[Any]) -> None:
    """A Redis that accepts and never answers (an overloaded machine) raises redis' TimeoutError, which
    is no ConnectionError: the listener must retry, and stopping must still be clean."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}", socket_timeout=0.2, socket_connect_timeout=0.2)
    enricher = SubjectEnricher(pool, redis, sweep_seconds=3600)
    enricher.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while len(accepted) < 2:  # a second connection: the listener came back after the first timeout
            assert asyncio.get_running_loop().time() < deadline, "the listener did not retry"
            await asyncio.sleep(0.1)
        listener = enricher._tasks[0]
        assert not listener.done(), listener
    finally:
        await enricher.stop()
        await redis.aclose()
        for writer in accepted:
            writer.close()
        server.close()
