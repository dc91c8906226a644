"""The operator at scale: 1,000 LiveMonitors to a capture Pod and Connecting, then steady state.

Runs the real kopf operator in this process against kmock's Kubernetes emulator (tests/k8s/emulator.py)
in a process of its own, so that the CPU time and RSS printed are the operator's alone, and prints:
- the time until every LiveMonitor has its capture Pod, and until every one reads Connecting (the
  baseline is a naive sequential create-Pod-and-patch loop over the same count, in the same run);
- the operator process's RSS (the operator and this bench's small driver; the emulator is elsewhere);
- the API calls the operator makes per LiveMonitor per minute in steady state, while every capture
  reports its progress at the real rate (scis.capture.pipeline.PROGRESS_EVERY_SECONDS), counted by the
  emulator by verb and resource. The baseline is the capture's own report rate: what one status
  patch per report would cost.

    SCIS_BENCH_COUNT=1000 python bench/operator_bench.py
"""

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCIS_OPERATOR_METRICS_PORT", "0")

import kmock  # noqa: E402
import kubernetes  # noqa: E402
import psutil  # noqa: E402

from scis.capture.pipeline import PROGRESS_EVERY_SECONDS  # noqa: E402
from scis.kube.progress import build_progress  # noqa: E402
from scis_operator.builders import build_capture_pod  # noqa: E402
from scis_operator.config import OperatorConfig  # noqa: E402
from scis_operator.kube import CapturePods  # noqa: E402
from tests.k8s.emulator import (  # noqa: E402
    LM_RESOURCE,
    StampingEmulator,
    add_peering,
    api_client_for,
    livemonitor,
    register_resources,
    run_operator,
)

COUNT = int(os.environ.get("SCIS_BENCH_COUNT", "1000"))
# The naive loop is sequential: timed over fewer LiveMonitors and scaled to COUNT (it is linear).
NAIVE_COUNT = min(COUNT, int(os.environ.get("SCIS_BENCH_NAIVE_COUNT", "100")))
STEADY_SECONDS = float(os.environ.get("SCIS_BENCH_STEADY_SECONDS", "60"))
BENCH_HEADER = "X-Scis-Bench"  # marks the bench's own requests (the simulated captures, the naive loop)
CONFIG = OperatorConfig(
    capture_image="scis-analyser:bench",
    max_lives_per_namespace=COUNT * 2,
    peering_priority=100,
    metrics_port=0,
)


# --- the emulator process ------------------------------------------------------------------------


class BenchEmulator(StampingEmulator):
    """The emulator made to scale for a bench, and counting every request that is not the bench's own.

    kmock keeps every request for assertions and, to route each new one, rescans all it kept (a
    request's route is found by testing it against each reaction's view of the request log), and it
    finds an object by scanning all objects. Both grow with the run: here a request is forgotten once
    served (a bench asserts nothing about requests) and a named object is found by its key.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operator_calls: collections.Counter[str] = collections.Counter()

    async def _handle(self, request: kmock.Request) -> Any:
        if BENCH_HEADER.lower() not in {key.lower() for key in request.headers}:
            plural = request.resource.plural if request.resource is not None else "-"
            subresource = f"/{request.subresource}" if request.subresource else ""
            self.operator_calls[f"{request.method} {plural}{subresource}"] += 1
        try:
            return await super()._handle(request)
        finally:
            self._requests.remove(request)
            for payload in self._payloads:
                payload._requests.clear()

    def _KubernetesEmulator__get_objs(self, request: kmock.Request, strict: bool) -> list[Any]:
        if request.name is None or request.resource is None:  # a list or watch: kmock's scan
            return [
                obj
                for (resource, namespace, _), obj in self.objects.items()
                if resource == request.resource and (request.namespace is None or namespace == request.namespace)
            ]
        key = (request.resource, request.namespace, request.name)
        return [self.objects[key]] if key in self.objects else []


def _count(emulator: StampingEmulator, plural: str, namespace: str) -> tuple[int, collections.Counter[Any]]:
    """How many live objects of ``plural`` there are in ``namespace``, and their status phases."""
    phases: collections.Counter[Any] = collections.Counter()
    for (resource, ns, _), obj in list(emulator.objects.items()):
        if resource.plural == plural and ns == namespace and not obj.deleted:
            phases[(obj.raw.get("status") or {}).get("phase")] += 1
    return sum(phases.values()), phases


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


async def _serve(conn: Connection) -> None:
    """Serve the emulator and carry out the driver's commands, one at a time, until it says stop."""
    loop = asyncio.get_running_loop()
    captures: list[asyncio.Task[None]] = []
    async with BenchEmulator() as emulator, kmock.Server(emulator):
        register_resources(emulator, peering=True)
        add_peering(emulator, "ns1")
        conn.send(str(emulator.url).rstrip("/"))
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            if command == "create":
                names, namespace = args
                await asyncio.gather(*(_create(emulator, name, namespace) for name in names))
                conn.send(len(names))
            elif command == "count":
                plural, namespace = args
                total, phases = _count(emulator, plural, namespace)
                conn.send((total, dict(phases)))
            elif command == "captures":
                names, namespace = args
                captures = [
                    asyncio.create_task(_capture(emulator, name, namespace, PROGRESS_EVERY_SECONDS * i / len(names)))
                    for i, name in enumerate(names)
                ]
                conn.send(len(captures))
            elif command == "calls":  # the operator's calls since the last "calls", and start again
                conn.send(dict(emulator.operator_calls))
                emulator.operator_calls.clear()
            elif command == "cpu":
                conn.send(sum(psutil.Process().cpu_times()[:2]))
        for task in captures:
            task.cancel()
    conn.send("stopped")


def _emulator_process(conn: Connection) -> None:
    asyncio.run(_serve(conn))


class EmulatorProcess:
    """The driver's handle on the emulator process: one command, one answer."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_emulator_process, args=(child,), name="bench-emulator", daemon=True)
        self.process.start()
        self.url: str = self.conn.recv()
        self._asking = asyncio.Lock()  # the progress display asks while the run waits on a command

    async def ask(self, *command: Any) -> Any:
        async with self._asking:
            self.conn.send(command)
            return await asyncio.to_thread(self.conn.recv)

    async def count(self, plural: str, namespace: str, phase: str | None = None) -> int:
        total, phases = await self.ask("count", plural, namespace)
        return int(total if phase is None else phases.get(phase, 0))

    def close(self) -> None:
        try:
            self.conn.send(("stop",))
            self.conn.recv()
        finally:
            self.process.join(30)
            if self.process.is_alive():
                self.process.kill()


# --- the operator process (this one) -------------------------------------------------------------


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _cpu_seconds() -> float:
    return float(sum(psutil.Process().cpu_times()[:2]))


async def _until(condition: Any, *, within: float, started: float) -> float:
    """Seconds from ``started`` until the async ``condition`` holds (polled every 0.25 s)."""
    deadline = time.perf_counter() + within
    while not await condition():
        if time.perf_counter() > deadline:
            raise AssertionError(f"not reached within {within} s: {condition}")
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


async def _show_progress(emulator: EmulatorProcess, started: float) -> None:
    """Where the LiveMonitors are, every 10 s, so that a slow run shows where it is slow."""
    while True:
        await asyncio.sleep(10)
        _, phases = await emulator.ask("count", "livemonitors", "ns1")
        pods = await emulator.count("pods", "ns1")
        cpu = f"cpu s: operator {_cpu_seconds():.0f}, emulator {await emulator.ask('cpu'):.0f}"
        elapsed = time.perf_counter() - started
        print(f"  {elapsed:6.1f}s pods {pods} phases {phases} operator rss {_rss_mib():.0f} MiB {cpu}", flush=True)


async def _operator_run(emulator: EmulatorProcess) -> dict[str, Any]:
    names = [f"op{i:04d}" for i in range(COUNT)]
    async with run_operator(CONFIG, emulator.url, namespaces=("ns1",)):
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        showing = asyncio.create_task(_show_progress(emulator, started))
        try:
            await emulator.ask("create", names, "ns1")
            created = time.perf_counter() - started
            to_pod = await _until(lambda: _has(emulator, "pods", None), within=900, started=started)
            to_connecting = await _until(
                lambda: _has(emulator, "livemonitors", "Connecting"), within=900, started=started
            )
            cpu_to_connecting = _cpu_seconds() - cpu_before
            rss_created = _rss_mib()
            await emulator.ask("captures", names, "ns1")
            await _until(lambda: _has(emulator, "livemonitors", "Live"), within=600, started=started)
            await asyncio.sleep(CONFIG.mirror_interval_seconds + CONFIG.reconcile_interval_seconds)  # settle
            before = await emulator.ask("calls")
            window_started, cpu_window = time.perf_counter(), _cpu_seconds()
            await asyncio.sleep(STEADY_SECONDS)
            calls = await emulator.ask("calls")
            window = time.perf_counter() - window_started
            cpu_window = _cpu_seconds() - cpu_window
        finally:
            showing.cancel()
        rss_steady = _rss_mib()
    print(f"creating {COUNT} LiveMonitors took {created:.1f} s")
    print(f"operator calls to reach Live: {sum(before.values())} {before}")
    print(f"operator calls in the {window:.0f} s steady window: {calls}")
    print(f"operator CPU: {cpu_to_connecting:.1f} s to Connecting, {cpu_window / window:.1%} of a core in steady state")
    return {
        "to_pod": to_pod,
        "to_connecting": to_connecting,
        "rss": max(rss_created, rss_steady),
        "calls_per_lm_minute": sum(calls.values()) / COUNT / (window / 60),
        "cpu_to_connecting": cpu_to_connecting,
    }


async def _has(emulator: EmulatorProcess, plural: str, phase: str | None) -> bool:
    return await emulator.count(plural, "ns1", phase) >= COUNT


def _naive_run(url: str) -> float:
    """One LiveMonitor at a time over the API: create it, make its Pod, write its status, read it
    back until it says Connecting; the time for NAIVE_COUNT of them, scaled to COUNT."""
    client = api_client_for(url)
    client.default_headers[BENCH_HEADER] = "1"
    custom, pods = kubernetes.client.CustomObjectsApi(client), CapturePods(client)
    where = ("scis.io", "v1alpha1", "ns2", "livemonitors")

    def body(response: Any) -> Any:  # kmock's answers lack the content type the client decodes
        return json.loads(response.data)

    started = time.perf_counter()
    for i in range(NAIVE_COUNT):
        manifest = livemonitor(f"naive{i:04d}", "ns2")
        created = body(custom.create_namespaced_custom_object(*where, manifest, _preload_content=False))
        pods.create(build_capture_pod(created, attempt=0, config=CONFIG))
        name, status = created["metadata"]["name"], {"status": {"phase": "Connecting"}}
        custom.patch_namespaced_custom_object_status(*where, name, status, _preload_content=False)
        while True:
            current = body(custom.get_namespaced_custom_object(*where, name, _preload_content=False))
            if (current.get("status") or {}).get("phase") == "Connecting":
                break
            time.sleep(0.005)
    return (time.perf_counter() - started) * COUNT / NAIVE_COUNT


async def _measure() -> list[dict[str, Any]]:
    rss_before = _rss_mib()
    emulator = EmulatorProcess()
    try:
        naive_seconds = await asyncio.to_thread(_naive_run, emulator.url)
        figures = await _operator_run(emulator)
        emulator_cpu = await emulator.ask("cpu")
    finally:
        emulator.close()
    print(f"emulator process CPU over the whole run: {emulator_cpu:.1f} s")
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
            "goal": f"under 60 s for {COUNT} (operator CPU to get there: {figures['cpu_to_connecting']:.1f} s)",
        },
        {
            "name": "operator_process_rss",
            "value": round(figures["rss"], 1),
            "unit": "MiB",
            "baseline": round(rss_before, 1),
            "ratio": round(figures["rss"] / rss_before, 3),
            "goal": f"under 300 MiB with {COUNT} LiveMonitors (the emulator runs in another process)",
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
