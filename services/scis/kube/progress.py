"""How a capture process tells the operator how it is doing.

The capture patches ``status.progress`` of its own LiveMonitor through the ``status`` subresource;
the operator mirrors the report into the rest of the status (phase, Ready, counters). Why the
status subresource and not a Pod annotation: docs/decisions/102-progress-via-status-subresource.md.

Usage in the capture loop::

    from scis.kube.progress import ProgressReporter

    reporter = ProgressReporter.from_env()  # a no-op outside a LiveMonitor Pod
    await reporter.report(phase="Live", events_captured=n, viewers=v, last_event_at=t,
                          chain_head=h, gaps=g)
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scis.core.status import SessionStatus

GROUP, VERSION, PLURAL = "scis.io", "v1alpha1", "livemonitors"
# The operator's phases (scis_operator.phases.Phase, a test keeps them equal) and the ones a capture reports.
OPERATOR_PHASES = ("Pending", "Waiting", "Connecting", "Live", "Offline", "Ended", "Failed")
PHASES = ("Waiting", "Connecting", "Live", "Offline", "Ended")
# status -> phase: what a capture in that status reports (each SessionStatus names its phase).
PHASE_OF_STATUS = {status: status.phase for status in SessionStatus}
# phase -> status: what the API shows of a LiveMonitor the operator reports in that phase.
STATUS_OF_PHASE = {
    "Pending": SessionStatus.STARTING,
    "Waiting": SessionStatus.WAITING,
    "Connecting": SessionStatus.STARTING,
    "Live": SessionStatus.LIVE,
    "Offline": SessionStatus.OFFLINE,
    "Ended": SessionStatus.ENDED,
    "Failed": SessionStatus.FAILED,
}

log = logging.getLogger(__name__)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_progress(
    *,
    pod: str | None,
    phase: str,
    events_captured: int,
    viewers: int | None,
    last_event_at: datetime | None,
    chain_head: str | None,
    gaps: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``status.progress`` object, shaped as the CRD schema wants it."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
    report: dict[str, Any] = {
        "phase": phase,
        "eventsCaptured": max(0, int(events_captured)),
        "gaps": max(0, int(gaps)),
        "reportedAt": _rfc3339(now or datetime.now(UTC)),
    }
    if pod:
        report["pod"] = pod
    if viewers is not None:
        report["viewers"] = max(0, int(viewers))
    if last_event_at is not None:
        report["lastEventAt"] = _rfc3339(last_event_at)
    if chain_head:
        report["chainHead"] = chain_head[:128]
    return report


class ProgressReporter:
    """Reports a capture's progress into its LiveMonitor; does nothing when there is none.

    Never raises: a report that cannot be written is logged and dropped, the next one replaces it.
    """

    def __init__(
        self,
        *,
        name: str | None,
        namespace: str | None,
        pod: str | None = None,
        api_client: Any | None = None,
    ) -> None:
        self.name, self.namespace, self.pod = name, namespace, pod
        self._api_client = api_client
        self._api: Any | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, api_client: Any | None = None) -> ProgressReporter:
        env = os.environ if environ is None else environ
        return cls(
            name=env.get("SCIS_LIVEMONITOR_NAME") or None,
            namespace=env.get("SCIS_LIVEMONITOR_NAMESPACE") or None,
            pod=env.get("SCIS_POD_NAME") or None,
            api_client=api_client,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.name and self.namespace)

    async def report(
        self,
        *,
        phase: str,
        events_captured: int,
        viewers: int | None,
        last_event_at: datetime | None,
        chain_head: str | None,
        gaps: int,
    ) -> None:
        """Write one progress report; phase is Waiting, Connecting, Live, Offline or Ended."""
        if not self.enabled:
            return
        progress = build_progress(
            pod=self.pod,
            phase=phase,
            events_captured=events_captured,
            viewers=viewers,
            last_event_at=last_event_at,
            chain_head=chain_head,
            gaps=gaps,
        )
        async with self._lock:  # reports stay in order; a slow API delays, never reorders them
            try:
                await asyncio.to_thread(self._patch, {"status": {"progress": progress}})
            except Exception as error:  # the capture goes on whatever the API says
                log.warning("progress report for %s/%s not written: %s", self.namespace, self.name, error)

    def _patch(self, body: dict[str, Any]) -> None:
        assert self.name is not None and self.namespace is not None  # checked by enabled
        if self._api is None:
            from kubernetes import client, config

            if self._api_client is None:
                try:
                    config.load_incluster_config()
                except config.ConfigException:
                    config.load_kube_config()
            self._api = client.CustomObjectsApi(self._api_client)
        self._api.patch_namespaced_custom_object_status(GROUP, VERSION, self.namespace, PLURAL, self.name, body)
