"""Where a monitored live is captured: in this process, or in a Pod of its own via a LiveMonitor.

One interface, two runners, chosen by SCIS_CAPTURE_RUNNER; the routes do not know which runs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from scis.analyser.captures import CaptureManager, MonitorExists, MonitorNotFound, SuccessorHook
from scis.analyser.models import MonitorCreate, MonitorRead
from scis.core.status import SessionStatus
from scis.kube import livemonitors
from scis.kube.progress import STATUS_OF_PHASE


class UnsupportedMonitor(ValueError):
    """The runner cannot take this request; the message names the field and what to do."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.value, self.problem = field, value, problem


class MonitorRunner(Protocol):
    async def start(
        self, monitor_in: MonitorCreate, *, created_by: str, on_successor: SuccessorHook | None = None
    ) -> MonitorRead: ...
    async def stop(self, session_id: UUID) -> MonitorRead: ...
    async def get(self, session_id: UUID) -> MonitorRead: ...
    async def list(self, *, active_only: bool = False) -> list[MonitorRead]: ...
    async def close(self) -> None: ...


class InProcessRunner:
    """Captures as asyncio tasks of the analyser itself (the embedded default)."""

    def __init__(self, manager: CaptureManager) -> None:
        self.manager = manager

    async def start(
        self, monitor_in: MonitorCreate, *, created_by: str, on_successor: SuccessorHook | None = None
    ) -> MonitorRead:
        return await self.manager.start(monitor_in, created_by=created_by, on_successor=on_successor)

    async def stop(self, session_id: UUID) -> MonitorRead:
        return await self.manager.stop(session_id)

    async def get(self, session_id: UUID) -> MonitorRead:
        return self.manager.get(session_id)

    async def list(self, *, active_only: bool = False) -> list[MonitorRead]:
        return self.manager.list(active_only=active_only)

    async def close(self) -> None:
        await self.manager.close()


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def monitor_from_livemonitor(monitor: dict[str, Any]) -> MonitorRead:
    """What the API shows of a LiveMonitor, from the status the operator keeps."""
    meta, spec, status = monitor.get("metadata") or {}, monitor.get("spec") or {}, monitor.get("status") or {}
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    session = livemonitors.current_session_id(monitor) or livemonitors.capture_session_id(meta.get("uid", ""), 0)
    case_id = str(spec.get("caseId") or "")
    return MonitorRead(
        session_id=UUID(session),
        target=str(spec.get("target", "")).lstrip("@"),
        source=str(spec.get("source", "websocket")),
        case_id=int(case_id) if case_id.isdigit() else None,
        status=STATUS_OF_PHASE.get(status.get("phase", "Pending"), SessionStatus.STARTING),
        status_reason=str(ready.get("message") or ""),
        room_id=None,
        started_at=_timestamp(status.get("startedAt") or meta.get("creationTimestamp")),
        ended_at=None,
        events_total=int(status.get("eventsCaptured") or 0),
        events_by_kind={},
        viewers=status.get("viewers"),
        likes_total=None,
        last_event_at=_timestamp(status.get("lastEventAt")),
        chain_head=status.get("chainHead"),
        gaps=int(status.get("gaps") or 0),
        malformed=0,
        duplicates=0,
        spilled=0,
        queued=0,
        reconnects=int(status.get("restarts") or 0),
    )


class KubernetesRunner:
    """Each live captured by a Pod the LiveMonitor operator runs; this runner only creates and reads."""

    def __init__(self, namespace: str | None = None, api: CustomObjectsApi | None = None) -> None:
        self.namespace = namespace
        self.api = api  # None: in-cluster configuration, else the kubeconfig

    async def start(
        self, monitor_in: MonitorCreate, *, created_by: str, on_successor: SuccessorHook | None = None
    ) -> MonitorRead:
        # on_successor is unused: with spec.again the operator starts each next capture Pod itself.
        if monitor_in.case_id is None:
            problem = "required when captures run in Kubernetes (LiveMonitor spec.caseId)"
            raise UnsupportedMonitor("case_id", None, problem)
        if monitor_in.source.value == "replay":
            problem = "replay runs in-process only; use `scis capture --source replay`"
            raise UnsupportedMonitor("source", "replay", problem)
        name = livemonitors.monitor_name_for(monitor_in.target, str(monitor_in.case_id))
        try:
            created = await asyncio.to_thread(
                livemonitors.create_livemonitor, name, f"@{monitor_in.target}", str(monitor_in.case_id),
                monitor_in.source.value, monitor_in.video, namespace=self.namespace, api=self.api, wait=monitor_in.wait,
                again=monitor_in.again,
            )  # fmt: skip
        except ApiException as error:
            if error.status == 409:
                message = f"@{monitor_in.target} is already monitored for case {monitor_in.case_id}"
                raise MonitorExists(message) from None
            raise
        if not created:  # some API servers answer a create with an empty body: read it back
            read_back = livemonitors.get_livemonitor
            created = await asyncio.to_thread(read_back, name, namespace=self.namespace, api=self.api)
        return monitor_from_livemonitor(created)

    async def _find(self, session_id: UUID) -> dict[str, Any]:
        for monitor in await asyncio.to_thread(livemonitors.list_livemonitors, namespace=self.namespace, api=self.api):
            if livemonitors.current_session_id(monitor) == str(session_id):
                return monitor
        raise MonitorNotFound(f"no LiveMonitor whose current capture is session {session_id}")

    async def stop(self, session_id: UUID) -> MonitorRead:
        monitor = await self._find(session_id)
        name = monitor["metadata"]["name"]
        await asyncio.to_thread(livemonitors.delete_livemonitor, name, namespace=self.namespace, api=self.api)
        return monitor_from_livemonitor(monitor)

    async def get(self, session_id: UUID) -> MonitorRead:
        return monitor_from_livemonitor(await self._find(session_id))

    async def list(self, *, active_only: bool = False) -> list[MonitorRead]:
        monitors = [
            monitor_from_livemonitor(m)
            for m in await asyncio.to_thread(livemonitors.list_livemonitors, namespace=self.namespace, api=self.api)
        ]
        return [m for m in monitors if m.status.active] if active_only else monitors

    async def close(self) -> None:
        # The captures belong to their Pods and outlive this process.
        return None
