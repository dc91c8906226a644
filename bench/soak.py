"""`make soak`: many lives captured for a long time; memory, file descriptors and latency must stay flat.

8 simulated lives at 200 events/s each for SOAK_SECONDS (default 1200 = 20 minutes), captured
as the analyser captures them (one process, one pool, group commit, Redis publishing). The
simulator runs in a process of its own, so its memory (it keeps every message it sent) is not
counted. Every SAMPLE period: resident memory and open file descriptors of this process; every
stored event: commit time minus receipt time. Reported: least-squares slopes of memory and
descriptors after the warm-up, p99 latency of the first and last quarter, and events lost
(sent msg_ids the store does not account for). Rows in bench/results.json shape go to
bench/soak-results.json. Not part of `make test` or `make bench`.

    SOAK_SECONDS=60 make soak      # a short run to try it
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis
from psycopg.rows import dict_row

from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.runner import tune_gc
from scis.capture.sources.websocket import WebsocketSource
from scis.capture.stats import CaptureStats
from scis.capture.writer import GroupCommitter
from scis.core.db import open_pool
from scis.core.settings import Settings
from scis.embedded.ports import free_port, wait_for_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.embedded.redis import EmbeddedRedis
from scis.evidence.records import ChainedRecord
from scis.evidence.verify import verify_session
from tests.capture.support import stored_msg_ids

HERE = Path(__file__).parent
WARM_UP_FRACTION = 0.15
GOAL_RSS_SLOPE_MB_PER_HOUR = 20.0
GOAL_P99_GROWTH = 2.0
DRAIN_SECONDS = 600.0  # after the lives end, how long the captures may take to store their backlog


@dataclass(frozen=True)
class SoakPlan:
    seconds: float
    lives: int
    rate: float

    @classmethod
    def from_env(cls) -> SoakPlan:
        return cls(
            seconds=float(os.environ.get("SOAK_SECONDS", "1200")),
            lives=int(os.environ.get("SOAK_LIVES", "8")),
            rate=float(os.environ.get("SOAK_RATE", "200")),
        )

    @property
    def events_per_live(self) -> int:
        return int(self.seconds * self.rate)

    @property
    def sample_seconds(self) -> float:
        return max(1.0, self.seconds / 120)


@dataclass
class Latencies:
    """(seconds since the soak began, commit latency) of every stored TikTok event."""

    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, float]] = field(default_factory=list)

    def record(self, rows: Sequence[ChainedRecord]) -> None:
        now_wall, now = datetime.now(UTC), time.monotonic() - self.started
        for item in rows:
            if item.record.msg_id is not None:
                self.samples.append((now, (now_wall - item.record.captured_at).total_seconds()))

    def p99_ms(self, start: float, end: float) -> float:
        window = sorted(latency for at, latency in self.samples if start <= at < end)
        return round(1000 * window[int(0.99 * (len(window) - 1))], 1) if window else float("nan")


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 3:
        return float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return statistics.linear_regression(xs, ys).slope * 3600


def attach_latency(capture: LiveCapture, latencies: Latencies) -> None:
    """Time each stored batch too: the writer calls stats.stored after every commit."""
    original = capture.stats

    class TimedStats(CaptureStats):
        def stored(self, rows: Sequence[ChainedRecord]) -> None:
            super().stored(rows)
            latencies.record(rows)

    capture.stats = TimedStats(original.session_id, original.target, original.source, original.case_id)


def start_simulator(plan: SoakPlan, port: int, log: Path) -> subprocess.Popen[bytes]:
    handles = [arg for index in range(plan.lives) for arg in ("--handle", f"soak.{index}")]
    return subprocess.Popen(
        [sys.executable, "-m", "scis", "simulate", "--port", str(port), *handles, "--rate", str(plan.rate),
         "--max-events", str(plan.events_per_live), "--seed", "7"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def sent_ids(base: str, handle: str) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        answer = await client.get(f"/_sim/rooms/{handle}/sent")
        answer.raise_for_status()
        return [int(m["msg_id"]) for m in answer.json()]


async def soak(plan: SoakPlan, database_url: str, redis_url: str, home: Path, sim_base: str) -> list[dict[str, Any]]:
    settings = Settings(home=home, tiktok_base_url=sim_base, webcast_base_url=sim_base, watchdog_seconds=10.0)
    pool = open_pool(database_url, min_size=2, max_size=10)
    await pool.open(wait=True)
    redis = aioredis.Redis.from_url(redis_url)
    committer = GroupCommitter(pool, redis=redis)
    latencies = Latencies()
    captures = []
    for index in range(plan.lives):
        handle = f"soak.{index}"
        source = WebsocketSource(handle, tiktok_base_url=sim_base, webcast_base_url=sim_base,
                                 watchdog_seconds=settings.watchdog_seconds)  # fmt: skip
        request = CaptureRequest(target=handle, source="websocket", session_id=uuid.uuid4())
        capture = LiveCapture(request, source, pool=pool, settings=settings, redis=redis, committer=committer)
        attach_latency(capture, latencies)
        captures.append(capture)
    process = psutil.Process()
    memory: list[tuple[float, float]] = []
    descriptors: list[tuple[float, float]] = []
    loads: list[float] = []  # the machine's 1-minute load average: a shared machine skews every figure
    tasks = [asyncio.create_task(c.run()) for c in captures]
    began = time.monotonic()
    try:
        while time.monotonic() - began < plan.seconds + 120:
            await asyncio.sleep(plan.sample_seconds)
            at = time.monotonic() - began
            memory.append((at, process.memory_info().rss / 2**20))
            descriptors.append((at, process.num_fds()))
            loads.append(os.getloadavg()[0])
            done = sum(c.stats.events_total for c in captures)
            print(f"   {at:7.0f}s  rss {memory[-1][1]:7.1f} MB  fds {descriptors[-1][1]:4.0f}  "
                  f"events {done:>9}  queued {sum(c.queue.qsize() for c in captures)}  load {loads[-1]:.1f}",
                  flush=True)  # fmt: skip
            if at >= plan.seconds and await all_sent_stored(sim_base, captures, pool):
                break
    finally:
        await end_lives(sim_base, captures)  # each capture reads its backlog, then ends with its live
        await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for capture in captures:
            await capture.stop("soak over")
        await asyncio.gather(*tasks, return_exceptions=True)
        await committer.close()
    elapsed = time.monotonic() - began
    lost, duplicated, broken = await account(sim_base, captures, pool)
    await redis.aclose()
    await pool.close()
    return [*rows(plan, elapsed, captures, latencies, memory, descriptors, lost, duplicated, broken), load_row(loads)]


def load_row(loads: Sequence[float]) -> dict[str, Any]:
    """The machine's load while the soak ran: the latency and memory figures are read against it."""
    mean = round(statistics.fmean(loads), 2) if loads else float("nan")
    peak = round(max(loads), 2) if loads else float("nan")
    return {
        "name": "soak_load_average",
        "value": mean,
        "unit": "load",
        "baseline": None,
        "ratio": None,
        "goal": f"context only: mean of the 1-minute load average (peak {peak}) on this machine",
    }


async def end_lives(sim_base: str, captures: list[LiveCapture]) -> None:
    """End every simulated live: production stops, what was produced is still sent, then the end message."""
    async with httpx.AsyncClient(base_url=sim_base, timeout=120) as client:
        for capture in captures:
            try:
                await client.post(f"/_sim/rooms/{capture.request.target}/fault/end")
            except httpx.HTTPError as error:  # a saturated simulator: the capture is stopped after the drain
                print(f"   could not end @{capture.request.target}: {error!r}", flush=True)


async def all_sent_stored(sim_base: str, captures: list[LiveCapture], pool: Any) -> bool:
    """Every room has sent all its events and the store accounts for each of them."""
    async with httpx.AsyncClient(base_url=sim_base, timeout=30) as client:
        for capture in captures:
            try:
                answer = await client.get(f"/_sim/rooms/{capture.request.target}")
            except httpx.HTTPError:  # the simulator is saturated (a loaded machine): not yet
                return False
            if not answer.json().get("finished"):
                return False
    if any(capture.queue.qsize() for capture in captures):
        return False
    lost, _, _ = await account(sim_base, captures, pool)
    return lost == 0


async def account(sim_base: str, captures: list[LiveCapture], pool: Any) -> tuple[int, int, int]:
    """Events sent but not stored, stored twice, and sessions whose chain does not verify."""
    lost = duplicated = broken = 0
    for capture in captures:
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT msg_id, data FROM events WHERE session_id = %s", (capture.session_id,))
            stored = stored_msg_ids(await cur.fetchall())
            broken += 0 if (await verify_session(conn, capture.session_id)).intact else 1
        sent = set(await sent_ids(sim_base, capture.request.target))
        lost += len(sent - set(stored))
        duplicated += len(stored) - len(set(stored))
    return lost, duplicated, broken


def rows(
    plan: SoakPlan, elapsed: float, captures: list[LiveCapture], latencies: Latencies,
    memory: list[tuple[float, float]], descriptors: list[tuple[float, float]], lost: int, duplicated: int, broken: int,
) -> list[dict[str, Any]]:  # fmt: skip
    warm = plan.seconds * WARM_UP_FRACTION
    steady_memory = [p for p in memory if warm <= p[0] <= plan.seconds]
    steady_fds = [p for p in descriptors if warm <= p[0] <= plan.seconds]
    quarter = plan.seconds / 4
    first_p99 = latencies.p99_ms(warm, warm + quarter)
    last_p99 = latencies.p99_ms(plan.seconds - quarter, plan.seconds)
    events = sum(c.stats.events_total for c in captures)
    label = f"{plan.lives} lives x {plan.rate:g}/s for {plan.seconds:g}s"
    rss_slope = round(slope_per_hour(steady_memory), 2)
    rss_range = f"{steady_memory[0][1]:.0f} -> {steady_memory[-1][1]:.0f} MB" if steady_memory else "not sampled"
    return [
        {"name": "soak_events_stored", "value": events, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"every event sent ({label})"},
        {"name": "soak_events_lost", "value": lost, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"0 (also {duplicated} duplicated, {broken} chains broken: both must be 0)"},
        {"name": "soak_rss_slope", "value": rss_slope, "unit": "MB/hour", "baseline": None, "ratio": None,
         "goal": f"< {GOAL_RSS_SLOPE_MB_PER_HOUR:g} MB/hour after warm-up (flat); rss {rss_range}"},
        {"name": "soak_open_fds_slope", "value": round(slope_per_hour(steady_fds), 2), "unit": "fds/hour",
         "baseline": None, "ratio": None, "goal": "~0 (flat)"},
        {"name": "soak_commit_latency_p99_last_quarter", "value": last_p99, "unit": "ms", "baseline": first_p99,
         "ratio": round(last_p99 / first_p99, 2) if first_p99 and first_p99 == first_p99 else None,
         "goal": f"<= {GOAL_P99_GROWTH:g}x the first quarter's p99 (stable)"},
        {"name": "soak_duration", "value": round(elapsed), "unit": "s", "baseline": None, "ratio": None,
         "goal": "SOAK_SECONDS (1200 for the full soak) plus the drain"},
    ]  # fmt: skip


def run(plan: SoakPlan | None = None) -> list[dict[str, Any]]:
    plan = plan or SoakPlan.from_env()
    print(f"soak: {plan.lives} lives x {plan.rate:g} events/s for {plan.seconds:g}s", flush=True)
    with tempfile.TemporaryDirectory(prefix="scis-soak-") as folder:
        home = Path(folder)
        home.chmod(0o755)
        postgres = EmbeddedPostgres(home / "postgres", free_port(), home / "postgres.log")
        redis_server = EmbeddedRedis(home / "redis", free_port(), home / "redis.log")
        sim_port = free_port()
        simulator = start_simulator(plan, sim_port, home / "simulator.log")
        try:
            postgres.start()
            redis_server.start()
            postgres.migrate()  # as the owner; the capture path runs as scis_app
            if not wait_for_port(sim_port, timeout=60):
                raise RuntimeError(f"the simulator did not start: {(home / 'simulator.log').read_text()[-2000:]}")
            tune_gc()  # as a capture process does
            return asyncio.run(soak(plan, postgres.url, redis_server.url, home, f"http://127.0.0.1:{sim_port}"))
        finally:
            simulator.terminate()
            simulator.wait(30)
            redis_server.stop()
            postgres.stop()


def main() -> int:
    results = run()
    print(f"\n{'name':<40} {'value':>10} {'unit':<9} {'baseline':>9} {'ratio':>6}  goal")
    for r in results:
        print(f"{r['name']:<40} {r['value']!s:>10} {r['unit']:<9} {r['baseline']!s:>9} {r['ratio']!s:>6}  {r['goal']}")
    (HERE / "soak-results.json").write_text(json.dumps(results, indent=2) + "\n")
    lost = next(r for r in results if r["name"] == "soak_events_lost")
    return 0 if lost["value"] == 0 and "also 0 duplicated, 0 chains broken" in str(lost["goal"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
