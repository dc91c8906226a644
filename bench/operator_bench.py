"""How fast the operator brings 200 new LiveMonitors to a capture Pod and a Connecting status.

Runs the real kopf operator against kmock's Kubernetes emulator (tests/k8s/emulator.py), in this
process. The baseline is the same work done by a naive sequential loop in the same run: for each
LiveMonitor, create it, create its Pod, write its status, and poll until the status reads back.

    python bench/operator_bench.py          # prints a table, returns the metrics from run()
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCIS_OPERATOR_RECONCILE_INTERVAL_SECONDS", "5")
os.environ.setdefault("SCIS_OPERATOR_METRICS_PORT", "0")

import kmock  # noqa: E402
import psutil  # noqa: E402

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

COUNT = int(os.environ.get("SCIS_BENCH_COUNT", "200"))
CONFIG = OperatorConfig(
    capture_image="scis-analyser:bench",
    max_lives_per_namespace=COUNT * 2,
    peering_priority=100,
    metrics_port=0,
    reconcile_interval_seconds=5,
)


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _connecting(emulator: StampingEmulator, prefix: str, namespace: str) -> int:
    done = 0
    for (resource, ns, name), obj in list(emulator.objects.items()):
        ours = resource.plural == "livemonitors" and ns == namespace and name.startswith(prefix)
        if ours and not obj.deleted and (obj.raw.get("status") or {}).get("phase") == "Connecting":
            done += 1
    return done


def _pods(emulator: StampingEmulator, namespace: str) -> int:
    return sum(
        1
        for (resource, ns, _), obj in list(emulator.objects.items())
        if resource.plural == "pods" and ns == namespace and not obj.deleted
    )


async def _operator_run(emulator: StampingEmulator) -> float:
    api = Api(emulator)
    async with run_operator(CONFIG, emulator, namespaces=("ns1",)):
        started = time.perf_counter()
        await asyncio.gather(*(api.create_livemonitor(livemonitor(f"op{i:03d}", "ns1")) for i in range(COUNT)))
        await eventually(
            lambda: _connecting(emulator, "op", "ns1") >= COUNT and _pods(emulator, "ns1") >= COUNT, within=600
        )
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2)  # let kopf post its queued Events before it is stopped
        return elapsed


async def _naive_run(emulator: StampingEmulator) -> float:
    """One LiveMonitor at a time: create, make its Pod, write its status, poll until it reads back."""
    api = Api(emulator)
    pods = CapturePods(api_client_for(str(emulator.url)))
    started = time.perf_counter()
    for i in range(COUNT):
        created = await api.create_livemonitor(livemonitor(f"naive{i:03d}", "ns2"))
        pod = build_capture_pod(created, attempt=0, config=CONFIG)
        await asyncio.to_thread(pods.create, pod)
        await api.patch_livemonitor(
            "ns2", created["metadata"]["name"], {"status": {"phase": "Connecting"}}, status=True
        )
        key = LM_RESOURCE, "ns2", created["metadata"]["name"]
        await eventually(
            lambda key=key: (emulator.objects[key].raw.get("status") or {}).get("phase") == "Connecting", interval=0.005
        )
    return time.perf_counter() - started


async def _forget_requests(emulator: StampingEmulator) -> None:
    """kmock keeps every request for assertions and rescans them per request (quadratic for a
    bench); a bench asserts nothing about requests, so the log is dropped as it goes."""
    while True:
        emulator._requests.clear()
        await asyncio.sleep(0.05)


async def _measure() -> list[dict[str, Any]]:
    rss_before = _rss_mib()
    async with StampingEmulator() as emulator, kmock.Server(emulator):
        register_resources(emulator, peering=True)
        add_peering(emulator, "ns1")
        forgetting = asyncio.create_task(_forget_requests(emulator))
        naive_seconds = await _naive_run(emulator)
        operator_seconds = await _operator_run(emulator)
        rss_after = _rss_mib()
        forgetting.cancel()
    return [
        {
            "name": f"operator_{COUNT}_livemonitors_to_pod_and_connecting",
            "value": round(operator_seconds, 3),
            "unit": "s",
            "baseline": round(naive_seconds, 3),
            "ratio": round(operator_seconds / naive_seconds, 3),
            # The naive loop makes 3 calls per LiveMonitor; the operator also adds its finalizer, posts
            # Events, keeps kopf's bookkeeping and handles every watch event it causes.
            "goal": f"under 30 s for {COUNT}; ratio to the naive 3-call loop <= 5",
        },
        {
            "name": "operator_livemonitors_per_second",
            "value": round(COUNT / operator_seconds, 1),
            "unit": "1/s",
            "baseline": round(COUNT / naive_seconds, 1),
            "ratio": round(naive_seconds / operator_seconds, 3),
            "goal": ">= 10 LiveMonitors per second",
        },
        {
            "name": "operator_process_rss",
            "value": round(rss_after, 1),
            "unit": "MiB",
            "baseline": round(rss_before, 1),
            "ratio": round(rss_after / rss_before, 3),
            "goal": f"under 300 MiB with {COUNT} LiveMonitors (emulator and test client included)",
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
        print(f"{row['name']:<50} {row['value']:>10} {row['unit']:<4} baseline {row['baseline']:>10} "
              f"ratio {row['ratio']:>7}  goal: {row['goal']}")  # fmt: skip
    return results


if __name__ == "__main__":
    run()
