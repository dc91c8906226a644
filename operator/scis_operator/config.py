"""Operator settings, read once from ``SCIS_OPERATOR_*`` environment variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPTURE_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


@dataclass(frozen=True)
class OperatorConfig:
    capture_image: str = "ghcr.io/scis-forensics/scis-analyser:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    capture_service_account: str = "scis-capture"
    capture_env: tuple[Mapping[str, Any], ...] = ()  # extra env entries (database/redis URLs, secrets)
    capture_resources: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_CAPTURE_RESOURCES)
    image_pull_secrets: tuple[str, ...] = ()
    max_lives_per_namespace: int = 20
    max_restarts: int = 5
    backoff_base_seconds: float = 10.0
    backoff_max_seconds: float = 300.0
    stop_grace_seconds: int = 120
    stop_poll_seconds: float = 2.0
    reconcile_interval_seconds: float = 5.0
    # A capture reports every 5 s; its counters are copied to the top of the status at most this
    # often (phase changes at once), so status writes do not follow the report rate: decision 910.
    mirror_interval_seconds: float = 60.0
    peering_name: str = "scis-operator"
    peering_priority: int | None = None  # None: a random priority, so that replicas never tie
    peering_standalone: bool = False  # True only for a single local operator without the peering CRD
    metrics_port: int = 9090  # 0 disables the metrics endpoint
    capture_metrics_port: int = 9108  # where capture Pods serve their /metrics; 0: they serve none

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"SCIS_OPERATOR_{name}", default)

        priority = get("PEERING_PRIORITY", "")
        base = cls()
        return cls(
            capture_image=get("CAPTURE_IMAGE", base.capture_image),
            image_pull_policy=get("IMAGE_PULL_POLICY", base.image_pull_policy),
            capture_service_account=get("CAPTURE_SERVICE_ACCOUNT", base.capture_service_account),
            capture_env=tuple(json.loads(get("CAPTURE_ENV", "[]"))),
            capture_resources=json.loads(get("CAPTURE_RESOURCES", json.dumps(DEFAULT_CAPTURE_RESOURCES))),
            image_pull_secrets=tuple(s for s in get("IMAGE_PULL_SECRETS", "").split(",") if s),
            max_lives_per_namespace=int(get("MAX_LIVES_PER_NAMESPACE", str(base.max_lives_per_namespace))),
            max_restarts=int(get("MAX_RESTARTS", str(base.max_restarts))),
            backoff_base_seconds=float(get("BACKOFF_BASE_SECONDS", str(base.backoff_base_seconds))),
            backoff_max_seconds=float(get("BACKOFF_MAX_SECONDS", str(base.backoff_max_seconds))),
            stop_grace_seconds=int(get("STOP_GRACE_SECONDS", str(base.stop_grace_seconds))),
            stop_poll_seconds=float(get("STOP_POLL_SECONDS", str(base.stop_poll_seconds))),
            reconcile_interval_seconds=float(get("RECONCILE_INTERVAL_SECONDS", str(base.reconcile_interval_seconds))),
            mirror_interval_seconds=float(get("MIRROR_INTERVAL_SECONDS", str(base.mirror_interval_seconds))),
            peering_name=get("PEERING_NAME", base.peering_name),
            peering_priority=int(priority) if priority else None,
            peering_standalone=get("PEERING_STANDALONE", "false").lower() in ("1", "true", "yes"),
            metrics_port=int(get("METRICS_PORT", str(base.metrics_port))),
            capture_metrics_port=int(get("CAPTURE_METRICS_PORT", str(base.capture_metrics_port))),
        )

    def backoff_seconds(self, restarts: int) -> float:
        """Delay before restart number ``restarts`` (1-based): doubling from the base, capped."""
        return float(min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** max(0, restarts - 1)))
