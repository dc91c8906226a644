"""The operator at scale: 1,000 LiveMonitors to a capture Pod and Connecting, then steady state.

Runs the real kopf operator against kmock's Kubernetes emulator (tests/k8s/emulator.py), in this
process, and prints:
- the time until every LiveMonitor has its capture Pod, and until every one reads Connecting (the
  baseline is a naive sequential create-Pod-and-patch loop over the same count, in the same run);
- the process RSS (operator, emulator and bench together: an upper bound for the operator alone);
- the API calls the operator makes per LiveMonitor per minute in steady state, while every capture
  reports its progress at the real rate (scis.capture.pipeline.PROGRESS_EVERY_SECONDS). The baseline
  is the capture's own report rate: what one status patch per report would cost.

    SCIS_BENCH_COUNT=1000 python bench/operator_bench.py
"""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCIS_OPERATOR_METRICS_PORT", "0")

import kmock  # noqa: E402
import psutil  # noqa: E402

from scis.capture.pipeline import PROGRESS_EVERY_SECONDS  # noqa: E402
from scis.kube.progress import build_progress  # noqa: E402
from scis_operator.builders import build_capture_pod  # noqa: E402
from scis_operator.config import OperatorConfig  # noqa: E402
from scis_operator.kube import CapturePods  # noqa: E402
from tests.k8s.emulator import (  # noqa: E402
    LM_RESOURCE,
    Api,
    StampingEmulator,
    add_peering,
    api_client_for,
    eventually,
    livemonitor,
    register_resources,
    run_operator,
)

COUNT = int(os.environ.get("SCIS_BENCH_COUNT", "1000"))
# The naive loop is sequential: timed over fewer LiveMonitors and scaled to COUNT (it is linear).
NAIVE_COUNT = min(COUNT, int(os.environ.get("SCIS_BENCH_NAIVE_COUNT", "100")))
STEADY_SECONDS = float(os.environ.get("SCIS_BENCH_STEADY_SECONDS", "60"))
BENCH_HEADER = "X-Scis-Bench"  # marks the bench's own requests (the simulated captures, the test client)
CONFIG = OperatorConfig(
    capture_image="scis-analyser:bench",
    max_lives_per_namespace=COUNT * 2,
    peering_priority=100,
    metrics_port=0,
)


class CountingEmulator(StampingEmulator):
    """Counts every request that is not the bench's own, by method and resource."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operator_calls: collections.Counter[str] = collections.Counter()

    async def _handle(self, request: kmock.Request) -> Any:
        if BENCH_HEADER.lower() not in {key.lower() for key in request.headers}:
            plural = request.resource.plural if request.resource is not None else "-"
            subresource = f"/{request.subresource}" if request.subresource else ""
            self.operator_calls[f"{request.method} {plural}{subresource}"] += 1
        return await super()._handle(request)


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _count(emulator: StampingEmulator, plural: str, namespace: str, phase: str | None = None) -> int:
    done = 0
    for (resource, ns, _), obj in list(emulator.objects.items()):
        ours = resource.plural == plural and ns == namespace and not obj.deleted
        if ours and (phase is None or (obj.raw.get("status") or {}).get("phase") == phase):
            done += 1
    return done


async def _call(emulator: StampingEmulator, method: str, path: str, body: Any, content_type: str) -> Any:
    headers = {BENCH_HEADER: "1", "Content-Type": content_type}
    response = await emulator.request(method, path, json=body, headers=headers)
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
    return await response.json()


async def _create(emulator: StampingEmulator, name: str, namespace: str) -> Any:
    path = f"/apis/scis.io/v1alpha1/namespaces/{namespace}/livemonitors"
    return await _call(emulator, "POST", path, livemonitor(name, namespace), "application/json")


async def _capture(emulator: StampingEmulator, name: str, namespace: str, offset: float) -> None:
    """One capture process: reports Live with growing counters every PROGRESS_EVERY_SECONDS."""
    await asyncio.sleep(offset)
    path = f"/apis/scis.io/v1alpha1/namespaces/{namespace}/livemonitors/{name}/status"
    events = 0
    while True:
        pod = (emulator.objects[LM_RESOURCE, namespace, name].raw.get("status") or {}).get("pod")
        events += 100
        progress = build_progress(
            pod=pod, phase="Live", events_captured=events, viewers=events // 10, last_event_at=None,
            chain_head=f"{events:064x}", gaps=0,
        )  # fmt: skip
        await _call(emulator, "PATCH", path, {"status": {"progress": progress}}, "application/merge-patch+json")
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)


async def _timed(condition: Any, started: float) -> float:
    await eventually(condition, within=900, interval=0.25)
    return time.perf_counter() - started


async def _show_progress(emulator: StampingEmulator, started: float) -> None:
    """Where the LiveMonitors are, every 15 s, so that a slow run shows where it is slow."""
    while True:
        await asyncio.sleep(15)
        phases = collections.Counter(
            (obj.raw.get("status") or {}).get("phase")
            for (resource, _, _), obj in list(emulator.objects.items())
            if resource.plural == "livemonitors" and not obj.deleted
        )
        pods = _count(emulator, "pods", "ns1")
        print(f"  {time.perf_counter() - started:6.1f}s pods {pods} phases {dict(phases)} rss {_rss_mib():.0f} MiB")


async def _operator_run(emulator: CountingEmulator) -> dict[str, float]:
    names = [f"op{i:04d}" for i in range(COUNT)]
    async with run_operator(CONFIG, emulator, namespaces=("ns1",)):
        started = time.perf_counter()
        showing = asyncio.create_task(_show_progress(emulator, started))
        await asyncio.gather(*(_create(emulator, name, "ns1") for name in names))
        to_pod = asyncio.create_task(_timed(lambda: _count(emulator, "pods", "ns1") >= COUNT, started))
        to_connecting = await _timed(lambda: _count(emulator, "livemonitors", "ns1", "Connecting") >= COUNT, started)
        to_pod_seconds = await to_pod
        rss_created = _rss_mib()
        captures = [
            asyncio.create_task(_capture(emulator, name, "ns1", PROGRESS_EVERY_SECONDS * i / COUNT))
            for i, name in enumerate(names)
        ]
        try:
            await eventually(lambda: _count(emulator, "livemonitors", "ns1", "Live") >= COUNT, within=600, interval=0.5)
            await asyncio.sleep(CONFIG.mirror_interval_seconds + CONFIG.reconcile_interval_seconds)  # settle
            before = sum(emulator.operator_calls.values())
            emulator.operator_calls.clear()
            window_started = time.perf_counter()
            await asyncio.sleep(STEADY_SECONDS)
            window = time.perf_counter() - window_started
            calls = dict(emulator.operator_calls)
        finally:
            for task in [*captures, showing]:
                task.cancel()
        print(f"operator calls to reach Live: {before}; in the steady window: {calls}")
        rss_steady = _rss_mib()
        return {
            "to_pod": to_pod_seconds,
            "to_connecting": to_connecting,
            "rss": max(rss_created, rss_steady),
            "calls_per_lm_minute": sum(calls.values()) / COUNT / (window / 60),
        }


async def _naive_run(emulator: StampingEmulator) -> float:
    """One LiveMonitor at a time: create, make its Pod, write its status, poll until it reads back;
    the time for NAIVE_COUNT of them, scaled to COUNT."""
    api = Api(emulator)
    pods = CapturePods(api_client_for(str(emulator.url)))
    started = time.perf_counter()
    for i in range(NAIVE_COUNT):
        created = await api.create_livemonitor(livemonitor(f"naive{i:04d}", "ns2"))
        pod = build_capture_pod(created, attempt=0, config=CONFIG)
        await asyncio.to_thread(pods.create, pod)
        await api.patch_livemonitor(
            "ns2", created["metadata"]["name"], {"status": {"phase": "Connecting"}}, status=True
        )
        key = LM_RESOURCE, "ns2", created["metadata"]["name"]
        await eventually(
            lambda key=key: (emulator.objects[key].raw.get("status") or {}).get("phase") == "Connecting", interval=0.005
        )
    return (time.perf_counter() - started) * COUNT / NAIVE_COUNT


async def _forget_requests(emulator: StampingEmulator) -> None:
    """kmock keeps every request for assertions and rescans them per request (quadratic for a
    bench); a bench asserts nothing about requests, so the log is dropped as it goes. (Object
    histories stay: kmock's watch streams read them, and the RSS figure includes them.)"""
    while True:
        emulator._requests.clear()
        await asyncio.sleep(0.05)


async def _measure() -> list[dict[str, Any]]:
    rss_before = _rss_mib()
    async with CountingEmulator() as emulator, kmock.Server(emulator):
        register_resources(emulator, peering=True)
        add_peering(emulator, "ns1")
        forgetting = asyncio.create_task(_forget_requests(emulator))
        naive_seconds = await _naive_run(emulator)
        for key in [key for key in emulator.objects if key[1] == "ns2"]:
            del emulator.objects[key]
        figures = await _operator_run(emulator)
        forgetting.cancel()
    report_rate = 60 / PROGRESS_EVERY_SECONDS
    return [
        {
            "name": f"operator_{COUNT}_livemonitors_to_pod",
            "value": round(figures["to_pod"], 3),
            "unit": "s",
            "baseline": round(naive_seconds, 3),
            "ratio": round(figures["to_pod"] / naive_seconds, 3),
            "goal": f"under 60 s for {COUNT} (baseline: a naive sequential create-Pod-and-patch loop, "
            f"timed over {NAIVE_COUNT} and scaled)",
        },
        {
            "name": f"operator_{COUNT}_livemonitors_to_connecting",
            "value": round(figures["to_connecting"], 3),
            "unit": "s",
            "baseline": round(naive_seconds, 3),
            "ratio": round(figures["to_connecting"] / naive_seconds, 3),
            "goal": f"under 60 s for {COUNT}",
        },
        {
            "name": "operator_process_rss",
            "value": round(figures["rss"], 1),
            "unit": "MiB",
            "baseline": round(rss_before, 1),
            "ratio": round(figures["rss"] / rss_before, 3),
            "goal": f"under 300 MiB with {COUNT} LiveMonitors (emulator and bench in the same process)",
        },
        {
            "name": "operator_api_calls_per_livemonitor_minute",
            "value": round(figures["calls_per_lm_minute"], 3),
            "unit": "1/min",
            "baseline": report_rate,
            "ratio": round(figures["calls_per_lm_minute"] / report_rate, 3),
            "goal": f"<= 2 in steady state with {COUNT} captures reporting every {PROGRESS_EVERY_SECONDS:g} s",
        },
    ]


def run() -> list[dict[str, Any]]:
    loop = asyncio.new_event_loop()
    try:
        results = loop.run_until_complete(_measure())
    finally:
        # kopf may leave retrying tasks behind once the emulator is gone: give them a bounded end.
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=2))
        loop.close()
    for row in results:
        print(f"{row['name']:<50} {row['value']:>10} {row['unit']:<5} baseline {row['baseline']:>10} "
              f"ratio {row['ratio']:>7}  goal: {row['goal']}")  # fmt: skip
    return results


if __name__ == "__main__":
    run()
