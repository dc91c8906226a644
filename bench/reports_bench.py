"""Report jobs and the explorer's analyst paths, on a scratch database.

1. Report job, end to end (claim, read, re-verify the chain, stream and typeset the transcript,
   WeasyPrint, store): seconds and peak RSS for a case of N events (SCIS_BENCH_REPORT_EVENTS,
   default 10000,100000: issue 12's goal is 100,000 events in under 60 s with peak memory within
   1.5x of the 10,000-event run). Each job runs in a fresh process, so its peak RSS is its own.
   Baseline: the smallest N's time scaled linearly to N (the ratio says whether the cost grows
   faster than the transcript), and the smallest N's peak RSS.
2. Explorer small-query p99 through every layer. Baseline: the same query on a bare connection.
3. CSV export throughput (rows/s) of a 100,000-row query, streamed under the caps. Baseline:
   PostgreSQL's own COPY … TO STDOUT (CSV) of the same rows on a bare connection: the ceiling.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.scratch import scratch_postgres
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.core.db import open_pool
from scis.core.status import SessionStatus
from scis.database import service as explorer
from scis.database.app import EXPLORER_CONNECTION_OPTIONS, reset_explorer_connection
from scis.evidence.chain import append_records, seal_session, start_session
from scis.evidence.records import EventRecord
from scis.reports import jobs, service

ADMIN = User(username="bench", role=Role.admin)
CONTEXT = AuditContext(actor=ADMIN, source_ip=None, request_id=None, service="bench")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROUNDS = 200
CSV_ROWS = 100_000
CSV_SQL = f"SELECT i, 'viewer_' || (i % 500) AS who, md5(i::text) AS body FROM generate_series(1, {CSV_ROWS}) AS i"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def make_case(app_url: str, events: int) -> int:
    """A case with one sealed session of `events` chats and gifts from 500 viewers."""
    async with await psycopg.AsyncConnection.connect(app_url, autocommit=True) as conn:
        cur = await conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('bench', 'x', 'admin') ON CONFLICT DO NOTHING"
        )
        cur = await conn.execute(
            "INSERT INTO cases (reference, title, created_by) VALUES (%s, 'bench', 'bench') RETURNING id",
            (f"B-{uuid.uuid4().hex[:8]}",),
        )
        row = await cur.fetchone()
        assert row is not None
        session_id = uuid.uuid4()
        async with conn.transaction():
            tail, _ = await start_session(conn, session_id=session_id, target="bench_host", source="replay",
                                          case_id=row[0], config={}, started_at=T0,
                                          status=SessionStatus.LIVE)  # fmt: skip
            for start in range(0, events, 5000):
                batch = [
                    EventRecord(kind="gift" if i % 10 == 0 else "chat", captured_at=T0 + timedelta(seconds=i / 10),
                                msg_id=i + 1, user_id=1000 + i % 500, unique_id=f"viewer_{i % 500}",
                                nickname=f"Viewer {i % 500}", body=f"message {i}" if i % 10 else None,
                                gift_id=1 if i % 10 == 0 else None, gift_name="Rose" if i % 10 == 0 else None,
                                diamond_count=1 if i % 10 == 0 else None, repeat_count=1 if i % 10 == 0 else None,
                                raw=f"raw-{i}".encode())
                    for i in range(start, min(events, start + 5000))
                ]  # fmt: skip
                _, tail = await append_records(conn, session_id, tail, batch)
            await seal_session(conn, session_id, status=SessionStatus.ENDED, reason="bench")
        return int(row[0])


async def report_job_seconds(app_url: str, case_id: int) -> tuple[float, float]:
    """(seconds, this process's peak RSS in MB) of one report job from claim to stored PDF."""
    pool = open_pool(app_url, min_size=1, max_size=3)
    await pool.open(wait=True, timeout=30)
    try:
        async with pool.connection() as conn:
            await conn.execute(
                "INSERT INTO report_jobs (kind, case_id, language, requested_by) VALUES ('case', %s, 'en', 'bench')",
                (case_id,),
            )
            started = time.perf_counter()
            job = await jobs.claim(conn, worker="bench", stale_seconds=60)
        assert job is not None
        config = jobs.WorkerConfig(heartbeat_seconds=1, stale_seconds=60, max_attempts=1)
        outcome = await jobs.run_job(pool, job, worker="bench", config=config)
        seconds = time.perf_counter() - started
        assert outcome == "done", outcome
    finally:
        await pool.close()
    return seconds, peak_rss_mb()


def report_job_in_fresh_process(app_url: str, case_id: int) -> tuple[float, float]:
    """The job in a process of its own (spawned: nothing inherited), so the peak RSS is the job's."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(run_report_job, (app_url, case_id))


def run_report_job(app_url: str, case_id: int) -> tuple[float, float]:
    # As a started replica is: WeasyPrint and the fonts loaded at start-up (service.warm_up), not timed.
    started = time.perf_counter()
    service.warm_up()
    print(f"   (replica warm-up {time.perf_counter() - started:.1f} s, not in the job's time)", flush=True)
    return asyncio.run(report_job_seconds(app_url, case_id))


async def explorer_paths(app_url: str, explorer_url: str) -> tuple[list[float], float]:
    """(small-query timings in ms, CSV rows per second)."""
    pool = open_pool(
        explorer_url, min_size=1, max_size=1, reset=reset_explorer_connection,
        connection_options=EXPLORER_CONNECTION_OPTIONS,
    )  # fmt: skip
    app_pool = open_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True, timeout=30)
    await app_pool.open(wait=True, timeout=30)
    try:
        timings = []
        async with app_pool.connection() as app_conn:
            for _ in range(ROUNDS):
                started = time.perf_counter()
                await explorer.run_query(app_conn, pool, statement="SELECT count(*) FROM cases", limit=10,
                                         timeout_ms=5000, context=CONTEXT)  # fmt: skip
                timings.append((time.perf_counter() - started) * 1000)
        checked = explorer.check_statement(CSV_SQL, timeout_ms=120_000)
        started = time.perf_counter()
        lines = 0
        async for chunk in explorer.stream_csv(app_pool, pool, checked, statement=CSV_SQL, limit=CSV_ROWS,
                                               timeout_ms=120_000, context=CONTEXT):  # fmt: skip
            lines += chunk.count(b"\n")
        csv_rate = (lines - 1) / (time.perf_counter() - started)
    finally:
        await pool.close()
        await app_pool.close()
    return timings, csv_rate


def bare(explorer_url: str) -> tuple[list[float], float]:
    with psycopg.connect(explorer_url, autocommit=True) as conn:
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM explorer.cases").fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        rows = 0
        with conn.cursor().copy(f"COPY ({CSV_SQL}) TO STDOUT WITH (FORMAT csv)") as copy:  # type: ignore[arg-type]
            for chunk in copy:
                rows += bytes(chunk).count(b"\n")
        return timings, rows / (time.perf_counter() - started)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def run() -> list[dict[str, Any]]:
    sizes = [int(n) for n in os.environ.get("SCIS_BENCH_REPORT_EVENTS", "10000,100000").split(",")]
    results: list[dict[str, Any]] = []
    with scratch_postgres("reports") as (_, server):
        measured = []
        for events in sizes:
            case_id = asyncio.run(make_case(server.superuser_url, events))
            seconds, peak = report_job_in_fresh_process(server.url, case_id)
            measured.append((events, seconds, peak))
            print(f"   report job, {events} events: {seconds:.1f} s, peak RSS {peak:.0f} MB", flush=True)
        timings, csv_rate = asyncio.run(explorer_paths(server.url, server.explorer_url))
        base_timings, base_csv_rate = bare(server.explorer_url)
    smallest_events, smallest_seconds, smallest_peak = measured[0]
    for events, seconds, peak in measured:
        linear = smallest_seconds * events / smallest_events
        results.append({"name": f"report_job_{events}_events_seconds", "value": round(seconds, 2), "unit": "s",
                        "baseline": round(linear, 2), "ratio": round(seconds / linear, 2),
                        "goal": "100,000 events < 60 s"})  # fmt: skip
        results.append({"name": f"report_job_{events}_events_peak_rss", "value": round(peak, 1), "unit": "MB",
                        "baseline": round(smallest_peak, 1), "ratio": round(peak / smallest_peak, 2),
                        "goal": "<= 1.5x the smallest run"})  # fmt: skip
    print(f"   explorer small query p99: {p99(timings):.1f} ms (bare {p99(base_timings):.2f} ms)")
    print(f"   CSV export: {csv_rate:,.0f} rows/s (COPY ceiling {base_csv_rate:,.0f} rows/s)")
    results.append({"name": "explorer_small_query_p99", "value": round(p99(timings), 2), "unit": "ms",
                    "baseline": round(p99(base_timings), 2), "ratio": round(p99(timings) / p99(base_timings), 1),
                    "goal": "< 250 ms"})  # fmt: skip
    results.append({"name": "explorer_csv_export_rows_per_s", "value": round(csv_rate), "unit": "rows/s",
                    "baseline": round(base_csv_rate), "ratio": round(csv_rate / base_csv_rate, 3),
                    "goal": "streams, caps hold"})  # fmt: skip
    return results


if __name__ == "__main__":
    for row in run():
        print(row)
