"""Operator faults on the emulator: restarted mid-reconcile, capture Pod evicted, two operators racing.

In each, the LiveMonitor must end in the right phase, with one capture Pod at a time and none
created twice. A `PodWatch` samples the emulated cluster throughout and keeps the worst it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from tests.k8s.emulator import (
    Api,
    Kubelet,
    StampingEmulator,
    eventually,
    livemonitor,
    run_operator,
)
from tests.k8s.test_operator_emulator import FAST, phase_is, reporter, status

WAIT = 30.0  # generous: the machine may be busy; every wait ends as soon as its condition holds


def pod_phase(kubelet: Kubelet, name: str) -> str | None:
    return (kubelet.pods().get(name) or {}).get("status", {}).get("phase")  # type: ignore[no-any-return]


class PodWatch:
    """The most capture Pods of one LiveMonitor seen running at once, and every Pod name seen."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.most_running: Counter[str] = Counter()
        self.names: set[str] = set()

    def sample(self) -> None:
        running: Counter[str] = Counter()
        for name, pod in self.kubelet.pods().items():
            self.names.add(name)
            phase = (pod.get("status") or {}).get("phase")
            if phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp"):
                running[pod["metadata"]["labels"]["scis.io/livemonitor"]] += 1
        for monitor, count in running.items():
            self.most_running[monitor] = max(self.most_running[monitor], count)


@contextlib.asynccontextmanager
async def watching(kubelet: Kubelet) -> AsyncIterator[PodWatch]:
    watch = PodWatch(kubelet)

    async def loop() -> None:
        while True:
            watch.sample()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        watch.sample()


def pod_creations(emulator: StampingEmulator) -> Counter[str]:
    """POSTs of each Pod name (a repeated one was refused with 409: names are unique)."""
    return Counter(
        r.data["metadata"]["name"]
        for r in emulator
        if r.method == "POST" and r.resource is not None and r.resource.plural == "pods"
    )


class StallAfterCreate:
    """CapturePods whose first create succeeds and then hangs: the operator dies before writing status."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.created = threading.Event()
        self.release = threading.Event()

    def create(self, manifest: dict[str, Any]) -> bool:
        made = bool(self.inner.create(manifest))
        self.created.set()
        self.release.wait(30)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_operator_restarted_mid_reconcile_adopts_its_pod(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, watching(kubelet) as watch:
        stalled: StallAfterCreate | None = None
        async with run_operator(FAST, emulator, identity="operator-1") as memo:
            stalled = StallAfterCreate(memo.pods)
            memo.pods = stalled
            await api.create_livemonitor(livemonitor("alpha"))
            await eventually(lambda: stalled is not None and stalled.created.is_set(), within=WAIT)
            assert "alpha-capture-0" in kubelet.pods() and not status(emulator, "alpha").get("pod")
        # The first operator is gone with its status never written; its stuck thread may now end.
        stalled.release.set()

        async with run_operator(FAST, emulator, identity="operator-2"):
            await eventually(lambda: status(emulator, "alpha").get("pod") == "alpha-capture-0", within=WAIT)
            await eventually(lambda: phase_is(emulator, "alpha", "Connecting"), within=WAIT)
            await reporter(emulator, "alpha", "alpha-capture-0").report(
                phase="Live", events_captured=7, viewers=3, last_event_at=None, chain_head="ef" * 32, gaps=0
            )
            await eventually(lambda: phase_is(emulator, "alpha", "Live"), within=WAIT)
            await kubelet.exit("alpha-capture-0", 0)
            await eventually(lambda: phase_is(emulator, "alpha", "Ended"), within=WAIT)
    st = status(emulator, "alpha")
    assert st["attempts"] == 1 and st["restarts"] == 0 and st["eventsCaptured"] == 7
    assert watch.names == {"alpha-capture-0"} and watch.most_running["alpha"] == 1
    print(f"\nrestart mid-reconcile: pod POSTs {dict(pod_creations(emulator))}, one Pod, phase Ended")


async def test_an_evicted_capture_pod_is_replaced_once(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, watching(kubelet) as watch, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        await eventually(lambda: pod_phase(kubelet, "alpha-capture-0") == "Running", within=WAIT)
        # Node pressure: the kubelet kills the container and marks the Pod Failed/Evicted.
        await api.patch_pod("ns1", "alpha-capture-0", {"status": {
            "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory.",
            "containerStatuses": [{
                "name": "capture", "image": "scis-analyser:test", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137}},
            }],
        }}, status=True)  # fmt: skip
        await eventually(lambda: status(emulator, "alpha").get("restarts") == 1, within=WAIT)
        await eventually(lambda: set(kubelet.pods()) == {"alpha-capture-1"}, within=WAIT)
        await eventually(lambda: phase_is(emulator, "alpha", "Connecting"), within=WAIT)
        # A drain instead: the eviction API deletes the Pod; the capture seals on SIGTERM and exits 0.
        await eventually(lambda: pod_phase(kubelet, "alpha-capture-1") == "Running", within=WAIT)
        await api._call("DELETE", "/api/v1/namespaces/ns1/pods/alpha-capture-1")
        await eventually(lambda: status(emulator, "alpha").get("restarts") == 2, within=WAIT)
        await eventually(lambda: "alpha-capture-2" in kubelet.pods(), within=WAIT)
        await kubelet.exit("alpha-capture-2", 0)
        await eventually(lambda: phase_is(emulator, "alpha", "Ended"), within=WAIT)

        def messages() -> str:  # kopf posts Kubernetes events from a queue of its own
            return " ".join(e["message"] for e in _events(emulator))

        await eventually(lambda: "exited with code 137 (Evicted)" in messages(), within=WAIT)
        await eventually(lambda: "disappeared (evicted or deleted)" in messages(), within=WAIT)
    print(
        f"\ncapture Pod evicted then drained: Pod POSTs {dict(pod_creations(emulator))}, Pods {sorted(watch.names)}, "
        f"most running at once {watch.most_running['alpha']}, restarts {status(emulator, 'alpha').get('restarts')}"
    )
    assert watch.most_running["alpha"] == 1
    assert watch.names == {"alpha-capture-0", "alpha-capture-1", "alpha-capture-2"}


async def test_two_operators_racing_never_duplicate_a_capture(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    names = [f"race{index}" for index in range(4)]
    first = FAST.__class__(**{**FAST.__dict__, "peering_priority": 20})
    second = FAST.__class__(**{**FAST.__dict__, "peering_priority": 10})
    # Each operator in a thread with its own event loop, as two operator Pods would be.
    async with (
        Kubelet(emulator) as kubelet,
        watching(kubelet) as watch,
        run_operator(second, emulator, identity="b"),
    ):
        async with run_operator(first, emulator, identity="operator-a"):
            # Created while both start and before peering settles: both may reconcile them.
            for name in names:
                await api.create_livemonitor(livemonitor(name))
            await eventually(lambda: {f"{n}-capture-0" for n in names} <= set(kubelet.pods()), within=WAIT)
            await kubelet.exit("race0-capture-0", 1)  # one crash while both are up
            await eventually(lambda: status(emulator, "race0").get("pod") == "race0-capture-1", within=WAIT)
        # operator-a leaves (rolling update): operator-b takes over and finishes the lives. It resumes
        # only once a's peering record has expired (its lifetime, then b's next peering check), so the
        # takeover gets twice the usual budget on a busy machine.
        left_at = asyncio.get_running_loop().time()
        for name in names:
            pod = status(emulator, name)["pod"]
            await kubelet.exit(pod, 0)
        for name in names:
            try:
                await eventually(lambda name=name: phase_is(emulator, name, "Ended"), within=2 * WAIT)
            except AssertionError as error:
                phases = {n: status(emulator, n).get("phase") for n in names}
                raise AssertionError(f"{error}; phases {phases}; peering {_peering(emulator)}") from None
        took = asyncio.get_running_loop().time() - left_at
    assert all(watch.most_running[name] == 1 for name in names), dict(watch.most_running)
    assert status(emulator, "race0")["restarts"] == 1
    # Pod names are unique in a cluster; a second POST of one name (both operators acting) is refused with 409.
    assert watch.names == {*(f"{n}-capture-0" for n in names), "race0-capture-1"}
    print(f"\ntwo operators racing: Pod POSTs {dict(pod_creations(emulator))}, Pods {sorted(watch.names)}, "
          f"takeover to all Ended {took:.1f} s")  # fmt: skip


def _peering(emulator: StampingEmulator) -> list[Any]:
    return [
        obj.raw.get("status") for (resource, _, _), obj in list(emulator.objects.items())
        if resource.plural == "kopfpeerings" and not obj.deleted
    ]  # fmt: skip


def _events(emulator: StampingEmulator) -> list[dict[str, Any]]:
    return [
        obj.raw for (resource, ns, _), obj in list(emulator.objects.items())
        if resource.plural == "events" and ns == "ns1" and not obj.deleted
    ]  # fmt: skip
