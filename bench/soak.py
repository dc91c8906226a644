"""`make soak`: many lives captured for a long time; memory, file descriptors and latency must stay flat.

8 simulated lives at 200 events/s each for SOAK_SECONDS (default 1200 = 20 minutes), captured
as the analyser captures them (one process, one pool, group commit, Redis publishing). The
simulator runs in a process of its own, so its memory (it keeps every message it sent) is not
counted. Every SAMPLE period: resident memory and open file descriptors of this process; every
stored event: commit time minus receipt time. Reported: least-squares slopes of memory and
descriptors after the warm-up, p99 latency of the first and last quarter, and events lost
(sent msg_ids the store does not account for). Rows in bench/results.json shape go to
bench/soak-results.json (SOAK_OUT names another file), the timeline beside it (`-timeline.json`).
Not part of `make test` or `make bench`.

A capture that falls behind is reported as such, not as a leak (decision 421): every sample also
records what the simulator sent, what the captures received and stored, the queue (in memory and
spilled to disk) and the CPU each process used (capture, simulator, PostgreSQL, Redis, and the rest
of the machine). The report adds the backlog left when production ended and the lag from TikTok's
creation time to the commit (both grow when the capture falls behind), the queue's peak and slope,
the in-memory queue's peak against its bound (lives x SCIS_CAPTURE_QUEUE_SIZE: the rest must be on
disk), and the memory slope net of the in-memory backlog (least squares of RSS on time and the
in-memory queue). Latencies are kept as bounded histograms (2 % buckets per sample period), so the
instrument itself does not grow with the events it times.

    SOAK_SECONDS=60 make soak      # a short run to try it
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis.asyncio as aioredis
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
LATENCY_BUCKET_GROWTH = 1.02  # histogram buckets 2 % wide: p99 to within 2 %, a few hundred buckets at most
BEHIND_SECONDS = 5.0  # events still to store when production ended, in seconds of capture: more is behind


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
    """Commit latency (commit time minus receipt time) of every stored TikTok event, as one bounded
    histogram per sample period: a list of every latency grew by ~200 bytes per event (~1 GB an hour
    at 1,600 events/s) in the very process whose memory the soak measures."""

    period: float
    started: float = field(default_factory=time.monotonic)
    periods: dict[int, Counter[int]] = field(default_factory=dict)
    # Commit time minus the message's creation time (the simulator's clock is this machine's): it
    # grows when the capture reads behind, which the commit latency (from receipt) cannot see.
    lag_periods: dict[int, Counter[int]] = field(default_factory=dict)

    def record(self, rows: Sequence[ChainedRecord]) -> None:
        now_wall = datetime.now(UTC)
        index = int((time.monotonic() - self.started) // self.period)
        histogram = self.periods.setdefault(index, Counter())
        lags = self.lag_periods.setdefault(index, Counter())
        for item in rows:
            if item.record.msg_id is not None:
                histogram[latency_bucket(1000 * (now_wall - item.record.captured_at).total_seconds())] += 1
                if item.record.server_time is not None:
                    lags[latency_bucket(1000 * (now_wall - item.record.server_time).total_seconds())] += 1

    def p99_ms(self, start: float, end: float, *, lag: bool = False) -> float:
        """The 99th percentile of the latencies (`lag`: of the lags) of the periods starting within [start, end)."""
        merged: Counter[int] = Counter()
        for index, histogram in (self.lag_periods if lag else self.periods).items():
            if start <= index * self.period < end:
                merged.update(histogram)
        total = sum(merged.values())
        if not total:
            return float("nan")
        seen, rank = 0, 0.99 * total
        for bucket in sorted(merged):
            seen += merged[bucket]
            if seen >= rank:
                return round(LATENCY_BUCKET_GROWTH**bucket, 1)
        return float("nan")  # unreachable: seen ends at total


def latency_bucket(milliseconds: float) -> int:
    """The histogram bucket of a latency: bucket b holds (growth^(b-1), growth^b] ms; 1 ms and below is 0."""
    return 0 if milliseconds <= 1 else math.ceil(math.log(milliseconds) / math.log(LATENCY_BUCKET_GROWTH))


@dataclass(frozen=True)
class Sample:
    """One look at the soak: where the events are, the memory, and who used the CPU since the last look."""

    at: float  # seconds since the soak began
    rss_mb: float  # this process: the captures, their queues and the instrument
    fds: int
    sent: int | None  # what the simulator produced (None: it did not answer in time)
    received: int  # what the captures put in their queues
    stored: int
    queued: int  # received, not stored yet: in memory plus spilled to disk
    queued_in_memory: int
    cpu: dict[str, float]  # percent of one core, per process group, since the previous sample
    load: float
    commit_p99_ms: float | None = None  # of the events stored since the previous sample
    wal_mb: float | None = None  # WAL PostgreSQL wrote since the soak began (full-page images included)
    checkpoints: int | None = None  # checkpoints PostgreSQL began since the soak began


class CpuMeter:
    """CPU time per process group between two calls, in percent of one core.

    A group is a process and everything under it, the children that ended included (their time is in
    the parent's children_* counters): PostgreSQL forks a backend per connection. `capture` is this
    process alone (its children are the simulator and the databases, measured on their own); `others`
    is the rest of the machine (other users of a shared machine)."""

    def __init__(self, groups: dict[str, int | None]) -> None:
        self.groups = {name: pid for name, pid in groups.items() if pid is not None}
        self.last_at = time.monotonic()
        self.last: dict[str, float] = {}
        self.last = self._times()

    def _times(self) -> dict[str, float]:
        times = {"machine": sum(getattr(psutil.cpu_times(), part) for part in ("user", "system", "nice"))}
        for name, pid in self.groups.items():
            try:
                process = psutil.Process(pid)
                own = process.cpu_times()
                total = own.user + own.system
                if pid != os.getpid():
                    total += own.children_user + own.children_system
                    for child in process.children(recursive=True):
                        with_child = child.cpu_times()
                        total += with_child.user + with_child.system
                times[name] = total
            except psutil.Error:  # the process ended (or a child between listing and reading)
                times[name] = self.last.get(name, 0.0)
        return times

    def sample(self) -> dict[str, float]:
        now, times = time.monotonic(), self._times()
        wall = max(now - self.last_at, 1e-6)
        used = {name: max(0.0, times[name] - self.last.get(name, 0.0)) for name in times}
        self.last_at, self.last = now, times
        percent = {name: round(100 * used[name] / wall, 1) for name in self.groups}
        percent["others"] = round(max(0.0, 100 * used["machine"] / wall - sum(percent.values())), 1)
        return percent


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


async def soak(
    plan: SoakPlan, database_url: str, redis_url: str, home: Path, sim_base: str, pids: dict[str, int | None]
) -> tuple[list[dict[str, Any]], list[Sample]]:
    settings = Settings(home=home, tiktok_base_url=sim_base, webcast_base_url=sim_base, watchdog_seconds=10.0)
    pool = open_pool(database_url, min_size=2, max_size=10)
    await pool.open(wait=True)
    redis = aioredis.Redis.from_url(redis_url)
    committer = GroupCommitter(pool, redis=redis)
    latencies = Latencies(plan.sample_seconds)
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
    cpu = CpuMeter({"capture": os.getpid(), **pids})
    samples: list[Sample] = []
    tasks = [asyncio.create_task(c.run()) for c in captures]
    began = time.monotonic()
    growth = AllocationGrowth(plan) if os.environ.get("SOAK_TRACEMALLOC") else None
    # One client for every sample: a client per sample (its own TLS context, the CA bundle loaded by
    # OpenSSL, outside Python's allocator) grew this process ~1.5 MB a sample, which the soak
    # reported as the capture's memory (decision 423).
    sim_client = httpx.AsyncClient(base_url=sim_base, timeout=5)
    try:  # from here on the lives are ended and the captures stopped whatever fails
        wal_meter = await WalMeter.start(pool)
        while time.monotonic() - began < plan.seconds:
            await asyncio.sleep(plan.sample_seconds)
            at = time.monotonic() - began
            sample = await take_sample(at, process, cpu, captures, sim_client)
            samples.append(await wal_meter.add_to(sample, latencies.p99_ms(at - plan.sample_seconds, at)))
            print(sample_line(samples[-1]), flush=True)
            if growth:
                growth.look(samples[-1].at)
    finally:
        # Ended as production stops: each capture reads its backlog, then ends with its live. A live
        # left quiet instead has its sockets deemed dead every watchdog period, and one that ends
        # while its socket reconnects cannot send the end message again (a `live_ended` gap).
        await sim_client.aclose()
        await end_lives(sim_base, captures)
        await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for capture in captures:
            await capture.stop("soak over")
        await asyncio.gather(*tasks, return_exceptions=True)
        await committer.close()
    elapsed = time.monotonic() - began
    lost, duplicated, broken = await account(sim_base, captures, pool)
    await redis.aclose()
    await pool.close()
    bound = plan.lives * settings.capture_queue_size
    results = [*rows(plan, elapsed, captures, latencies, samples, lost, duplicated, broken),
               *behind_rows(plan, samples, bound, latencies, sum(c.stats.events_total for c in captures)),
               *cpu_rows(samples), *wal_rows(plan, samples), load_row([s.load for s in samples])]  # fmt: skip
    return results, samples


class AllocationGrowth:
    """SOAK_TRACEMALLOC=1: where Python memory grew between the end of the warm-up and the end of
    production (tracemalloc, by source line). A diagnostic: tracing slows the capture several times."""

    def __init__(self, plan: SoakPlan) -> None:
        self.plan = plan
        self.first: tracemalloc.Snapshot | None = None
        self.done = False
        tracemalloc.start(1)

    def look(self, at: float) -> None:
        if self.first is None and at >= self.plan.seconds * WARM_UP_FRACTION:
            self.first = tracemalloc.take_snapshot()
        elif self.first is not None and not self.done and at >= self.plan.seconds:
            self.done = True
            stats = tracemalloc.take_snapshot().compare_to(self.first, "lineno")
            print("   Python allocations grown since the warm-up (tracemalloc, top 15):", flush=True)
            for stat in stats[:15]:
                print(
                    f"     {stat.size_diff / 2**20:+8.2f} MB {stat.count_diff:+9d} blocks  {stat.traceback}", flush=True
                )
            tracemalloc.stop()


class WalMeter:
    """WAL written and checkpoints begun since the soak began: a commit that slows down as the table
    grows is read against them (a checkpoint makes the next change of each page log the whole page)."""

    SQL = "SELECT pg_current_wal_lsn() AS lsn, (SELECT num_timed + num_requested FROM pg_stat_checkpointer) AS begun"

    def __init__(self, pool: AsyncConnectionPool[Any], lsn: str, checkpoints: int) -> None:
        self.pool, self.lsn, self.checkpoints = pool, lsn, checkpoints

    @classmethod
    async def start(cls, pool: AsyncConnectionPool[Any]) -> WalMeter:
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = await (await cur.execute(cls.SQL)).fetchone()
        return cls(pool, str(row["lsn"]), int(row["begun"])) if row else cls(pool, "0/0", 0)

    async def add_to(self, sample: Sample, commit_p99_ms: float) -> Sample:
        try:
            async with self.pool.connection(timeout=5) as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(f"SELECT pg_wal_lsn_diff(lsn, %s) AS written, begun FROM ({self.SQL}) AS now",
                                  (self.lsn,))  # fmt: skip
                row = await cur.fetchone()
        except (psycopg.Error, PoolTimeout):  # the store is busy or down: the sample stays without them
            return replace(sample, commit_p99_ms=commit_p99_ms)
        if row is None:
            return replace(sample, commit_p99_ms=commit_p99_ms)
        wal_mb, begun = round(float(row["written"]) / 2**20, 1), int(row["begun"]) - self.checkpoints
        return replace(sample, commit_p99_ms=commit_p99_ms, wal_mb=wal_mb, checkpoints=begun)


async def take_sample(
    at: float, process: psutil.Process, cpu: CpuMeter, captures: list[LiveCapture], sim_client: httpx.AsyncClient
) -> Sample:
    queued = sum(c.queue.qsize() for c in captures)
    return Sample(
        at=round(at, 1),
        rss_mb=round(process.memory_info().rss / 2**20, 1),
        fds=process.num_fds(),
        sent=await simulator_sent(sim_client),
        received=sum(c.queue.put_seq for c in captures),
        stored=sum(c.stats.events_total for c in captures),
        queued=queued,
        queued_in_memory=queued - sum(c.queue.pending_in_files for c in captures),
        cpu=cpu.sample(),
        load=os.getloadavg()[0],
    )


def sample_line(sample: Sample) -> str:
    cpu = " ".join(f"{name} {value:.0f}%" for name, value in sample.cpu.items())
    return (f"   {sample.at:7.0f}s  rss {sample.rss_mb:7.1f} MB  fds {sample.fds:4d}  sent {sample.sent!s:>9}  "
            f"received {sample.received:>9}  stored {sample.stored:>9}  "
            f"queued {sample.queued:>8} (memory {sample.queued_in_memory})  "
            f"cpu {cpu}  load {sample.load:.1f}  commit p99 {sample.commit_p99_ms} ms  "
            f"wal {sample.wal_mb} MB  checkpoints {sample.checkpoints}")  # fmt: skip


async def simulator_sent(client: httpx.AsyncClient) -> int | None:
    """Messages the simulator produced so far over all rooms; None when it is too busy to answer."""
    try:
        answer = await client.get("/_sim/rooms")
        answer.raise_for_status()
        return sum(int(room["sent"]) for room in answer.json())
    except httpx.HTTPError:
        return None


def wal_per_thousand(samples: Sequence[Sample]) -> float:
    """MB of WAL per 1,000 events stored between the first and the last of `samples`."""
    known = [p for p in samples if p.wal_mb is not None]
    if len(known) < 2 or known[-1].stored == known[0].stored:
        return float("nan")
    return 1000 * (known[-1].wal_mb - known[0].wal_mb) / (known[-1].stored - known[0].stored)  # type: ignore[operator]


def wal_rows(plan: SoakPlan, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """WAL per event in the first and the last quarter: it grows when more of each commit is whole
    pages logged again after a checkpoint (indexes larger than what a checkpoint cycle touches once)."""
    warm, quarter = plan.seconds * WARM_UP_FRACTION, plan.seconds / 4
    first = wal_per_thousand([p for p in samples if warm <= p.at <= warm + quarter])
    last = wal_per_thousand([p for p in samples if plan.seconds - quarter <= p.at <= plan.seconds])
    checkpoints = max((p.checkpoints for p in samples if p.checkpoints is not None), default=None)
    return [
        {"name": "soak_wal_mb_per_1000_events_last_quarter", "value": round(last, 2), "unit": "MB",
         "baseline": round(first, 2), "ratio": round(last / first, 2) if first and first == first else None,
         "goal": f"context: PostgreSQL's WAL per 1,000 stored events, against the first quarter's; "
                 f"{checkpoints} checkpoints during the soak"},
    ]  # fmt: skip


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
    plan: SoakPlan, elapsed: float, captures: list[LiveCapture], latencies: Latencies, samples: list[Sample],
    lost: int, duplicated: int, broken: int,
) -> list[dict[str, Any]]:  # fmt: skip
    steady = steady_samples(plan, samples)
    quarter = plan.seconds / 4
    warm = plan.seconds * WARM_UP_FRACTION
    first_p99 = latencies.p99_ms(warm, warm + quarter)
    last_p99 = latencies.p99_ms(plan.seconds - quarter, plan.seconds)
    events = sum(c.stats.events_total for c in captures)
    label = f"{plan.lives} lives x {plan.rate:g}/s for {plan.seconds:g}s"
    rss_slope = round(slope_per_hour([(p.at, p.rss_mb) for p in steady]), 2)
    rss_range = f"{steady[0].rss_mb:.0f} -> {steady[-1].rss_mb:.0f} MB" if steady else "not sampled"
    return [
        {"name": "soak_events_stored", "value": events, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"every event sent ({label})"},
        {"name": "soak_events_lost", "value": lost, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"0 (also {duplicated} duplicated, {broken} chains broken: both must be 0)"},
        {"name": "soak_rss_slope", "value": rss_slope, "unit": "MB/hour", "baseline": None, "ratio": None,
         "goal": f"< {GOAL_RSS_SLOPE_MB_PER_HOUR:g} MB/hour after warm-up (flat); rss {rss_range}; "
                 "if the capture fell behind, read soak_rss_slope_net_of_backlog"},
        {"name": "soak_open_fds_slope", "value": round(slope_per_hour([(p.at, p.fds) for p in steady]), 2),
         "unit": "fds/hour", "baseline": None, "ratio": None, "goal": "~0 (flat)"},
        {"name": "soak_commit_latency_p99_last_quarter", "value": last_p99, "unit": "ms", "baseline": first_p99,
         "ratio": round(last_p99 / first_p99, 2) if first_p99 and first_p99 == first_p99 else None,
         "goal": f"<= {GOAL_P99_GROWTH:g}x the first quarter's p99 (stable; it grows with the queue when behind)"},
        {"name": "soak_duration", "value": round(elapsed), "unit": "s", "baseline": None, "ratio": None,
         "goal": "SOAK_SECONDS (1200 for the full soak) plus the drain"},
    ]  # fmt: skip


def steady_samples(plan: SoakPlan, samples: list[Sample]) -> list[Sample]:
    """The samples after the warm-up and while the lives still produced."""
    return [p for p in samples if plan.seconds * WARM_UP_FRACTION <= p.at <= plan.seconds]


def behind_rows(
    plan: SoakPlan, samples: list[Sample], memory_bound: int, latencies: Latencies, stored_total: int
) -> list[dict[str, Any]]:
    """Whether the capture kept up with what was offered, and what its backlog did to memory.

    Behind means: at the end of production, events were still to be stored (waiting before the queue
    in sockets and the decoder, or in the queue), or the lag from TikTok's creation time to the commit
    grew. The simulator's `sent` counts every gift-streak frame, so it is more than the events stored
    even when nothing waits: it is context, not the measure."""
    offered = plan.lives * plan.rate
    during = [p for p in samples if p.at <= plan.seconds]
    stored_rate = during[-1].stored / during[-1].at if during else float("nan")
    sent = [(p.at, p.sent) for p in during if p.sent is not None]
    sent_rate = sent[-1][1] / sent[-1][0] if sent else float("nan")
    # Stored after the last sample of production, less what was still produced between that sample and
    # the end of production (up to a sample interval of events, not a backlog).
    produced_after = stored_rate * (plan.seconds - during[-1].at) if during else 0.0
    backlog = max(0, round(stored_total - during[-1].stored - produced_after)) if during else 0
    backlog_seconds = backlog / stored_rate if stored_rate else float("nan")
    warm, quarter = plan.seconds * WARM_UP_FRACTION, plan.seconds / 4
    first_lag = latencies.p99_ms(warm, warm + quarter, lag=True)
    last_lag = latencies.p99_ms(plan.seconds - quarter, plan.seconds, lag=True)
    lag_growth = last_lag / first_lag if first_lag and first_lag == first_lag else float("nan")
    kept_up = backlog_seconds <= BEHIND_SECONDS and not lag_growth > GOAL_P99_GROWTH
    steady = steady_samples(plan, samples)
    queue_slope = slope_per_hour([(p.at, p.queued) for p in steady])
    peak = max((p.queued for p in samples), default=0)
    peak_memory = max((p.queued_in_memory for p in samples), default=0)
    net_slope, per_thousand = rss_net_of_backlog(steady)
    verdict = ("the capture kept up" if kept_up else
               f"the capture FELL BEHIND: {backlog} events ({backlog_seconds:.0f} s of capture) were still to store "
               f"when production ended, lag p99 {first_lag:.0f} -> {last_lag:.0f} ms; see the CPU rows")  # fmt: skip
    return [
        {"name": "soak_backlog_at_end", "value": backlog, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"<= {BEHIND_SECONDS:g} s of capture ({backlog_seconds:.1f} s) and a stable lag: {verdict}"},
        {"name": "soak_lag_p99_last_quarter", "value": last_lag, "unit": "ms", "baseline": first_lag,
         "ratio": round(lag_growth, 2) if lag_growth == lag_growth else None,
         "goal": f"<= {GOAL_P99_GROWTH:g}x the first quarter's: TikTok's creation time to commit (grows when behind)"},
        {"name": "soak_stored_rate", "value": round(stored_rate, 1), "unit": "events/s", "baseline": offered,
         "ratio": round(stored_rate / offered, 3) if offered else None,
         "goal": "context: events stored per second while the lives produced (gift streaks fold frames into one)"},
        {"name": "soak_sent_rate", "value": round(sent_rate, 1), "unit": "messages/s", "baseline": offered,
         "ratio": round(sent_rate / offered, 3) if offered and sent_rate == sent_rate else None,
         "goal": "context: messages the simulator produced, every gift-streak frame counted (it shares the CPU too)"},
        {"name": "soak_queue_peak", "value": peak, "unit": "events", "baseline": None, "ratio": None,
         "goal": f"context: received, not yet stored (memory + spill files); slope {queue_slope:.0f} events/hour "
                 "after warm-up (> 0: the writer is behind)"},
        {"name": "soak_queue_in_memory_peak", "value": peak_memory, "unit": "events", "baseline": memory_bound,
         "ratio": round(peak_memory / memory_bound, 3),
         "goal": f"<= {memory_bound} (lives x SCIS_CAPTURE_QUEUE_SIZE): the rest of a backlog is spilled to disk"},
        {"name": "soak_rss_slope_net_of_backlog", "value": net_slope, "unit": "MB/hour", "baseline": None,
         "ratio": None, "goal": f"< {GOAL_RSS_SLOPE_MB_PER_HOUR:g} MB/hour: RSS fitted on time and the in-memory "
                                f"queue ({per_thousand} MB per 1,000 queued events), the time part"},
    ]  # fmt: skip


def rss_net_of_backlog(samples: list[Sample]) -> tuple[float, float]:
    """Least squares of rss = a + b*t + c*queued_in_memory: b per hour (a leak), c per 1,000 events (the
    backlog's cost). With a queue that did not vary, it is the plain slope."""
    if len(samples) < 4:
        return float("nan"), float("nan")
    ts = [p.at for p in samples]
    qs = [float(p.queued_in_memory) for p in samples]
    ys = [p.rss_mb for p in samples]
    mt, mq, my = statistics.fmean(ts), statistics.fmean(qs), statistics.fmean(ys)
    stt = sum((t - mt) ** 2 for t in ts)
    sqq = sum((q - mq) ** 2 for q in qs)
    stq = sum((t - mt) * (q - mq) for t, q in zip(ts, qs, strict=True))
    sty = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True))
    sqy = sum((q - mq) * (y - my) for q, y in zip(qs, ys, strict=True))
    determinant = stt * sqq - stq**2
    if sqq == 0 or abs(determinant) < 1e-9 * stt * sqq:  # the queue did not vary (or moved with time alone)
        return round(slope_per_hour(list(zip(ts, ys, strict=True))), 2), float("nan")
    per_second = (sqq * sty - stq * sqy) / determinant
    per_event = (stt * sqy - stq * sty) / determinant
    return round(per_second * 3600, 2), round(per_event * 1000, 3)


def cpu_rows(samples: list[Sample]) -> list[dict[str, Any]]:
    """Mean CPU of each process over the soak, in percent of one core (this machine has os.cpu_count())."""
    names = list(samples[0].cpu) if samples else []
    cores = os.cpu_count() or 1
    return [
        {"name": f"soak_cpu_{name}", "value": round(statistics.fmean(p.cpu[name] for p in samples), 1),
         "unit": "% of a core", "baseline": None, "ratio": None,
         "goal": f"context: peak {max(p.cpu[name] for p in samples):.0f} %; {cores} cores = {100 * cores} %"}
        for name in names
    ]  # fmt: skip


def run(plan: SoakPlan | None = None) -> tuple[list[dict[str, Any]], list[Sample]]:
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
            pids = {"simulator": simulator.pid, "postgres": postgres.process.pid, "redis": redis_server.process.pid}
            return asyncio.run(soak(plan, postgres.url, redis_server.url, home, f"http://127.0.0.1:{sim_port}", pids))
        finally:
            simulator.terminate()
            simulator.wait(30)
            redis_server.stop()
            postgres.stop()


def main() -> int:
    results, samples = run()
    print(f"\n{'name':<40} {'value':>10} {'unit':<9} {'baseline':>9} {'ratio':>6}  goal")
    for r in results:
        print(f"{r['name']:<40} {r['value']!s:>10} {r['unit']:<9} {r['baseline']!s:>9} {r['ratio']!s:>6}  {r['goal']}")
    out = Path(os.environ.get("SOAK_OUT", HERE / "soak-results.json"))
    out.write_text(json.dumps(results, indent=2) + "\n")
    timeline = out.with_name(f"{out.stem}-timeline.json")
    timeline.write_text(json.dumps([asdict(sample) for sample in samples], indent=1) + "\n")
    print(f"results in {out}, the timeline (queue, memory, CPU per sample) in {timeline}")
    lost = next(r for r in results if r["name"] == "soak_events_lost")
    return 0 if lost["value"] == 0 and "also 0 duplicated, 0 chains broken" in str(lost["goal"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
