"""Sign-in under attack: how slow does `/api/auth/me` get while 40 bad logins run at once?

The dashboard runs as `scis serve dashboard` in a process of its own (real PostgreSQL and Redis);
this process signs in once, then measures sequential `/me` requests idle and while 40 clients keep
sending wrong passwords (lockout limits raised so every attempt really hashes with argon2).
Before hashing moved off the event loop (issue 7) the loaded p50 was 249 ms against 3 ms idle.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.scratch import scratch_postgres
from scis.core.auth.models import Role, UserCreate
from scis.core.auth.service import create_user_sync
from scis.embedded.ports import free_port, wait_for_port
from scis.embedded.redis import EmbeddedRedis

ATTACKERS = 40
SAMPLES = 60
PASSWORD = "bench-passphrase-long"
GOAL_P50_MS = 50.0
ISSUE_BEFORE_P50_MS = 249.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sample_me(client: httpx.AsyncClient, headers: dict[str, str]) -> list[float]:
    """Milliseconds per `/me`; a failed request (not 200, or no answer) counts as infinitely slow."""
    timings = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        try:
            ok = (await client.get("/api/auth/me", headers=headers)).status_code == 200
        except httpx.HTTPError:
            ok = False
        timings.append((time.perf_counter() - started) * 1000 if ok else float("inf"))
        await asyncio.sleep(0.02)
    return timings


async def attack(client: httpx.AsyncClient, number: int, stop: asyncio.Event, errors: list[int]) -> int:
    """Wrong passwords until stopped; answers other than 401 (0: no answer) are counted in `errors`."""
    attempts = 0
    while not stop.is_set():
        try:
            response = await client.post(
                "/api/auth/login",
                json={"username": "bench.user", "password": f"wrong-{number}-{attempts}"},
                headers={"x-real-ip": f"198.18.0.{number + 1}"},
            )
            if response.status_code != 401:
                errors.append(response.status_code)
        except httpx.HTTPError:
            errors.append(0)  # the connection failed: counted like a 5xx
        attempts += 1
    return attempts


async def measure(base: str) -> tuple[list[float], list[float], int, list[int]]:
    limits = httpx.Limits(max_connections=ATTACKERS + 5)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        login = await client.post("/api/auth/login", json={"username": "bench.user", "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"authorization": f"Bearer {login.json()['access_token']}"}
        await sample_me(client, headers)  # warm-up
        idle = await sample_me(client, headers)
        stop, errors = asyncio.Event(), list[int]()
        attackers = [asyncio.create_task(attack(client, n, stop, errors)) for n in range(ATTACKERS)]
        await asyncio.sleep(1.0)  # let the attack fill the hashing queue
        loaded = await sample_me(client, headers)
        stop.set()
        attempts = sum(await asyncio.gather(*attackers))
    return idle, loaded, attempts, errors


def serve_dashboard(home: Path, database_url: str, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SCIS_HOME": str(home),
        "SCIS_DATABASE_URL": database_url,
        "SCIS_REDIS_URL": redis_url,
        "SCIS_DASHBOARD_PORT": str(port),
        "SCIS_SECRET_KEY": "bench-secret-" + "x" * 40,
        "SCIS_LOGIN_MAX_FAILURES": "1000",
        "SCIS_LOGIN_ADDRESS_MAX_FAILURES": "100000",
        "SCIS_LOG_LEVEL": "WARNING",
    }
    log = (home / "dashboard.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "scis", "serve", "dashboard"], env=env, stdout=log, stderr=log)
    if not wait_for_port(port, timeout=60):
        process.kill()
        raise RuntimeError(f"the dashboard did not start: {(home / 'dashboard.log').read_text()[-2000:]}")
    return process


def run() -> list[dict[str, Any]]:
    with scratch_postgres("login") as (home, postgres):
        redis = EmbeddedRedis(home / "redis", free_port(), home / "redis.log")
        redis.start()
        dashboard = None
        try:
            with psycopg.connect(postgres.url, autocommit=True) as conn:
                create_user_sync(conn, user_in=UserCreate(username="bench.user", password=PASSWORD, role=Role.viewer))
            port = free_port()
            dashboard = serve_dashboard(home, postgres.url, redis.url, port)
            idle, loaded, attempts, errors = asyncio.run(measure(f"http://127.0.0.1:{port}"))
        finally:
            if dashboard is not None:
                dashboard.terminate()
                dashboard.wait(30)
                if os.environ.get("SCIS_BENCH_KEEP_LOG"):
                    (Path(os.environ["SCIS_BENCH_KEEP_LOG"])).write_bytes((home / "dashboard.log").read_bytes())
            redis.stop()
    idle_p50, loaded_p50, loaded_p99 = statistics.median(idle), statistics.median(loaded), percentile(loaded, 0.99)
    failed_me = sum(1 for timing in loaded if timing == float("inf"))
    print(f"   /me idle p50 {idle_p50:.1f} ms; with {ATTACKERS} bad logins at once p50 {loaded_p50:.1f} ms, "
          f"p99 {loaded_p99:.1f} ms ({attempts} bad logins meanwhile, {len(errors)} not 401, "
          f"{failed_me} /me failed)")  # fmt: skip
    return [
        {
            "name": "auth_me_p50_during_40_bad_logins",
            "value": round(loaded_p50, 1),
            "unit": "ms",
            "baseline": ISSUE_BEFORE_P50_MS,
            "ratio": round(loaded_p50 / ISSUE_BEFORE_P50_MS, 3),
            "goal": f"<= {GOAL_P50_MS:g} ms, nothing fails (idle p50 {idle_p50:.1f} ms; "
            f"{len(errors)} logins not 401, {failed_me} /me failed)",
        },
        {
            "name": "auth_me_p99_during_40_bad_logins",
            "value": round(loaded_p99, 1),
            "unit": "ms",
            "baseline": round(idle_p50, 1),
            "ratio": round(loaded_p99 / idle_p50, 1),
            "goal": "report (baseline: idle p50 in the same run)",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
