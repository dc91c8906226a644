"""Pure builders: the capture Pod, the Ready condition and the status, from plain dicts.

Nothing here talks to Kubernetes, so every function is unit-tested alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from scis.kube.livemonitors import capture_session_id
from scis_operator.config import OperatorConfig
from scis_operator.phases import Phase, Reason

LABEL_MONITOR = "scis.io/livemonitor"
LABEL_ATTEMPT = "scis.io/attempt"
ANNOTATION_SPEC_HASH = "scis.io/spec-hash"
CAPTURE_CONTAINER = "capture"
MANAGED_BY = "scis-operator"

# Fields of the spec that end up in the Pod; a change to any of them replaces the capture Pod.
POD_SHAPING_FIELDS = ("target", "caseId", "source", "captureVideo", "wait", "resources", "retention")

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``1h30m`` → 90 minutes; the CRD pattern already refused anything else."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90m, 2h, 1h30m)")
    parts = {key: int(value) for key, value in match.groupdict(default="0").items()}
    return timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def format_time(moment: datetime, *, precise: bool = False) -> str:
    """RFC 3339 in UTC; whole seconds like Kubernetes' own times unless ``precise`` (milliseconds)."""
    moment = moment.astimezone(UTC)
    if precise:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def capture_pod_name(monitor_name: str, attempt: int) -> str:
    """``<monitor>-capture-<attempt>``; the CRD caps monitor names at 48 characters."""
    return f"{monitor_name}-capture-{attempt}"


def spec_hash(spec: Mapping[str, Any], config: OperatorConfig) -> str:
    shaping = {key: spec.get(key) for key in POD_SHAPING_FIELDS}
    shaping["image"] = config.capture_image
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:16]


def capture_args(spec: Mapping[str, Any], session_id: str) -> list[str]:
    args = [
        "capture",
        "--target", str(spec["target"]),
        "--case-id", str(spec["caseId"]),
        "--source", str(spec.get("source", "websocket")),
        "--session-id", session_id,
    ]  # fmt: skip
    if spec.get("captureVideo"):
        args.append("--video")
    if spec.get("wait"):
        args.append("--wait")
    return args


def capture_env(monitor: Mapping[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    meta, spec = monitor["metadata"], monitor["spec"]
    retention_days = (spec.get("retention") or {}).get("evidenceDays", 365)
    own = [
        {"name": "SCIS_LIVEMONITOR_NAME", "value": meta["name"]},
        {"name": "SCIS_LIVEMONITOR_NAMESPACE", "value": meta["namespace"]},
        {"name": "SCIS_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "SCIS_CAPTURE_RETENTION_DAYS", "value": str(retention_days)},
        {"name": "HOME", "value": "/tmp"},
    ]
    if config.capture_metrics_port:
        own.append({"name": "SCIS_CAPTURE_METRICS_PORT", "value": str(config.capture_metrics_port)})
    own_names = {entry["name"] for entry in own}
    return own + [dict(entry) for entry in config.capture_env if entry.get("name") not in own_names]


def _metrics_port(config: OperatorConfig) -> dict[str, Any]:
    if not config.capture_metrics_port:
        return {}
    return {"ports": [{"name": "metrics", "containerPort": config.capture_metrics_port, "protocol": "TCP"}]}


def build_capture_pod(monitor: Mapping[str, Any], *, attempt: int, config: OperatorConfig) -> dict[str, Any]:
    """The Pod that runs ``scis capture`` for one LiveMonitor attempt (owner reference added by kopf.adopt)."""
    meta, spec = monitor["metadata"], monitor["spec"]
    name = capture_pod_name(meta["name"], attempt)
    browser = spec.get("source") == "browser"
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if browser:  # Chromium needs a large /dev/shm; the container default is 64Mi
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",  # the operator restarts, so it can count, back off and read exit codes
        "serviceAccountName": config.capture_service_account,
        "terminationGracePeriodSeconds": config.stop_grace_seconds,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CAPTURE_CONTAINER,
                "image": config.capture_image,
                "imagePullPolicy": config.image_pull_policy,
                "command": ["scis"],
                "args": capture_args(spec, capture_session_id(meta.get("uid", meta["name"]), attempt)),
                "env": capture_env(monitor, config),
                "resources": spec.get("resources") or dict(config.capture_resources),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": mounts,
                "terminationMessagePolicy": "FallbackToLogsOnError",
                **_metrics_port(config),
            }
        ],
        "volumes": volumes,
    }
    if config.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} for secret in config.image_pull_secrets]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {
                "app.kubernetes.io/name": "scis",
                "app.kubernetes.io/component": "capture",
                "app.kubernetes.io/part-of": "scis",
                "app.kubernetes.io/managed-by": MANAGED_BY,
                LABEL_MONITOR: meta["name"],
                LABEL_ATTEMPT: str(attempt),
            },
            "annotations": {
                ANNOTATION_SPEC_HASH: spec_hash(spec, config),
                "scis.io/case-id": str(spec["caseId"]),
                "scis.io/target": str(spec["target"]),
            },
        },
        "spec": pod_spec,
    }


def build_condition(
    *,
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
    previous: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A condition whose lastTransitionTime only moves when its status flips."""
    status_text = "True" if status else "False"
    old = next((c for c in previous if c.get("type") == type_), None)
    unchanged = old is not None and old.get("status") == status_text
    condition: dict[str, Any] = {
        "type": type_,
        "status": status_text,
        "reason": reason,
        "message": message,
        "lastTransitionTime": old["lastTransitionTime"] if unchanged and old else format_time(now),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def merge_conditions(previous: Sequence[Mapping[str, Any]], updated: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Replace the condition of the same type, keep the others in their order."""
    kept = [dict(c) for c in previous if c.get("type") != updated["type"]]
    return [*kept, dict(updated)]


def build_status(
    *,
    phase: Phase,
    reason: Reason,
    message: str,
    generation: int | None,
    now: datetime,
    previous: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The operator-owned part of the status: phase, observedGeneration and the Ready condition."""
    ready = build_condition(
        type_="Ready",
        status=phase is Phase.LIVE,
        reason=reason.value,
        message=message,
        generation=generation,
        now=now,
        previous=previous.get("conditions") or (),
    )
    status: dict[str, Any] = {
        "phase": phase.value,
        "conditions": merge_conditions(previous.get("conditions") or (), ready),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    status.update(extra or {})
    return status


def progress_fields(progress: Mapping[str, Any]) -> dict[str, Any]:
    """The counters a capture reports, as mirrored at the top of the status."""
    mirrored = ("eventsCaptured", "viewers", "lastEventAt", "chainHead", "gaps")
    return {key: progress.get(key) for key in mirrored if key in progress}


# Capture phases after which an attempt counts as a session: it reached the live.
REACHED_LIVE = ("Live", "Ended")


def totals(status: Mapping[str, Any], pod: str | None) -> dict[str, int]:
    """eventsCaptured and sessions over every attempt: the earlier ones plus the report of `pod`, if any."""
    before = status.get("countedBefore") or {}
    progress = status.get("progress") or {}
    current = progress if pod is not None and progress.get("pod") == pod else {}
    return {
        "eventsCaptured": int(before.get("events") or 0) + int(current.get("eventsCaptured") or 0),
        "sessions": int(before.get("sessions") or 0) + int(current.get("phase") in REACHED_LIVE),
    }


def status_changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys whose value differs; ``None`` deletes a key in a merge patch."""
    return {key: value for key, value in desired.items() if current.get(key) != value}
