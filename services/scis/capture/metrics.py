"""Prometheus metrics of the capture path, fed from the counters a capture already keeps.

The pipeline calls `track` when a capture starts, `observe` on each tick and `untrack` at its end;
the writer reports each committed batch's latency. Counters carry no per-user and no per-live
label. Per-live gauges (queue depth, spill bytes, last event time) exist only while the capture
runs in this process, so their series are bounded by the lives running at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scis.core.status import SessionStatus
from scis.evidence.records import CHAIN_KINDS, GAP, GAP_REASONS, ChainedRecord

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from scis.capture.pipeline import LiveCapture

EVENTS = Counter("scis_capture_events_total", "TikTok events stored, by kind.", ["kind"])
FRAMES = Counter("scis_capture_frames_total", "Push frames received, by outcome (decoded, malformed).", ["outcome"])
DUPLICATES = Counter("scis_capture_duplicates_dropped_total", "Events received twice and dropped before storage.")
GAPS = Counter("scis_capture_gaps_total", "Gap records stored, by reason.", ["reason"])
RECONNECTS = Counter("scis_capture_reconnects_total", "Times a capture lost its source and came back.")
SPILLED = Counter("scis_capture_spilled_events_total", "Events written to a spill file because the queue was full.")
CAPTURES_ENDED = Counter("scis_capture_sessions_ended_total", "Captures that ended, by final status.", ["status"])
WRITE_SECONDS = Histogram(
    "scis_capture_write_seconds",
    "Time from taking a batch off the queue to its commit in PostgreSQL (retries included).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# Labelled children looked up once: `labels()` takes a lock and builds a key on every call.
_FRAMES_DECODED, _FRAMES_MALFORMED = FRAMES.labels("decoded"), FRAMES.labels("malformed")
_events_of_kind: dict[str, Counter] = {}
LEASES_HELD = Gauge("scis_capture_leases_held", "Capture leases this process holds.")
SOCKET_CLIENTS = Gauge("scis_socketio_clients", "Socket.IO clients connected to the live feed.")

# Statuses a capture ends with; anything else (a capture that died starting) is counted as "other".
FINAL_STATUSES = frozenset(status.value for status in SessionStatus if status.final)


@dataclass(slots=True)
class _Seen:
    """The counters of one capture already added to the process-wide totals."""

    frames: int = 0
    malformed: int = 0
    duplicates: int = 0
    reconnects: int = 0
    spilled: int = 0


_running: dict[UUID, tuple[LiveCapture, _Seen]] = {}


def track(capture: LiveCapture) -> None:
    _running[capture.session_id] = (capture, _Seen())


def observe(capture: LiveCapture) -> None:
    """Add what this capture counted since the last call to the process-wide counters."""
    entry = _running.get(capture.session_id)
    if entry is None:
        return
    seen = entry[1]
    normaliser, stats = capture.normaliser, capture.stats
    duplicates = normaliser.dedupe.duplicates
    malformed = normaliser.malformed
    decoded = normaliser.frames - malformed
    _add(_FRAMES_DECODED, decoded - (seen.frames - seen.malformed))
    _add(_FRAMES_MALFORMED, malformed - seen.malformed)
    _add(DUPLICATES, duplicates - seen.duplicates)
    _add(RECONNECTS, stats.reconnects - seen.reconnects)
    _add(SPILLED, capture.queue.spilled_total - seen.spilled)
    seen.frames, seen.malformed, seen.duplicates = normaliser.frames, malformed, duplicates
    seen.reconnects, seen.spilled = stats.reconnects, capture.queue.spilled_total


def _add(counter: Counter, amount: int) -> None:
    # Every live calls observe four times a second: an increment of 0 (most of them) still takes a lock.
    if amount > 0:
        counter.inc(amount)


def untrack(capture: LiveCapture, status: str) -> None:
    observe(capture)
    _running.pop(capture.session_id, None)
    CAPTURES_ENDED.labels(status if status in FINAL_STATUSES else "other").inc()


def stored(rows: Sequence[ChainedRecord]) -> None:
    """Count a committed batch by event kind and gap reason."""
    kinds: dict[str, int] = {}
    for item in rows:
        record = item.record
        if record.kind == GAP:
            reason = str((record.data or {}).get("reason", ""))
            GAPS.labels(reason if reason in GAP_REASONS else "other").inc()
        if record.kind not in CHAIN_KINDS:
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
    for kind, count in kinds.items():
        counter = _events_of_kind.get(kind)
        if counter is None:
            counter = _events_of_kind[kind] = EVENTS.labels(kind)
        counter.inc(count)


def write_latency(seconds: float) -> None:
    WRITE_SECONDS.observe(seconds)


def _declare_label_values() -> None:
    """Series exist at 0 before the first event, so rates and alerts see the first increase."""
    for outcome in ("decoded", "malformed"):
        FRAMES.labels(outcome)
    for reason in (*GAP_REASONS, "other"):
        GAPS.labels(reason)
    for status in (*FINAL_STATUSES, "other"):
        CAPTURES_ENDED.labels(status)


class RunningCaptures(Collector):
    """Gauges read from the captures running in this process at scrape time."""

    def collect(self) -> Iterable[Metric]:
        lives = GaugeMetricFamily("scis_capture_lives", "Captures running in this process.")
        depth = GaugeMetricFamily(
            "scis_capture_queue_depth", "Events received and not yet stored (memory and spill file).", labels=["target"]
        )
        spill = GaugeMetricFamily(
            "scis_capture_spill_bytes", "Bytes in spill files not yet drained.", labels=["target"]
        )
        last = GaugeMetricFamily(
            "scis_capture_last_event_timestamp_seconds",
            "Unix time of the newest stored TikTok event (capture start until the first one).",
            labels=["target"],
        )
        lives.add_metric([], len(_running))
        for capture, _ in list(_running.values()):
            target = capture.stats.target
            depth.add_metric([target], capture.queue.qsize())
            spill.add_metric([target], capture.queue.spill_bytes())
            newest = capture.stats.last_event_at or capture.stats.started_at
            last.add_metric([target], newest.timestamp() if newest else time.time())
        yield from (lives, depth, spill, last)


def running() -> Iterator[LiveCapture]:
    """The captures this process runs now (for `scis status` and the metrics)."""
    return (capture for capture, _ in list(_running.values()))


_declare_label_values()
REGISTRY.register(RunningCaptures())
