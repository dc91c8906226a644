"""LiveMonitor client for the analyser's "start monitoring" API when SCIS_CAPTURE_RUNNER=kubernetes.

Plain functions over the official client (sync: call them with ``asyncio.to_thread`` from async
routes). In a Pod they use the Pod's ServiceAccount; the chart grants the analyser exactly the verbs
used here on ``livemonitors`` in its own namespace.
"""

from __future__ import annotations

import os
import re
import uuid
from functools import lru_cache
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL, KIND = "scis.io", "v1alpha1", "livemonitors", "LiveMonitor"
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


class LiveMonitorNotFound(LookupError):
    """No LiveMonitor of that name in the namespace."""


@lru_cache(maxsize=1)
def _api() -> client.CustomObjectsApi:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def current_namespace() -> str:
    """SCIS_LIVEMONITOR_NAMESPACE, else the Pod's own namespace, else ``default``."""
    if namespace := os.environ.get("SCIS_LIVEMONITOR_NAMESPACE"):
        return namespace
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "default"


def capture_session_id(monitor_uid: str, attempt: int) -> str:
    """A stable UUID per capture attempt (0-based), so a retried create never opens two sessions."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"scis.io/livemonitors/{monitor_uid}/{attempt}"))


def current_session_id(monitor: dict[str, Any]) -> str | None:
    """The session id of the monitor's latest capture attempt, None before the first Pod."""
    attempts = int((monitor.get("status") or {}).get("attempts") or 0)
    uid = (monitor.get("metadata") or {}).get("uid")
    return capture_session_id(uid, attempts - 1) if attempts and uid else None


def monitor_name_for(target: str, case_id: str) -> str:
    """A valid, stable object name for a target and case: ``<handle>-<case>``, at most 48 characters."""
    handle = target.rsplit("@", 1)[-1].removesuffix("/live")
    raw = f"{handle}-{case_id}".lower()
    name = _NOT_DNS.sub("-", raw.replace(".", "-").replace("_", "-")).strip("-")
    return name[:48].rstrip("-") or "live"


def build_livemonitor(
    name: str,
    target: str,
    case_id: str,
    source: str = "websocket",
    capture_video: bool = False,
    *,
    namespace: str,
    stop_after: str | None = None,
    labels: dict[str, str] | None = None,
    wait: bool = False,
    again: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"target": target, "caseId": case_id, "source": source, "captureVideo": capture_video}
    if stop_after:
        spec["stopAfter"] = stop_after
    if wait:
        spec["wait"] = True
    if again:
        spec["again"] = True
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "scis", "scis.io/case-id": _label_value(case_id), **(labels or {})},
        },
        "spec": spec,
    }


def create_livemonitor(
    name: str,
    target: str,
    case_id: str,
    source: str = "websocket",
    capture_video: bool = False,
    *,
    namespace: str | None = None,
    stop_after: str | None = None,
    api: client.CustomObjectsApi | None = None,
    wait: bool = False,
    again: bool = False,
) -> dict[str, Any]:
    """Create the LiveMonitor; the operator then starts its capture Pod (which waits for the live if `wait`,
    and for the next one after it ends if `again`)."""
    ns = namespace or current_namespace()
    body = build_livemonitor(
        name, target, case_id, source, capture_video, namespace=ns, stop_after=stop_after, wait=wait, again=again
    )
    created = cast(dict[str, Any], (api or _api()).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body))
    return created


def get_livemonitor(
    name: str, *, namespace: str | None = None, api: client.CustomObjectsApi | None = None
) -> dict[str, Any]:
    ns = namespace or current_namespace()
    try:
        found = cast(dict[str, Any], (api or _api()).get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name))
    except ApiException as error:
        if error.status == 404:
            raise LiveMonitorNotFound(f"{ns}/{name}") from None
        raise
    return found


def list_livemonitors(
    *, namespace: str | None = None, case_id: str | None = None, api: client.CustomObjectsApi | None = None
) -> list[dict[str, Any]]:
    ns = namespace or current_namespace()
    selector = f"scis.io/case-id={_label_value(case_id)}" if case_id else ""
    listing: Any = (api or _api()).list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, label_selector=selector)
    items: list[dict[str, Any]] = listing.get("items") or []
    return items


def delete_livemonitor(name: str, *, namespace: str | None = None, api: client.CustomObjectsApi | None = None) -> bool:
    """Ask for the capture to stop; the operator seals it before the object goes. False if absent."""
    ns = namespace or current_namespace()
    try:
        (api or _api()).delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return value.strip("-._") or "none"
