"""SQL explorer: what its safety costs, and what it saves.

1. Memory: `SELECT repeat('x', 1000000) FROM generate_series(1, 1000)` (a 1 GB result) through the
   explorer: the process's peak RSS above its RSS just before. Baseline: 200 of the rows fetched
   whole by a plain client cursor, as before the server-side cursor, scaled to 1,000 (the issue
   measured the service growing from 93 MB to 2 GB). Goal: the peak grows by well under 100 MB.
2. Latency of a small query through every layer (parse, per-query grant, READ ONLY transaction,
   cursor, audit row, DISCARD ALL on return). Baseline: the same query on a bare scis_explorer
   connection. About a dozen round trips and one fsync'd audit commit against one round trip, so
   the figure follows the machine's load. Goal: p50 under 50 ms.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from typing import Any

import psutil
import psycopg

from bench.scratch import scratch_postgres
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.core.db import open_pool
from scis.database import service
from scis.database.app import EXPLORER_CONNECTION_OPTIONS, reset_explorer_connection

HUGE = "SELECT repeat('x', 1000000) FROM generate_series(1, 1000)"
BASELINE_ROWS = 200  # 200 MB fetched whole is enough to show the difference without starving the machine
SMALL = "SELECT count(*) FROM cases"
ROUNDS = 200
CONTEXT = AuditContext(actor=User(username="bench", role=Role.admin), source_ip=None, request_id=None, service="bench")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1024 / 1024


async def through_the_explorer(app_url: str, explorer_url: str) -> tuple[float, list[float]]:
    pool = open_pool(
        explorer_url, min_size=1, max_size=1, reset=reset_explorer_connection,
        connection_options=EXPLORER_CONNECTION_OPTIONS,
    )  # fmt: skip
    await pool.open(wait=True, timeout=30)
    try:
        async with await psycopg.AsyncConnection.connect(app_url, autocommit=True) as app_conn:
            before = rss_mb()
            await service.run_query(app_conn, pool, statement=HUGE, limit=1000, timeout_ms=60_000, context=CONTEXT)
            growth = peak_rss_mb() - before
            timings = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                await service.run_query(app_conn, pool, statement=SMALL, limit=10, timeout_ms=5000, context=CONTEXT)
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return growth, timings


def bare(explorer_url: str) -> tuple[float, list[float]]:
    with psycopg.connect(explorer_url, autocommit=True) as conn:
        before = rss_mb()
        conn.execute(f"SELECT repeat('x', 1000000) FROM generate_series(1, {BASELINE_ROWS})").fetchall()  # type: ignore[arg-type]
        growth = (peak_rss_mb() - before) * 1000 / BASELINE_ROWS  # scaled to the 1,000-row result
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM explorer.cases").fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return growth, timings


def run() -> list[dict[str, Any]]:
    with scratch_postgres("explorer") as (_, server):
        growth, timings = asyncio.run(through_the_explorer(server.url, server.explorer_url))
        base_growth, base_timings = bare(server.explorer_url)
    p50, base_p50 = statistics.median(timings), statistics.median(base_timings)
    print(f"   1 GB result: peak grew {growth:.0f} MB through the explorer, ~{base_growth:.0f} MB fetched whole")
    print(f"   small query p50: {p50:.2f} ms through every layer, {base_p50:.2f} ms bare")
    return [
        {
            "name": "explorer_huge_result_peak_growth",
            "value": round(growth, 1),
            "unit": "MB",
            "baseline": round(base_growth, 1),
            "ratio": round(growth / base_growth, 3) if base_growth else None,
            "goal": "< 100 MB",
        },
        {
            "name": "explorer_small_query_p50",
            "value": round(p50, 2),
            "unit": "ms",
            "baseline": round(base_p50, 2),
            "ratio": round(p50 / base_p50, 1) if base_p50 else None,
            "goal": "< 50 ms",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
