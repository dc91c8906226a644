"""The counters are copied at most once per mirror interval even when the operator's watch stream
lags behind its own writes (decision 914): a timer run on a stale LiveMonitor writes nothing again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from scis.kube.progress import build_progress
from scis_operator.builders import format_time, spec_hash
from scis_operator.config import OperatorConfig
from scis_operator.handlers import _reconcile
from scis_operator.metrics import PhaseBook
from scis_operator.reconcile import PodState
from scis_operator.slots import CaptureSlots
from tests.k8s.emulator import livemonitor

CONFIG = OperatorConfig(capture_image="scis-analyser:test", mirror_interval_seconds=60, metrics_port=0)


def _live_monitor(events: int, mirrored_at: datetime) -> dict[str, Any]:
    monitor = livemonitor("alpha")
    monitor["metadata"].update(uid="u-1", generation=1)
    progress = build_progress(
        pod="alpha-capture-0", phase="Live", events_captured=events, viewers=1, last_event_at=None,
        chain_head="0" * 64, gaps=0,
    )  # fmt: skip
    ready = {"type": "Ready", "status": "True", "reason": "Live", "message": "recording", "lastTransitionTime": "x"}
    monitor["status"] = {
        "phase": "Live", "pod": "alpha-capture-0", "attempts": 1, "observedGeneration": 1, "conditions": [ready],
        "progress": progress, "mirroredAt": format_time(mirrored_at, precise=True),
    }  # fmt: skip
    return monitor


def _written(monitor: dict[str, Any], memo: kopf.Memo) -> dict[str, Any]:
    """What one timer run would write into the LiveMonitor's status."""
    running = PodState(name="alpha-capture-0", phase="Running", spec_hash=spec_hash(monitor["spec"], CONFIG))
    patch = kopf.Patch()
    _reconcile(kopf.Body(monitor), patch, memo, {("ns1", "alpha"): [running]})
    return dict(patch.get("status") or {})


def test_a_lagging_watch_stream_does_not_make_the_counters_be_written_twice() -> None:
    memo = kopf.Memo(config=CONFIG, slots=CaptureSlots(), phases=PhaseBook())
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    first = _written(_live_monitor(500, long_ago), memo)
    assert first["eventsCaptured"] == 500 and "mirroredAt" in first
    # The stream has not brought that write back: the next runs still see the old mirroredAt and
    # newer counters. Within the interval, nothing is written.
    assert _written(_live_monitor(600, long_ago), memo) == {}
    assert _written(_live_monitor(700, long_ago), memo) == {}
    # Once the interval has passed since the write this operator made, the counters are copied again.
    memo.mirrored[("ns1", "alpha")] = format_time(datetime.now(UTC) - timedelta(seconds=61), precise=True)
    assert _written(_live_monitor(800, long_ago), memo)["eventsCaptured"] == 800
