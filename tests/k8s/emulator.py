"""A Kubernetes API for the operator tests: kmock's emulator, plus the parts of a cluster it lacks.

kmock stores objects and streams watch events, and nothing else. Here:
- ``StampingEmulator`` stamps what the API server would (uid, resourceVersion, generation,
  creationTimestamp), since kopf keys its memory by uid and the operator reads generation;
- ``Kubelet`` plays the node: it starts Pods, makes their process exit with a code, and holds a
  deleted Pod until its process "sealed" and exited (a finalizer stands for the running container);
- ``run_operator`` runs the real kopf operator in a thread with its own event loop, as an operator
  Pod would be: nothing of its loop (watch streams, peering, cancellation) is shared with the test's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kmock
import kopf
import kubernetes
import yaml

from scis_operator.config import OperatorConfig
from scis_operator.kube import CapturePods

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "charts" / "scis" / "crds" / "livemonitors.scis.io.yaml"
LM_RESOURCE = "scis.io/v1alpha1/livemonitors"
PEERING_RESOURCE = "kopf.dev/v1/kopfpeerings"
RUNNING_CONTAINER = "emulator.scis.io/container-running"  # a finalizer that stands for a live process
_versions = itertools.count(1000)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class StampingEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with the metadata a real API server stamps on every write."""

    async def _handle(self, request: kmock.Request) -> Any:
        data = request.data
        if request.resource is not None and isinstance(data, dict):
            if request.action == kmock.action.CREATE:
                meta = data.setdefault("metadata", {})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", _now())
                meta.setdefault("generation", 1)
                meta["resourceVersion"] = str(next(_versions))
                if request.resource == kmock.resource("", "v1", "pods"):
                    meta.setdefault("finalizers", []).append(RUNNING_CONTAINER)
                    data.setdefault("status", {"phase": "Pending"})
            elif request.action == kmock.action.UPDATE and request.name is not None:
                meta = data.setdefault("metadata", {})
                meta["resourceVersion"] = str(next(_versions))
                if "spec" in data and request.subresource is None:
                    key = (request.resource, request.namespace, request.name)
                    current = None
                    if key in self.objects:  # ObjectsArray has no .get()
                        current = self.objects[key]
                    if current is not None and not current.deleted and current.get("spec") != data["spec"]:
                        meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return await super()._handle(request)


def crd_resource_info() -> kmock.ResourceInfo:
    crd = yaml.safe_load(CRD_PATH.read_text())
    names = crd["spec"]["names"]
    return kmock.ResourceInfo(
        kind=names["kind"],
        singular=names["singular"],
        namespaced=True,
        verbs={"list", "watch", "get", "create", "patch", "update", "delete"},
        shortnames=set(names["shortNames"]),
        categories=set(names.get("categories", [])),
        subresources={"status"},
    )


def register_resources(emulator: kmock.KubernetesEmulator, *, peering: bool = False) -> None:
    emulator.resources.load_bundled()
    emulator.resources[LM_RESOURCE] = crd_resource_info()
    if peering:
        emulator.resources[PEERING_RESOURCE] = kmock.ResourceInfo(
            kind="KopfPeering",
            singular="kopfpeering",
            namespaced=True,
            verbs={"list", "watch", "get", "create", "patch", "update", "delete"},
        )


def add_peering(emulator: kmock.KubernetesEmulator, namespace: str = "ns1", name: str = "scis-operator") -> None:
    emulator.objects[PEERING_RESOURCE, namespace, name] = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "resourceVersion": "1"},
    }


def write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emulator",
                "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "test"}}],
                "users": [{"name": "test", "user": {"token": "test"}}],
            }
        )
    )
    return path


def livemonitor(name: str, namespace: str = "ns1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scis.io/v1alpha1",
        "kind": "LiveMonitor",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"target": "@forensic.test", "caseId": "CASE-1", "source": "websocket", **spec},
    }


class NotFound(LookupError):
    pass


class Api:
    """Test-side calls to the emulated API, as kubectl would make them."""

    def __init__(self, emulator: kmock.KubernetesEmulator) -> None:
        self.emulator = emulator

    async def _call(self, method: str, path: str, body: Any = None, content_type: str | None = None) -> Any:
        headers = {"Content-Type": content_type} if content_type else {}
        response = await self.emulator.request(method, path, json=body, headers=headers)
        payload = await response.json()
        if response.status == 404:
            raise NotFound(f"{method} {path}")
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return payload

    async def create_livemonitor(self, manifest: Mapping[str, Any]) -> Any:
        ns = manifest["metadata"]["namespace"]
        return await self._call("POST", f"/apis/scis.io/v1alpha1/namespaces/{ns}/livemonitors", dict(manifest))

    async def patch_livemonitor(self, ns: str, name: str, body: Any, *, status: bool = False) -> Any:
        suffix = "/status" if status else ""
        path = f"/apis/scis.io/v1alpha1/namespaces/{ns}/livemonitors/{name}{suffix}"
        return await self._call("PATCH", path, body, "application/merge-patch+json")

    async def delete_livemonitor(self, ns: str, name: str) -> Any:
        return await self._call("DELETE", f"/apis/scis.io/v1alpha1/namespaces/{ns}/livemonitors/{name}")

    async def patch_pod(self, ns: str, name: str, body: Any, *, status: bool = False) -> Any:
        suffix = "/status" if status else ""
        return await self._call(
            "PATCH", f"/api/v1/namespaces/{ns}/pods/{name}{suffix}", body, "application/merge-patch+json"
        )


class Kubelet:
    """Plays the node for the emulated cluster, in a background task."""

    def __init__(self, emulator: kmock.KubernetesEmulator, *, hold_terminating: bool = False) -> None:
        self.emulator = emulator
        self.api = Api(emulator)
        self.hold_terminating = hold_terminating  # keep deleted Pods "sealing" until release()
        self._task: asyncio.Task[None] | None = None

    def pods(self, namespace: str | None = "ns1") -> dict[Any, Any]:
        """Live Pods by name (or by (namespace, name) when ``namespace`` is None)."""
        found: dict[Any, Any] = {}
        for (resource, ns, name), obj in list(self.emulator.objects.items()):
            if resource == kmock.resource("", "v1", "pods") and not obj.deleted:
                if namespace is None:
                    found[(ns, name)] = obj.raw
                elif ns == namespace:
                    found[name] = obj.raw
        return found

    async def exit(self, name: str, code: int, namespace: str = "ns1") -> None:
        """The capture process exits with ``code``; the Pod stays, terminated, as with restartPolicy Never."""

        def running() -> bool:
            return (self.pods(namespace).get(name) or {}).get("status", {}).get("phase") == "Running"

        await eventually(running, within=30)  # generous: the node loop may be slow on a busy machine
        await self.api.patch_pod(namespace, name, _terminated(code), status=True)

    async def release(self, name: str, namespace: str = "ns1", code: int = 0) -> None:
        """A deleted Pod's process sealed its evidence and exited: the Pod object goes away."""
        await self.api.patch_pod(namespace, name, _terminated(code), status=True)
        await self.api.patch_pod(namespace, name, {"metadata": {"finalizers": []}})

    async def _step(self) -> None:
        for (namespace, name), pod in self.pods(None).items():
            meta, phase = pod["metadata"], (pod.get("status") or {}).get("phase")
            if meta.get("deletionTimestamp"):
                terminated = phase in ("Succeeded", "Failed")
                if terminated or not self.hold_terminating:
                    await self.release(name, namespace, code=_exit_code(pod) if terminated else 0)
            elif phase in (None, "Pending"):
                await self.api.patch_pod(namespace, name, {"status": {"phase": "Running"}}, status=True)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(NotFound):  # a Pod the test itself just finished
                await self._step()
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> Kubelet:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _terminated(code: int) -> dict[str, Any]:
    return {
        "status": {
            "phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": "capture",
                    "image": "scis-analyser:test",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
                }
            ],
        }
    }


def _exit_code(pod: Mapping[str, Any]) -> int:
    for container in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (container.get("state") or {}).get("terminated") or {}
        if "exitCode" in terminated:
            return int(terminated["exitCode"])
    return 0


_login: dict[str, str] = {}


@kopf.on.login()
def login_to_emulator(**_: Any) -> kopf.ConnectionInfo:
    """Tests log in to the emulator of the running test (the kubeconfig path is read too early)."""
    return kopf.ConnectionInfo(server=_login["server"], token="test", insecure=True)


def api_client_for(url: str) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    configuration.host = url.rstrip("/")
    configuration.api_key = {"authorization": "Bearer test"}
    return kubernetes.client.ApiClient(configuration)


def _operator_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.watching.reconnect_backoff = 0.1
    settings.queueing.idle_timeout = 0.05
    settings.peering.lifetime = 5
    return settings


@contextlib.asynccontextmanager
async def run_operator(
    config: OperatorConfig,
    emulator: kmock.KubernetesEmulator | str,
    *,
    namespaces: tuple[str, ...] = ("ns1",),
    identity: str | None = None,
) -> AsyncIterator[kopf.Memo]:
    """The real operator in a thread with an event loop of its own, as an operator Pod would be, until
    the block exits; then it stops gracefully, leaving the peering as a rolling update would. Nothing of
    its loop (watch streams, peering, handler tasks kopf leaves orphaned) outlives it or reaches the
    test's loop. ``emulator`` may also be the URL of an emulator in another process (the bench)."""
    import scis_operator.handlers  # noqa: F401  (registers the handlers in kopf's default registry)

    _login["server"] = (emulator if isinstance(emulator, str) else str(emulator.url)).rstrip("/")
    memo = kopf.Memo(config=config, pods=CapturePods(api_client_for(_login["server"])))
    stop_flag, ready_flag = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    settings=_operator_settings(),
                    namespaces=namespaces,
                    identity=identity,  # type: ignore[arg-type]
                    stop_flag=stop_flag,
                    ready_flag=ready_flag,
                    memo=memo,
                )
            )
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            failure.append(error)

    thread = threading.Thread(target=run, name=f"operator-{identity or 'default'}", daemon=True)
    thread.start()
    if not await asyncio.to_thread(ready_flag.wait, 30):
        raise AssertionError(f"operator {identity} not ready within 30 s: {failure}")
    try:
        yield memo
    finally:
        stop_flag.set()
        await asyncio.to_thread(thread.join, 60)
        assert not thread.is_alive(), f"operator {identity} did not stop within 60 s"
        assert not failure, failure


async def eventually(check: Any, *, within: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``check()`` until it returns something truthy without raising AssertionError."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, KeyError, ValueError):
            if asyncio.get_running_loop().time() > deadline:
                raise
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s: {check}")
        await asyncio.sleep(interval)
