"""Pure builders and the reconcile state machine, without any API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

from scis.kube.livemonitors import build_livemonitor, capture_session_id, monitor_name_for
from scis.kube.progress import ProgressReporter, build_progress
from scis_operator.builders import (
    build_capture_pod,
    build_condition,
    parse_duration,
    spec_hash,
)
from scis_operator.config import OperatorConfig
from scis_operator.phases import Phase
from scis_operator.reconcile import Observation, PodState, decide
from tests.k8s.crd_validation import validation_errors

CONFIG = OperatorConfig(
    capture_image="scis-analyser:1", max_restarts=2, backoff_base_seconds=10, backoff_max_seconds=25
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def monitor(status: dict[str, Any] | None = None, generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scis.io/v1alpha1",
        "kind": "LiveMonitor",
        "metadata": {
            "name": "m",
            "namespace": "ns",
            "uid": "11111111-2222-3333-4444-555555555555",
            "generation": generation,
        },
        "spec": {"target": "@handle", "caseId": "C-1", "source": "browser", **spec},
        "status": status or {},
    }


def running(name: str = "m-capture-0", **overrides: Any) -> PodState:
    return PodState(name=name, phase="Running", spec_hash=spec_hash(monitor()["spec"], CONFIG), **overrides)


def step(lm: dict[str, Any], pod: PodState | None = None, *, now: datetime = NOW, slot: bool = True) -> Any:
    return decide(Observation(monitor=lm, pod=pod, now=now, has_slot=slot), CONFIG)


def test_capture_pod_is_locked_down_and_complete() -> None:
    pod = build_capture_pod(monitor(captureVideo=True), attempt=3, config=CONFIG)
    assert pod["metadata"]["name"] == "m-capture-3"
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["restartPolicy"] == "Never" and spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["command"] == ["scis"] and "--video" in container["args"]
    assert container["args"][container["args"].index("--session-id") + 1] == capture_session_id(
        "11111111-2222-3333-4444-555555555555", 3
    )
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/dev/shm"}  # browser needs shm
    assert container["resources"] == CONFIG.capture_resources
    # Prometheus (the chart's PodMonitor) scrapes the capture's own metrics on the named port.
    assert container["ports"] == [{"name": "metrics", "containerPort": CONFIG.capture_metrics_port, "protocol": "TCP"}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SCIS_CAPTURE_METRICS_PORT"] == str(CONFIG.capture_metrics_port)


def test_adopt_makes_the_pod_owned_by_its_monitor() -> None:
    lm = monitor()
    pod = build_capture_pod(lm, attempt=0, config=CONFIG)
    kopf.adopt(pod, owner=kopf.Body(lm))
    (owner,) = pod["metadata"]["ownerReferences"]
    assert owner["uid"] == lm["metadata"]["uid"] and owner["controller"] and owner["blockOwnerDeletion"]


def test_condition_keeps_its_transition_time_while_status_holds() -> None:
    first = build_condition(type_="Ready", status=True, reason="Live", message="a", generation=1, now=NOW)
    later = NOW + timedelta(minutes=5)
    same = build_condition(
        type_="Ready", status=True, reason="Live", message="b", generation=1, now=later, previous=[first]
    )
    flipped = build_condition(
        type_="Ready", status=False, reason="Ended", message="c", generation=1, now=later, previous=[first]
    )
    assert same["lastTransitionTime"] == first["lastTransitionTime"]
    assert flipped["lastTransitionTime"] == "2026-03-01T12:05:00Z"


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("2h", 120), ("1h30m", 90), ("45s", 0.75)])
def test_parse_duration(text: str, minutes: float) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


def test_new_monitor_creates_attempt_zero() -> None:
    decision = step(monitor())
    assert decision.create_attempt == 0
    assert decision.status["phase"] == Phase.CONNECTING and decision.status["pod"] == "m-capture-0"
    assert decision.status["attempts"] == 1 and decision.status["observedGeneration"] == 1


def test_no_slot_queues_the_monitor() -> None:
    decision = step(monitor(), slot=False)
    assert decision.create_attempt is None and decision.status["phase"] == Phase.PENDING
    assert decision.status["conditions"][-1]["reason"] == "ConcurrencyLimit"


def test_schedule_in_the_future_waits() -> None:
    decision = step(monitor(schedule={"start": "2026-03-01T13:00:00Z"}))
    assert decision.create_attempt is None and decision.status["conditions"][-1]["reason"] == "WaitingForSchedule"


def test_live_report_of_the_current_pod_sets_live_and_counters() -> None:
    progress = {"pod": "m-capture-0", "phase": "Live", "eventsCaptured": 7, "viewers": 3, "gaps": 0}
    status = {"phase": "Connecting", "pod": "m-capture-0", "attempts": 1, "observedGeneration": 1, "progress": progress}
    decision = step(monitor(status), running())
    assert decision.status["phase"] == Phase.LIVE and decision.status["eventsCaptured"] == 7
    assert decision.status["conditions"][-1]["status"] == "True"
    assert [e.reason for e in decision.events] == ["Live"]


def test_new_counters_alone_are_mirrored_at_most_once_per_interval() -> None:
    """A capture reports every 5 s: the status is written once a minute for counters, at once for a phase."""
    progress = {"pod": "m-capture-0", "phase": "Live", "eventsCaptured": 7, "gaps": 0}
    status = {"phase": "Connecting", "pod": "m-capture-0", "attempts": 1, "observedGeneration": 1, "progress": progress}
    live = {**status, **step(monitor(status), running()).status}
    assert live["mirroredAt"] == "2026-03-01T12:00:00.000Z"

    newer = {**live, "progress": {**progress, "eventsCaptured": 900}}
    soon = NOW + timedelta(seconds=CONFIG.mirror_interval_seconds - 1)
    assert step(monitor(newer), running(), now=soon).status == {}  # nothing to write yet
    later = NOW + timedelta(seconds=CONFIG.mirror_interval_seconds)
    assert step(monitor(newer), running(), now=later).status["eventsCaptured"] == 900

    ended = {**live, "progress": {**progress, "phase": "Connecting"}}  # the capture lost the live: at once
    assert step(monitor(ended), running(), now=soon).status["phase"] == Phase.CONNECTING


def test_crash_backs_off_exponentially_then_fails() -> None:
    status = {"phase": "Connecting", "pod": "m-capture-0", "attempts": 1, "observedGeneration": 1}
    crashed = PodState(name="m-capture-0", phase="Failed", exit_code=137, exit_reason="OOMKilled")
    first = step(monitor(status), crashed)
    assert first.status["restarts"] == 1 and first.status["nextAttemptAt"] == "2026-03-01T12:00:10.000Z"
    assert "OOMKilled" in first.status["conditions"][-1]["message"]
    waiting = step(monitor({**status, **first.status}), crashed, now=NOW + timedelta(seconds=5))
    assert waiting.create_attempt is None and "restarts" not in waiting.status  # the same crash counts once
    restarted = step(monitor({**status, **first.status}), crashed, now=NOW + timedelta(seconds=11))
    assert restarted.create_attempt == 1 and restarted.stop_pods == ["m-capture-0"]
    crashed_again = PodState(name="m-capture-1", phase="Failed", exit_code=1)
    second = step(
        monitor({**status, **first.status, **restarted.status}), crashed_again, now=NOW + timedelta(seconds=20)
    )
    assert second.status["nextAttemptAt"] == "2026-03-01T12:00:40.000Z"  # 20s later, doubled
    final_status = {
        **status,
        **first.status,
        **restarted.status,
        "restarts": 2,
        "nextAttemptAt": None,
        "pod": "m-capture-2",
    }
    failed = step(monitor(final_status), PodState(name="m-capture-2", phase="Failed", exit_code=1))
    assert failed.status["phase"] == Phase.FAILED and failed.status["conditions"][-1]["reason"] == "CrashLoop"


@pytest.mark.parametrize(
    ("code", "phase"), [(0, Phase.ENDED), (3, Phase.OFFLINE), (4, Phase.FAILED), (5, Phase.FAILED)]
)
def test_exit_codes_with_a_meaning(code: int, phase: Phase) -> None:
    status = {"phase": "Live", "pod": "m-capture-0", "attempts": 1, "observedGeneration": 1}
    decision = step(
        monitor(status), PodState(name="m-capture-0", phase="Succeeded" if code == 0 else "Failed", exit_code=code)
    )
    assert decision.status["phase"] == phase and decision.create_attempt is None


def test_stop_after_asks_the_pod_to_stop_then_ends() -> None:
    status = {
        "phase": "Live",
        "pod": "m-capture-0",
        "attempts": 1,
        "observedGeneration": 1,
        "startedAt": "2026-03-01T10:00:00Z",
    }
    stopping = step(monitor(status, stopAfter="1h"), running())
    assert stopping.stop_pods == ["m-capture-0"] and stopping.status["stopReason"] == "StopAfterElapsed"
    ended = step(monitor({**status, **stopping.status}, stopAfter="1h"), None)
    assert ended.status["phase"] == Phase.ENDED and ended.create_attempt is None


def test_terminal_phase_is_left_alone_until_the_spec_changes() -> None:
    status = {"phase": "Ended", "pod": "m-capture-0", "attempts": 1, "observedGeneration": 1}
    assert step(monitor(status)).status == {}
    again = step(monitor(status, generation=2, target="@other"))
    assert again.create_attempt == 1 and again.status["observedGeneration"] == 2


def test_progress_report_matches_the_crd() -> None:
    report = build_progress(pod="m-capture-0", phase="Live", events_captured=5, viewers=2,
                            last_event_at=NOW, chain_head="f" * 64, gaps=0, now=NOW)  # fmt: skip
    lm = monitor({"progress": report})
    lm["spec"]["source"] = "websocket"
    assert validation_errors(lm) == []
    with pytest.raises(ValueError):
        build_progress(
            pod=None, phase="Dancing", events_captured=0, viewers=None, last_event_at=None, chain_head=None, gaps=0
        )


async def test_reporter_is_a_no_op_outside_a_livemonitor_pod() -> None:
    reporter = ProgressReporter.from_env({})
    assert not reporter.enabled
    await reporter.report(phase="Live", events_captured=1, viewers=None, last_event_at=None, chain_head=None, gaps=0)


def test_analyser_client_builds_valid_livemonitors() -> None:
    name = monitor_name_for("https://www.tiktok.com/@Some.User_1/live", "CASE 2026/01")
    assert name == "some-user-1-case-2026-01"
    body = build_livemonitor(name, "@Some.User_1", "CASE-2026-01", "websocket", True, namespace="scis", stop_after="2h")
    assert validation_errors(body) == []
