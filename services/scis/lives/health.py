"""The health of the captures the store lists as open, for `scis status`.

The store says which sessions are open and when each last stored a record; the /metrics of the
services that run captures (the analyser) say which of them a process still runs and how full its
queue and spill file are. A session no process reports and that stored nothing for
STALE_AFTER_SECONDS is called abandoned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from scis.lives.metrics import STALE_AFTER_SECONDS
from scis.lives.models import CaptureHealth, OpenSession
from scis.lives.service import open_sessions

QUIET_AFTER_SECONDS = 60
Gauges = dict[str, dict[str, float]]  # target -> metric name -> value


def running_captures(metrics_text: str) -> Gauges:
    """Per-live capture gauges from one /metrics answer, by target."""
    found: Gauges = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name not in ("scis_capture_queue_depth", "scis_capture_spill_bytes"):
            continue
        for sample in family.samples:
            found.setdefault(sample.labels["target"], {})[sample.name] = sample.value
    return found


def verdict_of(session: OpenSession, gauges: Mapping[str, float] | None) -> str:
    if gauges is None and session.idle_seconds > STALE_AFTER_SECONDS:
        return f"ABANDONED? no process reports it, nothing stored for {session.idle_seconds:.0f} s"
    if gauges and gauges.get("scis_capture_spill_bytes", 0) > 0:
        return "spilling: the store is behind"
    if session.idle_seconds > QUIET_AFTER_SECONDS:
        return f"quiet for {session.idle_seconds:.0f} s"
    return "capturing"


async def fetch_metrics(runners: Mapping[str, str]) -> dict[str, str]:
    """runners: service name -> base URL; returns the /metrics answer of each one that answered."""
    async with httpx.AsyncClient(timeout=3.0) as client:
        asked = [client.get(f"{url}/metrics") for url in runners.values()]
        answers = await asyncio.gather(*asked, return_exceptions=True)
    return {
        name: answer.text
        for name, answer in zip(runners, answers, strict=True)
        if isinstance(answer, httpx.Response) and answer.status_code == 200
    }


async def capture_health(database_url: str, metrics_of_runners: Mapping[str, str]) -> list[CaptureHealth]:
    """metrics_of_runners: service name -> its /metrics answer."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        sessions = await open_sessions(conn)
    reported: dict[str, tuple[str, dict[str, float]]] = {}
    for name, text in metrics_of_runners.items():
        for target, found in running_captures(text).items():
            reported[target] = (name, found)
    health = []
    for session in sessions:
        runner: str | None = None
        gauges: dict[str, float] | None = None
        if session.target in reported:
            runner, gauges = reported[session.target]
        health.append(CaptureHealth(
            session=session, runner=runner, verdict=verdict_of(session, gauges),
            queue_depth=None if gauges is None else int(gauges.get("scis_capture_queue_depth", 0)),
            spill_bytes=None if gauges is None else int(gauges.get("scis_capture_spill_bytes", 0)),
        ))  # fmt: skip
    return health


def describe(item: CaptureHealth) -> str:
    s = item.session
    queue = "-" if item.queue_depth is None else str(item.queue_depth)
    spill = "-" if item.spill_bytes is None else f"{item.spill_bytes} B"
    return (
        f"  @{s.target:<20} {s.status:<8} {s.events_count:>9} records  last {s.idle_seconds:>6.0f} s ago  "
        f"queue {queue:>6}  spill {spill:>8}  run by {item.runner or '-':<9} {item.verdict}  ({s.id})"
    )
