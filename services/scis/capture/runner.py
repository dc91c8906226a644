"""A capture as a process of its own (`scis capture`, `scis monitor`): signals, exit codes, connections."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable

import psycopg
from prometheus_client import start_http_server

from scis.capture.pipeline import CaptureRequest, LiveCapture, ProgressSink
from scis.capture.sources.base import CaptureSource
from scis.capture.stats import CaptureStats
from scis.core import bus, cases
from scis.core.db import open_pool, redact
from scis.core.settings import Settings
from scis.core.status import SessionStatus

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_OFFLINE = 3
EXIT_NOT_FOUND = 4
EXIT_UNAVAILABLE = 5  # private live, or not available in this country
EXIT_BUSY = 6  # another process holds the capture lease of the target or session
EXIT_PARKED = 7  # stopped while the store took nothing: unsealed, everything received in the spill folder
# Any other status (failed, or one added later) exits EXIT_FAILED.
EXIT_CODES = {
    SessionStatus.ENDED: EXIT_OK,
    SessionStatus.STOPPED: EXIT_OK,
    SessionStatus.OFFLINE: EXIT_OFFLINE,
    SessionStatus.NOT_FOUND: EXIT_NOT_FOUND,
    SessionStatus.PRIVATE: EXIT_UNAVAILABLE,
    SessionStatus.BLOCKED: EXIT_UNAVAILABLE,
}


def tune_gc() -> None:
    """Fewer cyclic-GC passes: a capture allocates many short-lived dicts and almost no cycles.

    Measured +10-15 % ingest throughput (bench/ingest_bench.py); memory stays bounded because
    reference counting frees the events, the collector only finds the rare cycles later.
    """
    gc.set_threshold(50_000, 20, 100)


class CaptureUsageError(Exception):
    """Bad arguments or references (unknown case, ...); exit 2 with this message."""


def exit_code_of(stats: CaptureStats) -> int:
    if stats.parked is not None:
        return EXIT_PARKED
    return EXIT_CODES.get(stats.status, EXIT_FAILED)


def progress_reporter() -> ProgressSink | None:
    try:
        from scis.kube.progress import ProgressReporter
    except ImportError:
        return None
    reporter = ProgressReporter.from_env()
    return reporter if reporter.enabled else None


async def check_case(database_url: str, case_id: int | None) -> None:
    if case_id is None:
        return
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        try:
            await cases.get_or_raise(conn, case_id=case_id)
        except cases.CaseNotFound:
            raise CaptureUsageError(f"--case-id {case_id}: no such case") from None


async def run_capture_process(
    request: CaptureRequest,
    source: CaptureSource,
    settings: Settings,
    *,
    database_url: str,
    redis_url: str | None,
    on_tick: Callable[[LiveCapture], None] | None = None,
    tick_seconds: float = 1.0,
) -> CaptureStats:
    """Run one capture until the live ends or SIGTERM/SIGINT; a second signal abandons the flush."""
    tune_gc()
    if settings.capture_metrics_port:
        # A capture Pod is its own process: Prometheus scrapes its capture metrics here.
        start_http_server(settings.capture_metrics_port)
    try:
        await check_case(database_url, request.case_id)
    except psycopg.OperationalError as error:
        raise CaptureUsageError(f"cannot reach PostgreSQL at {redact(database_url)}: {error}") from None
    pool = open_pool(database_url, min_size=1, max_size=3)
    await pool.open(wait=True, timeout=30)
    # Publishing is best effort (the store is the truth): fail fast instead of redis-py's retry backoff,
    # which would hold the store stage for seconds per batch during a Redis outage.
    redis = bus.connect(redis_url, fail_fast=True) if redis_url else None
    capture = LiveCapture(request, source, pool=pool, settings=settings, redis=redis, progress=progress_reporter())
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signals_seen: list[int] = []

    def on_signal(signum: int) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            log.warning("%s: flushing and sealing the capture", signal.Signals(signum).name)
            loop.create_task(capture.stop(f"stopped by {signal.Signals(signum).name}"))
        elif main is not None:
            log.error("second signal: abandoning the flush; the spill file is replayed by the next run")
            main.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    ticker = asyncio.create_task(_tick(capture, on_tick, tick_seconds)) if on_tick else None
    try:
        return await capture.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if on_tick is not None:
                on_tick(capture)
        if redis is not None:
            await redis.aclose()
        await pool.close()


async def _tick(capture: LiveCapture, on_tick: Callable[[LiveCapture], None], seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        on_tick(capture)
