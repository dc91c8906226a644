"""The analyser's Kubernetes runner: start monitoring creates a LiveMonitor the real operator runs."""

from __future__ import annotations

import asyncio

import kubernetes
import pytest

from scis.analyser.captures import MonitorExists, MonitorNotFound
from scis.analyser.models import MonitorCreate
from scis.analyser.runners import KubernetesRunner, UnsupportedMonitor
from scis.kube.livemonitors import capture_session_id
from scis.kube.progress import ProgressReporter
from tests.k8s.emulator import LM_RESOURCE, Kubelet, StampingEmulator, api_client_for, eventually, run_operator
from tests.k8s.test_operator_emulator import FAST, phase_is


async def test_start_follow_and_stop_a_live_through_a_livemonitor(emulator: StampingEmulator) -> None:
    api = kubernetes.client.CustomObjectsApi(api_client_for(str(emulator.url)))
    runner = KubernetesRunner(namespace="ns1", api=api)
    async with Kubelet(emulator), run_operator(FAST, emulator):
        with pytest.raises(UnsupportedMonitor, match="case_id: required when captures run in Kubernetes"):
            await runner.start(MonitorCreate(target="@alpha.live"), created_by="t")
        started = await runner.start(MonitorCreate(target="@alpha.live", case_id=7), created_by="t")
        assert started.status == "starting" and started.target == "alpha.live" and started.case_id == 7
        with pytest.raises(MonitorExists):
            await runner.start(MonitorCreate(target="@alpha.live", case_id=7), created_by="t")

        name = "alpha-live-7"
        await eventually(lambda: phase_is(emulator, name, "Connecting"))
        uid = emulator.objects[LM_RESOURCE, "ns1", name].raw["metadata"]["uid"]
        session_id = capture_session_id(uid, 0)
        assert [str(m.session_id) for m in await runner.list(active_only=True)] == [session_id]

        reporter = ProgressReporter(name=name, namespace="ns1", pod=f"{name}-capture-0",
                                    api_client=api_client_for(str(emulator.url)))  # fmt: skip
        await reporter.report(phase="Live", events_captured=42, viewers=900, last_event_at=None, chain_head="ab" * 32,
                              gaps=0)  # fmt: skip
        await eventually(lambda: phase_is(emulator, name, "Live"))
        live = await runner.get(started.session_id if str(started.session_id) == session_id else session_id)
        assert live.status == "live" and live.events_total == 42 and live.viewers == 900

        await runner.stop(live.session_id)
        for _ in range(200):  # the finalizer waits for the capture Pod to seal, then the object goes
            if not await runner.list():
                break
            await asyncio.sleep(0.05)
        with pytest.raises(MonitorNotFound):
            await runner.get(live.session_id)


async def test_video_asked_through_the_api_reaches_the_livemonitor(emulator: StampingEmulator) -> None:
    api = kubernetes.client.CustomObjectsApi(api_client_for(str(emulator.url)))
    runner = KubernetesRunner(namespace="ns1", api=api)
    await runner.start(MonitorCreate(target="@beta.live", case_id=8, video=True), created_by="t")
    await runner.start(MonitorCreate(target="@gamma.live", case_id=8), created_by="t")
    specs = {name: emulator.objects[LM_RESOURCE, "ns1", name].raw["spec"] for name in ("beta-live-8", "gamma-live-8")}
    assert specs["beta-live-8"]["captureVideo"] is True
    assert specs["gamma-live-8"]["captureVideo"] is False


async def test_again_asked_through_the_api_reaches_the_livemonitor(emulator: StampingEmulator) -> None:
    api = kubernetes.client.CustomObjectsApi(api_client_for(str(emulator.url)))
    runner = KubernetesRunner(namespace="ns1", api=api)
    await runner.start(MonitorCreate(target="@delta.live", case_id=9, wait=True, again=True), created_by="t")
    await runner.start(MonitorCreate(target="@epsilon.live", case_id=9, wait=True), created_by="t")
    names = ("delta-live-9", "epsilon-live-9")
    specs = {name: emulator.objects[LM_RESOURCE, "ns1", name].raw["spec"] for name in names}
    assert specs["delta-live-9"]["again"] is True and specs["delta-live-9"]["wait"] is True
    assert "again" not in specs["epsilon-live-9"]


async def test_a_waiting_monitor_through_a_livemonitor_is_listed_as_waiting(emulator: StampingEmulator) -> None:
    api = kubernetes.client.CustomObjectsApi(api_client_for(str(emulator.url)))
    runner = KubernetesRunner(namespace="ns1", api=api)
    async with Kubelet(emulator) as kubelet, run_operator(FAST, emulator):
        await runner.start(MonitorCreate(target="@beta.live", case_id=8, wait=True), created_by="t")
        name = "beta-live-8"
        assert emulator.objects[LM_RESOURCE, "ns1", name].raw["spec"]["wait"] is True
        pod = await eventually(lambda: kubelet.pods().get(f"{name}-capture-0"))
        assert "--wait" in pod["spec"]["containers"][0]["args"]
        reporter = ProgressReporter(name=name, namespace="ns1", pod=f"{name}-capture-0",
                                    api_client=api_client_for(str(emulator.url)))  # fmt: skip
        await reporter.report(phase="Waiting", events_captured=0, viewers=None, last_event_at=None, chain_head=None,
                              gaps=0)  # fmt: skip
        await eventually(lambda: phase_is(emulator, name, "Waiting"))
        assert [m.status for m in await runner.list(active_only=True)] == ["waiting"]
