"""What to do about one LiveMonitor now: a pure function of what the operator observes.

``decide()`` reads the LiveMonitor, the state of its current capture Pod and the clock, and returns
a ``Decision``: which Pods to create or stop, the status to write, the Events to post. The kopf
handlers only observe and carry decisions out, so the whole state machine is unit-tested here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scis_operator.builders import (
    ANNOTATION_SPEC_HASH,
    CAPTURE_CONTAINER,
    LABEL_ATTEMPT,
    build_status,
    capture_pod_name,
    format_time,
    parse_duration,
    parse_time,
    progress_fields,
    spec_hash,
    totals,
)
from scis_operator.config import OperatorConfig
from scis_operator.phases import ExitCode, Phase, Reason


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class PodState:
    """What matters about a capture Pod, extracted from its manifest."""

    name: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    deleting: bool = False
    exit_code: int | None = None
    exit_reason: str | None = None
    spec_hash: str | None = None
    attempt: int = 0

    @property
    def running(self) -> bool:
        return self.phase in ("Pending", "Running", "Unknown")

    @classmethod
    def from_manifest(cls, pod: Mapping[str, Any]) -> PodState:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        exit_code = exit_reason = None
        for container in status.get("containerStatuses") or ():
            if container.get("name") == CAPTURE_CONTAINER:
                terminated = (container.get("state") or {}).get("terminated") or {}
                exit_code, exit_reason = terminated.get("exitCode"), terminated.get("reason")
        return cls(
            name=meta.get("name", ""),
            phase=status.get("phase") or "Pending",
            deleting=bool(meta.get("deletionTimestamp")),
            exit_code=exit_code,
            exit_reason=exit_reason or status.get("reason"),
            spec_hash=(meta.get("annotations") or {}).get(ANNOTATION_SPEC_HASH),
            attempt=int((meta.get("labels") or {}).get(LABEL_ATTEMPT, 0)),
        )


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str


@dataclass
class Decision:
    create_attempt: int | None = None  # create the capture Pod of this attempt
    stop_pods: list[str] = field(default_factory=list)  # delete gracefully: SIGTERM, seal, exit
    status: dict[str, Any] = field(default_factory=dict)  # the operator-owned status fields
    events: list[Event] = field(default_factory=list)


Settle = Callable[..., Decision]


@dataclass(frozen=True)
class Observation:
    monitor: Mapping[str, Any]
    pod: PodState | None  # the Pod named in status.pod, None once it is gone (or never made)
    now: datetime
    has_slot: bool  # a live may start in this namespace without passing the limit


def decide(observation: Observation, config: OperatorConfig) -> Decision:
    monitor, pod, now = observation.monitor, observation.pod, observation.now
    meta, spec = monitor["metadata"], monitor.get("spec") or {}
    status: Mapping[str, Any] = monitor.get("status") or {}
    generation = meta.get("generation")
    old_phase = Phase(status["phase"]) if status.get("phase") else None
    spec_changed = generation is not None and status.get("observedGeneration") not in (None, generation)
    desired_hash = spec_hash(spec, config)

    def settle(phase: Phase, reason: Reason, message: str, **extra: Any) -> Decision:
        result = build_status(
            phase=phase,
            reason=reason,
            message=message,
            generation=generation,
            now=now,
            previous=status,
            extra=extra,
        )
        decision = Decision(status=result)
        if phase != old_phase:
            warning = phase is Phase.FAILED or reason is Reason.BACK_OFF
            decision.events.append(Event(EventType.WARNING if warning else EventType.NORMAL, reason.value, message))
        return decision

    # A finished capture stays finished, unless the user edits the spec to ask for another one.
    fresh_start = False
    if old_phase is not None and old_phase.terminal:
        if not spec_changed:
            return Decision()
        fresh_start = True
        status = {**status, "restarts": 0, "stopReason": None, "startedAt": None, "nextAttemptAt": None}

    attempts = int(status.get("attempts") or 0)
    restarts = int(status.get("restarts") or 0)
    started_at = parse_time(status.get("startedAt"))
    stop_reason = status.get("stopReason")
    backing_off = status.get("nextAttemptAt") is not None
    if stop_reason == Reason.SPEC_CHANGED and (pod is None or not pod.running):
        restarts, started_at = 0, None  # the new spec gets a fresh restart budget and stopAfter clock
    schedule = spec.get("schedule") or {}
    window_start, window_end = parse_time(schedule.get("start")), parse_time(schedule.get("end"))
    deadline = window_end
    if spec.get("stopAfter") and started_at is not None:
        deadline = started_at + parse_duration(spec["stopAfter"])
    deadline_reason = Reason.SCHEDULE_ENDED if window_end is not None else Reason.STOP_AFTER_ELAPSED
    current_phase = old_phase or Phase.CONNECTING

    if pod is not None and pod.deleting:
        return settle(current_phase, Reason.STOPPING, f"capture Pod {pod.name} is stopping")

    if pod is not None and pod.running:
        if pod.spec_hash is not None and pod.spec_hash != desired_hash:
            return _stop(settle, current_phase, pod, Reason.SPEC_CHANGED, "spec changed")
        if deadline is not None and now >= deadline:
            return _stop(settle, current_phase, pod, deadline_reason, deadline_reason.value)
        return _follow_progress(settle, pod, status, now, config)

    if not fresh_start and not backing_off and stop_reason != Reason.SPEC_CHANGED:
        if pod is not None:  # the capture process exited: its exit code says how
            code = pod.exit_code
            if stop_reason is not None and code in (None, ExitCode.CLEAN, 143, ExitCode.PARKED):
                message = f"capture stopped cleanly ({stop_reason})"
                return settle(Phase.ENDED, Reason(stop_reason), message, **totals(status, pod.name))
            if code == ExitCode.CLEAN and not spec.get("again"):
                message = f"the live ended; {pod.name} exited cleanly"
                return settle(Phase.ENDED, Reason.ENDED, message, **totals(status, pod.name))
            if code == ExitCode.OFFLINE:
                return settle(Phase.OFFLINE, Reason.TARGET_OFFLINE, f"{spec.get('target')} is not live")
            if code == ExitCode.NOT_FOUND:
                return settle(Phase.FAILED, Reason.TARGET_NOT_FOUND, f"{spec.get('target')} does not exist")
            if code == ExitCode.UNAVAILABLE:
                # Restarting cannot help: the live is private or blocked where the capture runs.
                message = f"{spec.get('target')} is live but private or not shown in this country"
                return settle(Phase.FAILED, Reason.TARGET_UNAVAILABLE, message)
            reason = pod.exit_reason or "Error"
            return _crashed(settle, config, restarts, now, f"{pod.name} exited with code {code} ({reason})")
        if status.get("pod"):  # the Pod we made is gone without exiting through us
            if stop_reason is not None:
                message = f"capture stopped cleanly ({stop_reason})"
                return settle(Phase.ENDED, Reason(stop_reason), message, **totals(status, status["pod"]))
            return _crashed(settle, config, restarts, now, f"{status['pod']} disappeared (evicted or deleted)")

    # No capture Pod runs: start one if the schedule, the back-off and the namespace limit allow.
    if window_start is not None and now < window_start:
        return settle(Phase.PENDING, Reason.WAITING_FOR_SCHEDULE, f"capture starts at {format_time(window_start)}")
    if deadline is not None and now >= deadline:
        counted = totals(status, status.get("pod"))
        return settle(Phase.ENDED, deadline_reason, "the capture window is over", stopReason=None, **counted)
    next_attempt = parse_time(status.get("nextAttemptAt"))
    if next_attempt is not None and now < next_attempt:
        return settle(Phase.PENDING, Reason.BACK_OFF, f"restarting the capture at {format_time(next_attempt)}")
    if not observation.has_slot:
        limit = config.max_lives_per_namespace
        message = f"{limit} lives already run in this namespace; waiting for a slot"
        return settle(Phase.PENDING, Reason.CONCURRENCY_LIMIT, message)
    name = capture_pod_name(meta["name"], attempts)
    # The attempt that ends here (if any) adds its counters to the earlier ones: totals add up.
    counted = totals(status, status.get("pod"))
    decision = settle(
        Phase.CONNECTING,
        Reason.CONNECTING,
        f"capture Pod {name} created",
        countedBefore={"events": counted["eventsCaptured"], "sessions": counted["sessions"]},
        **counted,
        pod=name,
        attempts=attempts + 1,
        restarts=restarts,
        startedAt=format_time(started_at or now),
        stopReason=None,
        nextAttemptAt=None,
    )
    decision.create_attempt = attempts
    previous_pod = status.get("pod")
    if previous_pod and previous_pod != name:
        decision.stop_pods.append(previous_pod)  # the finished Pod of the last attempt, kept for its logs
    return decision


def _stop(settle: Settle, phase: Phase, pod: PodState, reason: Reason, why: str) -> Decision:
    """Ask the capture to flush and seal: a graceful delete sends it SIGTERM."""
    message = f"{why}: stopping {pod.name} cleanly"
    decision = settle(phase, Reason.STOPPING, message, stopReason=reason.value)
    decision.stop_pods.append(pod.name)
    decision.events.append(Event(EventType.NORMAL, reason.value, message))
    return decision


def _follow_progress(
    settle: Settle, pod: PodState, status: Mapping[str, Any], now: datetime, config: OperatorConfig
) -> Decision:
    """Phase and counters from the capture's own report, if it is about the current Pod.

    A phase change is written at once; new counters alone at most every ``mirror_interval_seconds``,
    so that a capture reporting every few seconds does not cost a status write each time.
    """
    progress = status.get("progress") or {}
    if progress.get("pod") != pod.name:
        return settle(Phase.CONNECTING, Reason.CONNECTING, f"waiting for {pod.name} to reach the live")
    reported = progress.get("phase", "Connecting")
    phase, reason = {
        Phase.LIVE: (Phase.LIVE, Reason.LIVE),
        Phase.WAITING: (Phase.WAITING, Reason.WAITING_FOR_LIVE),
    }.get(reported, (Phase.CONNECTING, Reason.CONNECTING))
    if _mirrored_recently(status, phase, reason, now, config.mirror_interval_seconds):
        return Decision()
    counters = {**progress_fields(progress), **totals(status, pod.name), "mirroredAt": format_time(now, precise=True)}
    if phase is Phase.LIVE:
        message = f"recording: {counters.get('eventsCaptured', 0)} events, {counters.get('gaps', 0)} gaps"
        return settle(phase, reason, message, **counters)
    if phase is Phase.WAITING:
        return settle(phase, reason, f"{pod.name} polls the target until it goes live", **counters)
    return settle(phase, reason, f"{pod.name} reports {reported}", **counters)


def _mirrored_recently(status: Mapping[str, Any], phase: Phase, reason: Reason, now: datetime, interval: float) -> bool:
    """The status already shows this phase and reason, with counters copied less than ``interval`` ago."""
    mirrored_at = parse_time(status.get("mirroredAt"))
    if mirrored_at is None or status.get("phase") != phase:
        return False
    ready: Mapping[str, Any] = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), {})
    return ready.get("reason") == reason and now - mirrored_at < timedelta(seconds=interval)


def _crashed(settle: Settle, config: OperatorConfig, restarts: int, now: datetime, what: str) -> Decision:
    restarts += 1
    if restarts > config.max_restarts:
        return settle(
            Phase.FAILED,
            Reason.CRASH_LOOP,
            f"{what}; gave up after {config.max_restarts} restarts",
            restarts=restarts - 1,
            nextAttemptAt=None,
        )
    delay = config.backoff_seconds(restarts)
    next_attempt = format_time(now + timedelta(seconds=delay), precise=True)
    return settle(
        Phase.PENDING,
        Reason.BACK_OFF,
        f"{what}; restart {restarts}/{config.max_restarts} in {delay:g}s",
        restarts=restarts,
        nextAttemptAt=next_attempt,
    )
