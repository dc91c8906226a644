"""`scis up --demo`: the TikTok LIVE simulator beside the stack, with the analyser pointed at it, so a
newcomer can monitor a lively live on a machine that never reaches TikTok."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from scis.core.settings import Settings
from scis.embedded.process import ChildProcess

DEMO_HANDLE = "demo_host"
# Events per second of the simulator's random mix (chat, gifts with streaks, likes, joins, follows,
# shares, viewer counts): lively to watch, light for a laptop. It runs until the stack stops.
DEMO_RATE = 15.0
# As the other services of `scis up` (stack.py): a Python process importing its web stack on a
# loaded machine takes well over 30 s to answer; a process that died is reported at once anyway.
READY_TIMEOUT_SECONDS = 90.0


class DemoUnavailable(Exception):
    """The simulator did not start; the message says why."""


def simulator_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.simulator_port}"


def demo_env(settings: Settings) -> dict[str, str]:
    """What points the capture at the simulator instead of TikTok (both base URLs, see configuration.md)."""
    url = simulator_url(settings)
    return {"SCIS_TIKTOK_BASE_URL": url, "SCIS_WEBCAST_BASE_URL": url}


def start_simulator(settings: Settings, home: Path, env: dict[str, str]) -> ChildProcess:
    argv = [
        sys.executable, "-m", "scis", "simulate", "--port", str(settings.simulator_port),
        "--handle", DEMO_HANDLE, "--rate", str(DEMO_RATE),
    ]  # fmt: skip
    process = ChildProcess("simulator", argv, log_path=home / "logs" / "simulator.log", env=env, stop_timeout=10)
    process.start()
    try:
        wait_ready(process, simulator_url(settings))
    except DemoUnavailable:
        process.stop()  # not left running behind a `scis up` that gives up (a test run found it orphaned)
        raise
    return process


def wait_ready(process: ChildProcess, url: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if not process.running():
                raise DemoUnavailable(f"the demo simulator exited during start; its log says:\n{process.log_tail()}")
            try:
                if client.get(f"{url}/_sim/rooms").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoUnavailable(f"the demo simulator did not answer at {url} within {timeout:.0f}s")
            time.sleep(0.1)
