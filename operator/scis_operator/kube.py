"""The few Kubernetes calls the operator makes itself, over the official client (sync: kopf runs
sync handlers in its thread pool)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException


def load_config() -> None:
    """In-cluster credentials in a Pod, the kubeconfig elsewhere (development, tests)."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()


class CapturePods:
    def __init__(self, api_client: kubernetes.client.ApiClient | None = None) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)

    def create(self, manifest: dict[str, Any]) -> bool:
        """Create the Pod; False if it already exists (a retried or concurrent reconcile made it)."""
        try:
            namespace = manifest["metadata"]["namespace"]
            self._core.create_namespaced_pod(namespace, manifest, _preload_content=False)  # type: ignore[arg-type]
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def stop(self, namespace: str, name: str, *, grace_seconds: int) -> bool:
        """Graceful delete: the kubelet sends SIGTERM and waits up to ``grace_seconds``.

        False if the Pod is already gone.
        """
        body = kubernetes.client.V1DeleteOptions(grace_period_seconds=grace_seconds)
        try:
            self._core.delete_namespaced_pod(name, namespace, body=body, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._core.read_namespaced_pod(name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        pod: dict[str, Any] = json.loads(response.data)  # type: ignore[attr-defined]
        return pod
