"""kopf updates the body it hands to handlers in place as watch events arrive. A LiveMonitor that
changes while the operator decides about it must not get a decision made half on the old state and
half on the new one: that declared a running capture Pod gone and started a second one (the racing
operators' fault test, one run in three on a busy machine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

from scis_operator.builders import format_time
from scis_operator.config import OperatorConfig
from scis_operator.handlers import ChangedWhileDeciding, _reconcile
from scis_operator.metrics import PhaseBook
from scis_operator.slots import CaptureSlots
from tests.k8s.emulator import livemonitor

CONFIG = OperatorConfig(capture_image="scis-analyser:test", metrics_port=0)


def _monitor(version: str, **status: Any) -> dict[str, Any]:
    monitor = livemonitor("alpha")
    monitor["metadata"].update(uid="u-1", generation=1, resourceVersion=version)
    monitor["status"] = {"observedGeneration": 1, **status}
    return monitor


class PodsMeanwhile:
    """Capture Pods whose read lets the watch stream deliver a newer LiveMonitor first."""

    def __init__(self, body: kopf.Body, newer: dict[str, Any]) -> None:
        self.body, self.newer = body, newer
        self.created: list[str] = []
        self.stopped: list[str] = []

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.body._replace_with(self.newer)  # type: ignore[attr-defined]  # what kopf's watcher does
        return None  # the Pod asked about (the previous attempt's) is gone

    def create(self, manifest: dict[str, Any]) -> bool:
        self.created.append(manifest["metadata"]["name"])
        return True

    def stop(self, namespace: str, name: str, *, grace_seconds: int) -> bool:
        self.stopped.append(name)
        return True


def test_a_livemonitor_changed_while_deciding_gets_no_decision() -> None:
    past = format_time(datetime.now(UTC) - timedelta(seconds=1), precise=True)
    backing_off = _monitor("10", phase="Pending", pod="alpha-capture-0", attempts=1, restarts=1, nextAttemptAt=past)
    # Meanwhile another run (or another operator) started attempt 1, which is running.
    restarted = _monitor("11", phase="Connecting", pod="alpha-capture-1", attempts=2, restarts=1)
    body = kopf.Body(backing_off)  # type: ignore[arg-type]
    pods = PodsMeanwhile(body, restarted)
    memo = kopf.Memo(config=CONFIG, pods=pods, slots=CaptureSlots(), phases=PhaseBook())
    patch = kopf.Patch()
    with pytest.raises(ChangedWhileDeciding, match="resourceVersion 10"):
        _reconcile(body, patch, memo, {})
    # Not "alpha-capture-1 disappeared": nothing is created, stopped or written; the next run decides.
    assert pods.created == [] and pods.stopped == [] and not patch


def test_an_unchanged_livemonitor_is_decided_on_one_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[str] = []
    monkeypatch.setattr(kopf, "info", lambda body, *, reason, message: posted.append(reason))
    past = format_time(datetime.now(UTC) - timedelta(seconds=1), precise=True)
    backing_off = _monitor("10", phase="Pending", pod="alpha-capture-0", attempts=1, restarts=1, nextAttemptAt=past)
    body = kopf.Body(backing_off)  # type: ignore[arg-type]
    pods = PodsMeanwhile(body, backing_off)  # the watch brings nothing new
    memo = kopf.Memo(config=CONFIG, pods=pods, slots=CaptureSlots(), phases=PhaseBook())
    patch = kopf.Patch()
    _reconcile(body, patch, memo, {})
    assert pods.created == ["alpha-capture-1"] and pods.stopped == ["alpha-capture-0"]
    assert patch["status"]["pod"] == "alpha-capture-1" and patch["status"]["attempts"] == 2
    assert posted == ["Connecting"]
