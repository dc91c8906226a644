"""The web UI under load, in Debian's Chromium through the gateway of a real `scis up` stack.

1. One live at 1,000 events/s into one live view: time from the simulator appending an event to the
   browser drawing its row (p50/p99; goal p99 ≤ 250 ms). "Drawn" = the first animation frame after
   the row entered the DOM; both clocks are this machine's wall clock.
2. The page's responsiveness meanwhile: the longest main-thread task (Long Tasks API; goal < 100 ms),
   and frames per second while the feed is scrolled.
3. First load of the app through the gateway: bytes transferred and time until the sign-in form is
   usable (a fresh browser context, nothing cached).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import socketio
from playwright.sync_api import Browser, Page, sync_playwright

from bench.latency_bench import SKIPPED_KINDS, percentile, start_role, stop_role, until_told_to_stop
from scis.capture.payloads import read_commit_message
from scis.core import bus
from scis.embedded.ports import free_port, wait_for_port
from scis.frontend.app import WEB_DIST
from tests.stack.helpers import stack_env

RATE = 1000
WARMUP_SECONDS = 3.0
MEASURE_SECONDS = 6.0
SCROLL_SECONDS = 3.0
CHROMIUM = "/usr/bin/chromium"
P99_GOAL_MS = 250.0
LONG_TASK_GOAL_MS = 100.0
# BENCH_WEBUI_TRACE=/path/trace.json: also write a Chrome trace of the measured window (open it in
# Chrome's Performance panel or https://ui.perfetto.dev; it holds the JavaScript CPU profile).
TRACE = os.environ.get("BENCH_WEBUI_TRACE") or None
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute",
                    "disabled-by-default-v8.cpu_profiler", "blink.user_timing"]  # fmt: skip

# Runs in the page before the app: records when each event's seq first arrives on a WebSocket message
# (one event or an array per message), when each feed row (data-seq) is first drawn, and long tasks.
# Arrival splits the latency: sent → arrived is the server's part (and the page's queueing of socket
# messages), arrived → drawn is the page's own.
RECORDER = """
window.__drawn = {}; window.__arrived = {}; window.__longTasks = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (message) => {
      if (typeof message.data !== 'string' || !message.data.startsWith('42')) return;
      const at = performance.timeOrigin + performance.now();
      for (const found of message.data.matchAll(/"seq":\\s*(\\d+)/g)) {
        if (!(found[1] in window.__arrived)) window.__arrived[found[1]] = at;
      }
    });
  }
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
new MutationObserver((mutations) => {
  const fresh = [];
  for (const m of mutations) for (const node of m.addedNodes) {
    if (!(node instanceof Element)) continue;
    for (const row of [node, ...node.querySelectorAll('[data-seq]')]) {
      const seq = row.getAttribute && row.getAttribute('data-seq');
      if (seq !== null && seq !== undefined && !(seq in window.__drawn)) { window.__drawn[seq] = 0; fresh.push(seq); }
    }
  }
  if (fresh.length) requestAnimationFrame(() => {
    const at = performance.timeOrigin + performance.now();
    for (const seq of fresh) window.__drawn[seq] = at;
  });
}).observe(document, { childList: true, subtree: true });
"""

FPS_WHILE_SCROLLING = """
async (seconds) => {
  const feed = document.querySelector('[data-testid=feed]');
  let frames = 0, down = true;
  const end = performance.now() + seconds * 1000;
  await new Promise((done) => {
    const step = () => {
      frames += 1;
      if (feed.scrollTop + feed.clientHeight >= feed.scrollHeight - 1) down = false;
      if (feed.scrollTop <= 0) down = true;
      feed.scrollTop += down ? 60 : -60;
      performance.now() < end ? requestAnimationFrame(step) : done();
    };
    requestAnimationFrame(step);
  });
  return frames / seconds;
}
"""


OBSERVED = "observing"


def observe(redis_url: str, gateway: str, token: str, session_id: str, out_file: Path) -> None:
    """The stages between the capture and the page, seen from a process of their own: when each event
    (by msg_id) was first published on Redis (the capture's commit, then its publish) and when the
    analyser's fan-out delivered it to a Socket.IO client that is not a browser. Written on SIGTERM."""
    on_redis: dict[str, float] = {}
    on_socket: dict[str, float] = {}

    def note(into: dict[str, float], batch: list[dict[str, Any]]) -> None:
        now = time.time()
        for event in batch:
            if event.get("msg_id") and event["kind"] not in SKIPPED_KINDS and not event.get("inferred"):
                into.setdefault(str(event["msg_id"]), now)

    def save() -> None:
        out_file.write_text(json.dumps({"redis": on_redis, "socket": on_socket}))

    async def follow() -> None:
        redis = aioredis.Redis.from_url(redis_url)
        pubsub = redis.pubsub()
        await pubsub.psubscribe(bus.LIVE_EVENTS.pattern)
        client = socketio.AsyncClient()
        client.on("events", lambda batch: note(on_socket, batch if isinstance(batch, list) else [batch]))
        await client.connect(gateway, transports=["websocket"], auth={"token": token}, wait_timeout=60)
        joined = await client.call("join", {"session_id": session_id}, timeout=120)
        if not joined.get("ok"):
            raise RuntimeError(f"the observer's join was refused: {joined}")

        async def read_redis() -> None:
            async for message in pubsub.listen():
                if message["type"] == "pmessage":  # the writer's commit message (decision 240)
                    commit = read_commit_message(message["data"])
                    note(on_redis, json.loads(commit.events_json if commit else message["data"]))

        reader = asyncio.create_task(read_redis())
        print(OBSERVED, flush=True)
        try:
            await until_told_to_stop()
        finally:  # what was seen is written first: a slow or failing disconnect must not lose it
            save()
        reader.cancel()
        with contextlib.suppress(Exception):
            await client.disconnect()
            await pubsub.aclose()
            await redis.aclose()

    asyncio.run(follow())


def start_observer(redis_url: str, gateway: str, token: str, session_id: str, out: Path) -> subprocess.Popen[bytes]:
    """The observer process; its stderr goes to `out` + ".log", which `read_observed` quotes when it failed."""
    argv = [sys.executable, "-m", "bench.webui_bench", "--observer", redis_url, gateway, token, session_id, str(out)]
    with observer_log(out).open("wb") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, cwd=Path(__file__).resolve().parents[1])
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if OBSERVED not in line:
        process.kill()
        process.wait(10)
        raise RuntimeError(f"the observer did not start: {line!r}\n{tail(observer_log(out))}")
    return process


def observer_log(out: Path) -> Path:
    return out.with_name(out.name + ".log")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def read_observed(process: subprocess.Popen[bytes], out: Path) -> dict[str, dict[str, float]]:
    """What the stopped observer saw. Read while its folder still exists: the bench once read it after the
    temporary folder holding it was deleted, and the missing file looked like an observer that never wrote."""
    if not out.exists():
        log = tail(observer_log(out))
        raise RuntimeError(f"the stage observer wrote no {out.name} (exit code {process.returncode}):\n{log}")
    observed: dict[str, dict[str, float]] = json.loads(out.read_text())
    return observed


def start_stack(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "scis", "up"]
    process = subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    started = time.monotonic()
    while "SCIS is up" not in log.read_text():
        if process.poll() is not None or time.monotonic() - started > 180:
            process.kill()
            raise RuntimeError(f"scis up failed:\n{log.read_text()}")
        time.sleep(0.2)
    return process


def stored_events(client: httpx.Client, session_id: str) -> tuple[dict[int, int], dict[int, float]]:
    """msg_id by seq, and when the capture received each event (captured_at, epoch ms) by msg_id."""
    found: dict[int, int] = {}
    captured: dict[int, float] = {}
    after = -1
    while True:
        query = {"after_seq": after, "limit": 1000}
        page = client.get(f"/api/analyser/sessions/{session_id}/events", params=query).json()
        for item in page["items"]:
            if item["msg_id"] and item["kind"] not in ("session_start", "session_end", "gap") and not item["inferred"]:
                found[item["seq"]] = int(item["msg_id"])
                captured[int(item["msg_id"])] = datetime.fromisoformat(item["captured_at"]).timestamp() * 1000
        if not page["items"] or page["next_after_seq"] is None:
            return found, captured
        after = page["next_after_seq"]


def first_load(browser: Any, gateway: str) -> tuple[int, float]:
    """Bytes over the wire and ms until the sign-in form is usable, from nothing cached."""
    context = browser.new_context(base_url=gateway)
    page = context.new_page()
    page.goto("/")
    page.locator("button[type=submit]").wait_for()
    interactive = page.evaluate("performance.now()")
    page.wait_for_load_state("networkidle")
    transferred = page.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".reduce((sum, e) => sum + (e.transferSize || 0), 0)"
    )
    context.close()
    return int(transferred), float(interactive)


def live_view(
    browser: Browser, page: Page, session_id: str
) -> tuple[dict[str, float], dict[str, float], list[list[float]], float]:
    page.goto(f"/live/{session_id}")
    page.get_by_test_id("feed").wait_for()
    # A Chrome performance trace, to see what a long task spent its time on. Started before the warm-up:
    # starting the profiler blocks the page for a few hundred ms, which must not count as the page's task.
    if TRACE:
        browser.start_tracing(page=page, path=TRACE, categories=TRACE_CATEGORIES)
    time.sleep(WARMUP_SECONDS)
    page.evaluate("window.__drawn = {}; window.__arrived = {}; window.__longTasks = []")
    time.sleep(MEASURE_SECONDS)
    if TRACE:
        browser.stop_tracing()
        print(f"   Chrome trace of the measured window: {TRACE}; {long_tasks_in_trace(Path(TRACE))}")
    drawn = page.evaluate("window.__drawn")
    arrived = page.evaluate("window.__arrived")
    long_tasks = page.evaluate("window.__longTasks")
    page.get_by_test_id("pause").click()  # scroll a still list: frames per second of scrolling itself
    fps = float(page.evaluate(FPS_WHILE_SCROLLING, SCROLL_SECONDS))
    return drawn, arrived, long_tasks, fps


def long_tasks_in_trace(trace: Path, shown: int = 8) -> str:
    """The page's longest tasks in a Chrome trace, wall time beside the renderer thread's CPU time: on a
    shared machine a task can take several times its CPU because the thread was not running."""
    loaded = json.loads(trace.read_text())
    events = loaded["traceEvents"] if isinstance(loaded, dict) else loaded
    named = [e for e in events if e.get("name") == "thread_name" and e["args"]["name"] == "CrRendererMain"]
    main = {(e["pid"], e["tid"]) for e in named}
    tasks = [e for e in events if e.get("name") == "RunTask" and e.get("ph") == "X" and (e["pid"], e["tid"]) in main]
    tasks.sort(key=lambda e: -e.get("dur", 0))
    pairs = ", ".join(f"{e.get('dur', 0) / 1000:.0f}/{e.get('tdur', 0) / 1000:.0f}" for e in tasks[:shown])
    return f"longest renderer tasks since the warm-up (the profiler's start is one), wall/CPU ms: {pairs or '-'}"


def run() -> list[dict[str, Any]]:
    if not (WEB_DIST / "index.html").is_file():  # else the gateway serves a placeholder and the sign-in never shows
        raise RuntimeError(f"the web UI is not built ({WEB_DIST / 'index.html'} is missing): run `make web` first")
    with tempfile.TemporaryDirectory(prefix="scis-webui-bench-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        home = folder / "home"
        env = stack_env(home)
        sim_port = free_port()
        sent_file = folder / "sent.json"
        simulator = start_role("simulator", str(sim_port), str(RATE), str(sent_file), "ui_bench")
        if not wait_for_port(sim_port, timeout=60):
            stop_role(simulator)
            raise RuntimeError("the simulator did not start")
        env["SCIS_TIKTOK_BASE_URL"] = env["SCIS_WEBCAST_BASE_URL"] = f"http://127.0.0.1:{sim_port}"
        gateway = f"http://127.0.0.1:{env['SCIS_GATEWAY_PORT']}"
        stack = start_stack(env, folder / "up.log")
        try:
            password = (home / "initial-admin-password").read_text().strip()
            # Generous timeouts: at 1,000 events/s on a shared machine the analyser answers slowly.
            with httpx.Client(base_url=gateway, timeout=180) as client, sync_playwright() as playwright:
                token = client.post("/api/auth/login", json={"username": "admin", "password": password}).json()
                client.headers["authorization"] = f"Bearer {token['access_token']}"
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                load_bytes, load_ms = first_load(browser, gateway)
                started = client.post("/api/analyser/monitors", json={"target": "@ui_bench"})
                assert started.status_code == 201, started.text
                session_id = started.json()["session_id"]
                redis_url = f"redis://127.0.0.1:{env['SCIS_REDIS_PORT']}/0"
                stages_file = folder / "stages.json"
                observer = start_observer(redis_url, gateway, token["access_token"], session_id, stages_file)
                context = browser.new_context(base_url=gateway, viewport={"width": 1366, "height": 800})
                context.request.post("/api/auth/login", data={"username": "admin", "password": password})
                page = context.new_page()
                page.add_init_script(RECORDER)
                try:
                    drawn, arrived, long_tasks, fps = live_view(browser, page, session_id)
                finally:
                    stop_role(observer)
                observed = read_observed(observer, stages_file)
                client.delete(f"/api/analyser/monitors/{session_id}")
                by_seq, captured = stored_events(client, session_id)
                browser.close()
        finally:
            stack.send_signal(signal.SIGINT)
            stack.wait(120)
            stop_role(simulator)  # on SIGTERM it writes when each msg_id was sent
        sent = {int(k): v for k, v in json.loads(sent_file.read_text()).items()}
    latencies = [
        drawn_at - sent[by_seq[int(seq)]] * 1000
        for seq, drawn_at in drawn.items()
        if drawn_at and int(seq) in by_seq and by_seq[int(seq)] in sent
    ]
    if not latencies:
        drawn_count = sum(1 for at in drawn.values() if at)
        raise RuntimeError(
            f"no event was drawn during the measurement: {drawn_count} rows drawn, {len(by_seq)} stored events,"
            f" {len(sent)} sent"
        )
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    # The page's own part: from the message carrying an event to the frame that drew its row.
    in_page = [at - arrived[seq] for seq, at in drawn.items() if at and seq in arrived]
    page_p99 = percentile(in_page, 0.99) if in_page else float("nan")
    arrival = [at - sent[by_seq[int(seq)]] * 1000 for seq, at in arrived.items() if by_seq.get(int(seq)) in sent]
    arrival_p99 = percentile(arrival, 0.99) if arrival else float("nan")
    longest = max((duration for _, duration in long_tasks), default=0.0)
    stage_rows = stages(sent, captured, observed, arrived, drawn, by_seq)
    print(f"   {len(sent)} sent, {len(by_seq)} stored; {len(arrived)} arrived over Socket.IO while measured, p99"
          f" {arrival_p99:.0f} ms after sending; drawn p99 {page_p99:.0f} ms after arriving")  # fmt: skip
    print(f"   {len(latencies)} events drawn in {MEASURE_SECONDS:.0f}s: p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
          f"longest task {longest:.0f} ms ({len(long_tasks)} tasks ≥ 50 ms); {fps:.0f} fps scrolling; "
          f"first load {load_bytes / 1024:.0f} KiB, interactive in {load_ms:.0f} ms")  # fmt: skip
    row = {"baseline": None, "ratio": None}
    return [
        {"name": "webui.live_draw_p50_1000eps", "value": round(p50, 1), "unit": "ms", **row,
         "goal": "informative (p99 is the goal)"},
        {"name": "webui.live_draw_p99_1000eps", "value": round(p99, 1), "unit": "ms", **row,
         "goal": f"<= {P99_GOAL_MS:g} ms"},
        {"name": "webui.live_arrival_p99_1000eps", "value": round(arrival_p99, 1), "unit": "ms", **row,
         "goal": "informative (server's part: sent -> message in the page)"},
        {"name": "webui.live_page_draw_p99_1000eps", "value": round(page_p99, 1), "unit": "ms", **row,
         "goal": "informative (page's part: message -> row drawn)"},
        {"name": "webui.longest_task_1000eps", "value": round(longest, 1), "unit": "ms", **row,
         "goal": f"< {LONG_TASK_GOAL_MS:g} ms (0: no task reached 50 ms)"},
        {"name": "webui.fps_scrolling_feed", "value": round(fps, 1), "unit": "fps", **row, "goal": "informative (~60)"},
        {"name": "webui.first_load_bytes", "value": load_bytes, "unit": "bytes", **row, "goal": "informative"},
        {"name": "webui.first_load_interactive", "value": round(load_ms), "unit": "ms", **row, "goal": "informative"},
        *stage_rows,
    ]  # fmt: skip


# Each stage an event passes on its way to the page, as time since the simulator sent it (epoch ms).
STAGES = ("captured", "on_redis", "socketio_client", "page_arrival", "drawn")


def stages(
    sent: dict[int, float],
    captured: dict[int, float],
    observed: dict[str, dict[str, float]],
    arrived: dict[str, float],
    drawn: dict[str, float],
    by_seq: dict[int, int],
) -> list[dict[str, Any]]:
    """p50/p99 of the time from sending to each stage, over the events the page drew while measured:
    where the time goes (capture receive → commit + publish → fan-out → browser → drawn)."""
    seq_of = {msg_id: seq for seq, msg_id in by_seq.items()}
    measured = [msg_id for msg_id in sent if str(seq_of.get(msg_id)) in drawn and drawn[str(seq_of[msg_id])]]
    at = {
        "captured": lambda m: captured.get(m),
        "on_redis": lambda m: observed["redis"].get(str(m), 0) * 1000 or None,
        "socketio_client": lambda m: observed["socket"].get(str(m), 0) * 1000 or None,
        "page_arrival": lambda m: arrived.get(str(seq_of[m])),
        "drawn": lambda m: drawn.get(str(seq_of[m])),
    }
    rows, parts, missing = [], [], []
    for stage in STAGES:
        since_sent = [found - sent[m] * 1000 for m in measured if (found := at[stage](m))]
        if not since_sent:
            parts.append(f"{stage} n/a")
            missing.append(stage)
            continue
        p50, p99 = percentile(since_sent, 0.50), percentile(since_sent, 0.99)
        parts.append(f"{stage} {p50:.0f}/{p99:.0f}")
        goal = f"informative (sent -> {stage}; p50 {p50:.0f} ms)"
        rows.append({"name": f"webui.stage_{stage}_p99_1000eps", "value": round(p99, 1), "unit": "ms",
                     "baseline": None, "ratio": None, "goal": goal})  # fmt: skip
    print(f"   stages, ms since sent (p50/p99) over {len(measured)} drawn events: " + ", ".join(parts))
    if missing:
        seen = {
            "captured": len(captured),
            "on_redis": len(observed["redis"]),
            "socketio_client": len(observed["socket"]),
            "page_arrival": len(arrived),
            "drawn": sum(1 for at in drawn.values() if at),
        }
        causes = [f"{stage} (from {STAGE_SOURCES[stage]}: {seen[stage]} events seen in all)" for stage in missing]
        raise RuntimeError(f"no timing for stage(s) {'; '.join(causes)}; over {len(measured)} events the page drew")
    return rows


# Where each stage's time comes from, named when a stage has none.
STAGE_SOURCES = {
    "captured": "captured_at of the stored events read back from the REST API",
    "on_redis": f"the observer's Redis subscription to {bus.LIVE_EVENTS.pattern}",
    "socketio_client": "the observer's Socket.IO client joined to the session through the gateway",
    "page_arrival": "the page's WebSocket messages carrying a seq",
    "drawn": "feed rows (data-seq) the page drew",
}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--observer"]:
        observe(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], Path(sys.argv[6]))
    else:
        for result in run():
            print(result)
