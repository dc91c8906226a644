"""The real kopf operator against kmock's Kubernetes emulator; the tests play kubelet and user."""

from __future__ import annotations

import asyncio
from typing import Any

from scis.kube.progress import ProgressReporter
from scis_operator.config import OperatorConfig
from tests.k8s.emulator import (
    LM_RESOURCE,
    PEERING_RESOURCE,
    Api,
    Kubelet,
    StampingEmulator,
    api_client_for,
    eventually,
    livemonitor,
    run_operator,
)

FAST = OperatorConfig(
    capture_image="scis-analyser:test",
    capture_env=({"name": "SCIS_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "scis-db", "key": "url"}}},),
    backoff_base_seconds=0.2,
    backoff_max_seconds=0.4,
    max_restarts=2,
    stop_grace_seconds=30,
    stop_poll_seconds=0.1,
    reconcile_interval_seconds=0.1,
    mirror_interval_seconds=0.3,
    peering_priority=100,
    metrics_port=0,
)


def monitor(emulator: StampingEmulator, name: str, ns: str = "ns1") -> dict[str, Any]:
    return emulator.objects[LM_RESOURCE, ns, name].raw


def status(emulator: StampingEmulator, name: str) -> dict[str, Any]:
    return monitor(emulator, name).get("status") or {}


def phase_is(emulator: StampingEmulator, name: str, phase: str) -> bool:
    return status(emulator, name).get("phase") == phase


async def test_create_makes_one_owned_capture_pod(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        created = await api.create_livemonitor(livemonitor("alpha", captureVideo=True))
        await eventually(lambda: phase_is(emulator, "alpha", "Connecting"))
        pods = await eventually(lambda: kubelet.pods())
        assert list(pods) == ["alpha-capture-0"]
        pod = pods["alpha-capture-0"]
        assert pod["metadata"]["labels"]["scis.io/livemonitor"] == "alpha"
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "capture"
        owner = pod["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "LiveMonitor" and owner["name"] == "alpha"
        assert owner["uid"] == created["metadata"]["uid"] and owner["controller"] is True
        container = pod["spec"]["containers"][0]
        assert container["args"][:7] == [
            "capture",
            "--target",
            "@forensic.test",
            "--case-id",
            "CASE-1",
            "--source",
            "websocket",
        ]
        assert container["args"][-1] == "--video"
        env = {e["name"]: e for e in container["env"]}
        assert env["SCIS_LIVEMONITOR_NAME"]["value"] == "alpha"
        assert env["SCIS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "scis-db"
        assert pod["spec"]["restartPolicy"] == "Never"
        st = status(emulator, "alpha")
        assert st["pod"] == "alpha-capture-0" and st["observedGeneration"] == 1
        ready = next(c for c in st["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and ready["reason"] == "Connecting"


def events(emulator: StampingEmulator, ns: str = "ns1") -> list[dict[str, Any]]:
    found = []
    for (resource, namespace, _), obj in list(emulator.objects.items()):
        if resource.plural == "events" and namespace == ns and not obj.deleted:
            found.append(obj.raw)
    return found


def reporter(emulator: StampingEmulator, name: str, pod: str) -> ProgressReporter:
    return ProgressReporter(name=name, namespace="ns1", pod=pod, api_client=api_client_for(str(emulator.url)))


async def test_status_follows_the_capture_progress_reports(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator), run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        await eventually(lambda: phase_is(emulator, "alpha", "Connecting"))
        report = reporter(emulator, "alpha", "alpha-capture-0")
        from datetime import UTC, datetime

        last = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        await report.report(
            phase="Live", events_captured=42, viewers=1500, last_event_at=last, chain_head="ab" * 32, gaps=1
        )
        await eventually(lambda: phase_is(emulator, "alpha", "Live"))
        st = status(emulator, "alpha")
        assert st["eventsCaptured"] == 42 and st["viewers"] == 1500 and st["gaps"] == 1
        assert st["lastEventAt"] == "2026-01-02T03:04:05Z" and st["chainHead"] == "ab" * 32
        ready = next(c for c in st["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True" and ready["reason"] == "Live"

        await report.report(
            phase="Live", events_captured=99, viewers=1200, last_event_at=last, chain_head="cd" * 32, gaps=1
        )
        await eventually(lambda: status(emulator, "alpha")["eventsCaptured"] == 99)
        await eventually(lambda: {e["reason"] for e in events(emulator)} >= {"Connecting", "Live"}, within=30)


async def test_a_report_from_another_pod_is_ignored(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator), run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        await eventually(lambda: phase_is(emulator, "alpha", "Connecting"))
        stale = reporter(emulator, "alpha", "alpha-capture-old")
        await stale.report(phase="Live", events_captured=5, viewers=None, last_event_at=None, chain_head=None, gaps=0)
        await asyncio.sleep(0.4)
        assert phase_is(emulator, "alpha", "Connecting")
        assert status(emulator, "alpha").get("eventsCaptured", 0) == 0  # the stale report's 5 are not counted


async def test_crashed_capture_restarts_with_backoff_then_fails(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        for attempt in range(FAST.max_restarts + 1):
            pod = f"alpha-capture-{attempt}"
            await eventually(
                lambda pod=pod: (kubelet.pods().get(pod) or {}).get("status", {}).get("phase") == "Running"
            )
            crashed_at = asyncio.get_running_loop().time()
            await kubelet.exit(pod, 1)
            if attempt < FAST.max_restarts:
                await eventually(lambda n=attempt + 1: status(emulator, "alpha").get("restarts") == n)
                assert phase_is(emulator, "alpha", "Pending")
                next_pod = f"alpha-capture-{attempt + 1}"
                await eventually(lambda next_pod=next_pod: next_pod in kubelet.pods())
                waited = asyncio.get_running_loop().time() - crashed_at
                assert waited >= FAST.backoff_seconds(attempt + 1) * 0.9, f"restart {attempt + 1} came too soon"
        await eventually(lambda: phase_is(emulator, "alpha", "Failed"))
        st = status(emulator, "alpha")
        ready = next(c for c in st["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "CrashLoop" and "exited with code 1" in ready["message"]
        assert "gave up after 2 restarts" in ready["message"]
        # kopf posts Kubernetes events from a queue of its own, after the status patch.
        posted = {("Warning", "BackOff"), ("Warning", "CrashLoop")}
        await eventually(lambda: posted <= {(e["type"], e["reason"]) for e in events(emulator)}, within=30)
        assert set(kubelet.pods()) == {"alpha-capture-2"}  # older attempts cleaned, the last kept for logs


async def test_offline_and_not_found_exit_codes_are_final(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("offline"))
        await api.create_livemonitor(livemonitor("missing"))
        await eventually(lambda: {"offline-capture-0", "missing-capture-0"} <= set(kubelet.pods()))
        await kubelet.exit("offline-capture-0", 3)
        await kubelet.exit("missing-capture-0", 4)
        await eventually(lambda: phase_is(emulator, "offline", "Offline"))
        await eventually(lambda: phase_is(emulator, "missing", "Failed"))
        await asyncio.sleep(0.3)
        assert status(emulator, "offline")["attempts"] == 1 and status(emulator, "missing")["attempts"] == 1


async def test_delete_waits_for_the_capture_to_seal(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator, hold_terminating=True) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        await eventually(lambda: "alpha-capture-0" in kubelet.pods())
        assert monitor(emulator, "alpha")["metadata"]["finalizers"] == ["scis.io/capture-sealed"]

        await api.delete_livemonitor("ns1", "alpha")
        await eventually(lambda: kubelet.pods()["alpha-capture-0"]["metadata"].get("deletionTimestamp"))
        await asyncio.sleep(0.3)  # the capture is still sealing: the LiveMonitor must wait
        assert not emulator.objects[LM_RESOURCE, "ns1", "alpha"].deleted

        await kubelet.release("alpha-capture-0", code=0)  # SIGTERM handled: flushed, sealed, exited 0
        await eventually(lambda: emulator.objects[LM_RESOURCE, "ns1", "alpha"].deleted)
        assert kubelet.pods() == {}
        deletes = [r for r in emulator if r.method == "DELETE" and r.name == "alpha-capture-0"]
        assert deletes[0].data["gracePeriodSeconds"] == FAST.stop_grace_seconds
        await eventually(lambda: "Stopped" in {e["reason"] for e in events(emulator)}, within=30)


async def test_spec_change_replaces_the_capture(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("alpha"))
        await eventually(lambda: "alpha-capture-0" in kubelet.pods())
        await api.patch_livemonitor("ns1", "alpha", {"spec": {"target": "@another.one"}})
        pod = await eventually(lambda: kubelet.pods().get("alpha-capture-1"))
        assert "@another.one" in pod["spec"]["containers"][0]["args"]
        await eventually(lambda: "alpha-capture-0" not in kubelet.pods())
        await eventually(lambda: status(emulator, "alpha").get("observedGeneration") == 2)
        assert status(emulator, "alpha")["restarts"] == 0


async def test_stop_after_ends_the_capture_cleanly(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("short", stopAfter="1s"))
        await eventually(lambda: "short-capture-0" in kubelet.pods())
        await eventually(lambda: phase_is(emulator, "short", "Ended"), within=5)
        ready = next(c for c in status(emulator, "short")["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "StopAfterElapsed"
        assert kubelet.pods() == {}


async def test_namespace_limit_queues_extra_lives(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    limited = FAST.__class__(**{**FAST.__dict__, "max_lives_per_namespace": 1})
    async with Kubelet(emulator) as kubelet, run_operator(limited, emulator):
        await api.create_livemonitor(livemonitor("first"))
        await eventually(lambda: "first-capture-0" in kubelet.pods())
        await api.create_livemonitor(livemonitor("second"))
        await eventually(lambda: status(emulator, "second").get("conditions"))
        await asyncio.sleep(0.3)
        ready = next(c for c in status(emulator, "second")["conditions"] if c["type"] == "Ready")
        assert phase_is(emulator, "second", "Pending") and ready["reason"] == "ConcurrencyLimit"
        assert "second-capture-0" not in kubelet.pods()

        await kubelet.exit("first-capture-0", 0)  # the first live ends: its slot frees up
        await eventually(lambda: phase_is(emulator, "first", "Ended"))
        await eventually(lambda: "second-capture-0" in kubelet.pods())


class CountingPods:
    """Wraps CapturePods to tell which operator created what."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.created = inner, []

    def create(self, manifest: dict[str, Any]) -> bool:
        created = bool(self.inner.create(manifest))
        if created:
            self.created.append(manifest["metadata"]["name"])
        return created

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_two_operators_only_the_higher_priority_acts(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    low = FAST.__class__(**{**FAST.__dict__, "peering_priority": 10})
    high = FAST.__class__(**{**FAST.__dict__, "peering_priority": 20})
    async with (
        Kubelet(emulator) as kubelet,
        run_operator(high, emulator, identity="operator-high") as high_memo,
        run_operator(low, emulator, identity="operator-low") as low_memo,
    ):
        low_memo.pods, high_memo.pods = CountingPods(low_memo.pods), CountingPods(high_memo.pods)
        peering = PEERING_RESOURCE, "ns1", "scis-operator"
        await eventually(
            lambda: {"operator-low", "operator-high"} <= set(emulator.objects[peering].get("status") or {})
        )
        await asyncio.sleep(0.2)  # let the lower-priority operator notice and pause
        for index in range(3):
            await api.create_livemonitor(livemonitor(f"peer{index}"))
        await eventually(lambda: {"peer0-capture-0", "peer1-capture-0", "peer2-capture-0"} <= set(kubelet.pods()))
        await asyncio.sleep(0.3)
        assert sorted(high_memo.pods.created) == ["peer0-capture-0", "peer1-capture-0", "peer2-capture-0"]
        assert low_memo.pods.created == []


async def test_waiting_again_counts_every_live(emulator: StampingEmulator) -> None:
    """spec.wait + again: the Pod polls (phase Waiting), captures, exits when the live ends, and the
    next Pod waits for the next live; eventsCaptured and sessions add up over the attempts."""
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("waiter", wait=True, again=True))
        pod = await eventually(lambda: kubelet.pods().get("waiter-capture-0"))
        assert "--wait" in pod["spec"]["containers"][0]["args"]
        for attempt, events_in_live in enumerate((40, 2)):
            name = f"waiter-capture-{attempt}"
            await eventually(lambda name=name: name in kubelet.pods())
            report = reporter(emulator, "waiter", name)
            await report.report(phase="Waiting", events_captured=0, viewers=None, last_event_at=None, chain_head=None,
                                gaps=0)  # fmt: skip
            await eventually(lambda: phase_is(emulator, "waiter", "Waiting"))
            ready = next(c for c in status(emulator, "waiter")["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "False" and ready["reason"] == "WaitingForLive"
            await report.report(phase="Live", events_captured=events_in_live, viewers=9, last_event_at=None,
                                chain_head=None, gaps=0)  # fmt: skip
            await eventually(lambda: phase_is(emulator, "waiter", "Live"))
            await report.report(phase="Ended", events_captured=events_in_live, viewers=9, last_event_at=None,
                                chain_head=None, gaps=0)  # fmt: skip
            await kubelet.exit(name, 0)  # the live ended: the next attempt waits for the next one
        await eventually(lambda: "waiter-capture-2" in kubelet.pods())
        await eventually(lambda: status(emulator, "waiter").get("attempts") == 3)
        st = status(emulator, "waiter")
        assert st["eventsCaptured"] == 42 and st["sessions"] == 2, st
        assert st["countedBefore"] == {"events": 42, "sessions": 2}
        assert not phase_is(emulator, "waiter", "Ended")


async def test_waiting_without_again_ends_after_the_live(emulator: StampingEmulator) -> None:
    api = Api(emulator)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await api.create_livemonitor(livemonitor("once", wait=True))
        await eventually(lambda: "once-capture-0" in kubelet.pods())
        report = reporter(emulator, "once", "once-capture-0")
        await report.report(phase="Live", events_captured=7, viewers=1, last_event_at=None, chain_head=None, gaps=0)
        await eventually(lambda: phase_is(emulator, "once", "Live"))
        await report.report(phase="Ended", events_captured=11, viewers=1, last_event_at=None, chain_head=None, gaps=0)
        await kubelet.exit("once-capture-0", 0)
        await eventually(lambda: phase_is(emulator, "once", "Ended"))
        st = status(emulator, "once")
        assert st["eventsCaptured"] == 11 and st["sessions"] == 1 and st["attempts"] == 1
