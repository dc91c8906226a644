"""kopf handlers: observe, call ``reconcile.decide()``, carry the decision out.

Run with ``kopf run -m scis_operator.handlers`` or ``python -m scis_operator``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

import kopf

from scis_operator import LIVEMONITORS
from scis_operator.builders import LABEL_MONITOR, build_capture_pod, parse_time, status_changes
from scis_operator.config import OperatorConfig
from scis_operator.kube import CapturePods, load_config
from scis_operator.metrics import PODS_CREATED, PhaseBook, instrumented, serve
from scis_operator.reconcile import Decision, EventType, Observation, PodState, decide
from scis_operator.slots import CaptureSlots

# Read at import: the timer interval is fixed when the decorator runs.
CONFIG = OperatorConfig.from_env()

# kopf passes the ``capture_pods`` index by name; the default only satisfies kopf's callback types.
PodIndex = Mapping[tuple[str, str], Iterable[PodState]]
NO_PODS: PodIndex = MappingProxyType({})


@kopf.on.startup()
def configure(
    *, settings: kopf.OperatorSettings, memo: Any, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    config: OperatorConfig = memo.setdefault("config", CONFIG)
    # Replicas must never tie: equal priorities make every peer pause.
    priority = config.peering_priority
    settings.peering.priority = priority if priority is not None else random.randint(1, 32_767)
    settings.peering.name = config.peering_name
    settings.peering.standalone = config.peering_standalone
    settings.peering.mandatory = not config.peering_standalone  # never act alone if peering is broken
    settings.persistence.finalizer = "scis.io/capture-sealed"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="scis.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="scis.io", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    if "pods" not in memo:
        load_config()
        memo.pods = CapturePods()
    memo.setdefault("slots", CaptureSlots())
    memo.setdefault("phases", PhaseBook())
    serve(config.metrics_port)
    logger.info("scis-operator peering %r with priority %d", config.peering_name, settings.peering.priority)


@kopf.index("v1", "pods", labels={LABEL_MONITOR: kopf.PRESENT})
def capture_pods(*, body: kopf.Body, namespace: str | None, labels: kopf.Labels, **_: Any) -> dict[Any, PodState]:
    return {(namespace or "", labels[LABEL_MONITOR]): PodState.from_manifest(body)}


@kopf.on.create(*LIVEMONITORS)
@instrumented
def start_capture(*, body: kopf.Body, patch: kopf.Patch, memo: Any, capture_pods: PodIndex = NO_PODS, **_: Any) -> None:
    _reconcile_or_retry(body, patch, memo, capture_pods)


@kopf.on.resume(*LIVEMONITORS)
@instrumented
def resume_capture(
    *, body: kopf.Body, patch: kopf.Patch, memo: Any, capture_pods: PodIndex = NO_PODS, **_: Any
) -> None:
    _reconcile_or_retry(body, patch, memo, capture_pods)


@kopf.on.update(*LIVEMONITORS, field="spec")
@instrumented
def apply_spec_change(
    *, body: kopf.Body, patch: kopf.Patch, memo: Any, capture_pods: PodIndex = NO_PODS, **_: Any
) -> None:
    _reconcile_or_retry(body, patch, memo, capture_pods)


# A failed run is retried at the next interval, not after kopf's default minute.
@kopf.timer(
    *LIVEMONITORS,
    interval=CONFIG.reconcile_interval_seconds,
    initial_delay=CONFIG.reconcile_interval_seconds,
    backoff=CONFIG.reconcile_interval_seconds,
)
@instrumented
def follow_capture(
    *, body: kopf.Body, patch: kopf.Patch, memo: Any, capture_pods: PodIndex = NO_PODS, **_: Any
) -> None:
    if not (body.get("status") or {}).get("phase"):
        # Not reconciled yet: the create/resume handler (retried by kopf) makes the first Pod. Under a
        # backlog of new LiveMonitors the timer would otherwise race it: a second create, a 409 and a
        # second status patch per LiveMonitor.
        return
    with contextlib.suppress(ChangedWhileDeciding):  # the next run decides on the new state
        _reconcile(body, patch, memo, capture_pods)


@kopf.on.delete(*LIVEMONITORS)
@instrumented
def stop_capture(
    *,
    body: kopf.Body,
    name: str,
    namespace: str | None,
    memo: Any,
    runtime: timedelta,
    capture_pods: PodIndex = NO_PODS,
    **_: Any,
) -> None:
    """The finalizer: SIGTERM every capture Pod and hold the LiveMonitor until they sealed and exited."""
    config: OperatorConfig = memo.config
    pods: CapturePods = memo.pods
    namespace = namespace or ""
    overdue = runtime.total_seconds() > config.stop_grace_seconds + 30
    remaining = []
    for pod in _pods_of_monitor(body, memo, capture_pods):
        if pod.running and pod.deleting and not overdue:
            remaining.append(pod.name)  # sealing: SIGTERM already sent
            continue
        grace = config.stop_grace_seconds if pod.running and not overdue else 0
        if pods.stop(namespace, pod.name, grace_seconds=grace):
            remaining.append(pod.name)
    if overdue and remaining:
        kopf.warn(body, reason="SealTimeout", message=f"forced deletion of {', '.join(remaining)}")
    if remaining:
        raise kopf.TemporaryError(f"waiting for {', '.join(remaining)} to seal", delay=config.stop_poll_seconds)
    memo.slots.release(namespace, name)
    memo.phases.record(namespace, name, None)
    memo.setdefault("mirrored", {}).pop((namespace, name), None)
    kopf.info(body, reason="Stopped", message="capture sealed and stopped")


class ChangedWhileDeciding(Exception):
    """The LiveMonitor changed while a decision was made about it: that decision is dropped."""


def _reconcile_or_retry(body: kopf.Body, patch: kopf.Patch, memo: Any, index: PodIndex) -> None:
    try:
        _reconcile(body, patch, memo, index)
    except ChangedWhileDeciding as changed:
        raise kopf.TemporaryError(str(changed), delay=memo.config.reconcile_interval_seconds) from None


def _reconcile(live_body: kopf.Body, patch: kopf.Patch, memo: Any, index: PodIndex) -> None:
    config: OperatorConfig = memo.config
    # kopf updates the body it hands to handlers in place as watch events arrive. Reading the Pod for
    # one status and deciding on a newer one declared a running Pod gone and replaced it: decide on
    # one snapshot, and drop the decision if the LiveMonitor changed meanwhile.
    body = kopf.Body(cast(kopf.RawBody, copy.deepcopy(dict(live_body))))
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    now = datetime.now(UTC)
    pod = _current_pod(body, memo, index)
    seen = _with_last_mirror(body, memo.setdefault("mirrored", {}).get((namespace, name)))
    observation = Observation(monitor=seen, pod=pod, now=now, has_slot=True)
    decision = decide(observation, config)
    version = body["metadata"].get("resourceVersion")
    if live_body["metadata"].get("resourceVersion") != version:
        raise ChangedWhileDeciding(f"{name} changed while deciding (resourceVersion {version})")
    if decision.create_attempt is not None:
        running = _monitors_holding_slots(index, namespace)
        if not memo.slots.try_take(namespace, name, running=running, limit=config.max_lives_per_namespace):
            decision = decide(Observation(monitor=seen, pod=pod, now=now, has_slot=False), config)
    _carry_out(body, decision, memo)
    phase = decision.status.get("phase") or (body.get("status") or {}).get("phase")
    if phase in ("Offline", "Ended", "Failed"):
        memo.slots.release(namespace, name)
    memo.phases.record(namespace, name, phase)
    changes = status_changes(seen.get("status") or {}, decision.status)
    for key, value in changes.items():
        patch.status[key] = value
    if "mirroredAt" in changes:
        memo.mirrored[(namespace, name)] = changes["mirroredAt"]


def _with_last_mirror(body: kopf.Body, mirrored_at: str | None) -> Mapping[str, Any]:
    """The LiveMonitor with the counters' copy time this operator last wrote, if the watch stream has
    not brought that write back yet: an operator lagging behind its stream under load would otherwise
    see an old ``mirroredAt`` on every timer run and write the counters again (decision 910)."""
    status = body.get("status") or {}
    seen = parse_time(status.get("mirroredAt"))
    written = parse_time(mirrored_at)
    if written is None or (seen is not None and seen >= written):
        return body
    plain = _plain(body)
    plain["status"]["mirroredAt"] = mirrored_at
    return plain


def _current_pod(body: kopf.Body, memo: Any, index: PodIndex) -> PodState | None:
    """The Pod named in status.pod, from the watch index; confirmed by a read when the index lacks it."""
    wanted = (body.get("status") or {}).get("pod")
    if not wanted:
        return None
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    for pod in index.get(key, ()):
        if pod.name == wanted:
            return pod
    # Just created and not yet streamed back, or really gone: only the API knows which.
    manifest = memo.pods.read(key[0], wanted)
    return PodState.from_manifest(manifest) if manifest is not None else None


def _pods_of_monitor(body: kopf.Body, memo: Any, index: PodIndex) -> list[PodState]:
    """Every capture Pod of the LiveMonitor, from the watch index (no list call per LiveMonitor);
    the Pod named in status.pod is confirmed by a read when the index has not streamed it yet."""
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    found = {pod.name: pod for pod in index.get(key, ())}
    current = _current_pod(body, memo, index)
    if current is not None:
        found[current.name] = current
    return list(found.values())


def _monitors_holding_slots(index: PodIndex, namespace: str) -> set[str]:
    return {monitor for (ns, monitor), pods in index.items() if ns == namespace and any(pod.running for pod in pods)}


def _carry_out(body: kopf.Body, decision: Decision, memo: Any) -> None:
    config: OperatorConfig = memo.config
    namespace = body["metadata"]["namespace"]
    for pod_name in decision.stop_pods:
        memo.pods.stop(namespace, pod_name, grace_seconds=config.stop_grace_seconds)
    if decision.create_attempt is not None:
        manifest = build_capture_pod(_plain(body), attempt=decision.create_attempt, config=config)
        kopf.adopt(manifest, owner=body)
        if memo.pods.create(manifest):
            PODS_CREATED.inc()
    for event in decision.events:
        post = kopf.warn if event.type is EventType.WARNING else kopf.info
        post(body, reason=event.reason, message=event.message)


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "metadata": dict(body["metadata"]),
        "spec": dict(body.get("spec") or {}),
        "status": dict(body.get("status") or {}),
    }
