"""Profiles: GET of a profile cached vs uncached with concurrent clients, and full-text search latency.

Profile GET (service level, `scis.profiles.service.get_json`, what GET /profiles/{id} answers: the
caller's case membership is checked in PostgreSQL either way, the profile's JSON comes from Redis as
cached or from PostgreSQL): 8 concurrent clients, each on
its own connection, 300 reads each; uncached reads have the Redis copy removed before each read.
Goal: cached p99 <= 10 ms.

Search (`scis.profiles.search.service.search_events`, 50 hits, ranked, as a case member): over
BENCH_SEARCH_EVENTS chat events (default 1,000,000, eight words from a vocabulary of 5,000 each),
200 queries of one or two words. Goal: p99 <= 100 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from typing import Any

import psycopg
import redis.asyncio as aioredis

from bench.scratch import scratch_postgres
from scis.core.auth.models import Role, User
from scis.core.db import open_pool
from scis.embedded.ports import free_port
from scis.embedded.redis import EmbeddedRedis
from scis.profiles import service as profiles
from scis.profiles.cache import cache_key
from scis.profiles.search.service import search_events

CLIENTS = 8
READS = 300
PROFILES = 1_000
SEARCH_EVENTS = int(os.environ.get("BENCH_SEARCH_EVENTS", "1000000"))
VOCABULARY = 5_000
QUERIES = 200
MEMBER = User(username="bench.inv", role=Role.investigator)


def seed(superuser_url: str) -> int:
    """Profiles in one case the bench user belongs to, and one live of chat in that case; the case id."""
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (username, password_hash, role) VALUES ('bench.inv', 'x', 'investigator')")
        case_id = conn.execute(
            "INSERT INTO cases (reference, title, created_by) VALUES ('B-1', 'bench', 'bench') RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO case_members (case_id, username, added_by) VALUES (%s, 'bench.inv', 'bench')",
                     (case_id,))  # fmt: skip
        conn.execute(
            """INSERT INTO profiles (case_id, unique_id, display_name, tags, created_by)
               SELECT %s, 'bench.' || g, 'Bench ' || g, ARRAY['bench'], 'bench' FROM generate_series(1, %s) g""",
            (case_id, PROFILES),
        )
        session_id = conn.execute(
            """INSERT INTO live_sessions (id, case_id, target, source, status, started_at, created_by)
               VALUES (gen_random_uuid(), %s, 'bench', 'replay', 'ended', now(), 'bench') RETURNING id""",
            (case_id,),
        ).fetchone()[0]  # type: ignore[index]
        # Bulk load, then build the search index once (as a restore would): maintaining its three
        # readings row by row would make the seed, not the search, the long part of the bench.
        conn.execute("DROP INDEX events_text_search")
        conn.execute(
            """INSERT INTO events (session_id, seq, kind, user_id, unique_id, nickname, body, captured_at, chain_hash)
               SELECT %s, g, 'chat', 6800000000000 + g %% 3000, 'user_' || g %% 3000, 'User ' || g %% 97,
                      (SELECT string_agg('w' || (random() * %s)::int, ' ') FROM generate_series(1, 8) WHERE g > 0),
                      now() - make_interval(secs => g), md5(g::text)
                 FROM generate_series(1, %s) g""",
            (session_id, VOCABULARY, SEARCH_EVENTS),
        )
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            "CREATE INDEX events_text_search ON events USING gin (scis_event_document(body, unique_id, nickname))"
        )
        conn.execute("ANALYZE")
    return int(case_id)


def summary(
    name: str, times_ms: list[float], seconds: float, goal: str, goal_p99: float | None
) -> list[dict[str, Any]]:
    ordered = sorted(times_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return [
        {"name": f"{name}.p50", "value": round(statistics.median(ordered), 2), "unit": "ms", "baseline": None,
         "ratio": None, "goal": "reference"},
        {"name": f"{name}.p99", "value": round(p99, 2), "unit": "ms", "baseline": goal_p99,
         "ratio": round(p99 / goal_p99, 2) if goal_p99 else None, "goal": goal},
        {"name": f"{name}.throughput", "value": round(len(ordered) / seconds), "unit": "req/s", "baseline": None,
         "ratio": None, "goal": "reference"},
    ]  # fmt: skip


async def profile_reads(url: str, redis_url: str, *, cached: bool) -> tuple[list[float], float]:
    pool = open_pool(url, min_size=CLIENTS, max_size=CLIENTS)
    await pool.open()
    cache = aioredis.Redis.from_url(redis_url)
    cur = await (await psycopg.AsyncConnection.connect(url, autocommit=True)).execute("SELECT id FROM profiles")
    ids = [row[0] for row in await cur.fetchall()]
    times: list[float] = []

    async def client(seed: int) -> None:
        chooser = random.Random(seed)
        async with pool.connection() as conn:
            for _ in range(READS):
                profile_id = chooser.choice(ids)
                if not cached:
                    await cache.delete(cache_key(profile_id))
                started = time.perf_counter()
                found = await profiles.get_json(conn, cache, user=MEMBER, profile_id=profile_id)
                times.append((time.perf_counter() - started) * 1000)
                assert found is not None

    if cached:  # warm every profile into Redis first
        async with pool.connection() as conn:
            for profile_id in ids:
                await profiles.get_json(conn, cache, user=MEMBER, profile_id=profile_id)
    started = time.perf_counter()
    await asyncio.gather(*(client(seed) for seed in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    await cache.aclose()
    await pool.close()
    return times, elapsed


async def searches(url: str, case_id: int) -> tuple[list[float], float]:
    chooser = random.Random(7)
    times = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        for index in range(QUERIES):
            words = [f"w{chooser.randrange(VOCABULARY)}" for _ in range(1 + index % 2)]
            begun = time.perf_counter()
            await search_events(conn, user=MEMBER, q=" ".join(words), case_id=case_id, limit=50)
            times.append((time.perf_counter() - begun) * 1000)
        elapsed = time.perf_counter() - started
    return times, elapsed


async def measure(url: str, redis_url: str, case_id: int) -> list[dict[str, Any]]:
    results = []
    for cached in (False, True):
        times, elapsed = await profile_reads(url, redis_url, cached=cached)
        name = "profiles.get_cached" if cached else "profiles.get_uncached"
        results += summary(name, times, elapsed, "p99 <= 10 ms" if cached else "reference", 10.0 if cached else None)
    times, elapsed = await searches(url, case_id)
    results += summary(f"search.events_{SEARCH_EVENTS}", times, elapsed, "p99 <= 100 ms", 100.0)
    return results


def run() -> list[dict[str, Any]]:
    with scratch_postgres("profiles") as (home, server):
        redis = EmbeddedRedis(home / "redis", free_port(), home / "redis.log")
        redis.start()
        try:
            case_id = seed(server.superuser_url)
            return asyncio.run(measure(server.url, redis.url, case_id))
        finally:
            redis.stop()


if __name__ == "__main__":
    for result in run():
        print(result)
