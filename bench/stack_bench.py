"""Seconds from `scis up` to every service ready, and the idle memory of the whole stack.

Baselines, measured in the same run: the start of the embedded PostgreSQL and Valkey alone (what
any stack must pay before a service can be ready), and the memory of those two plus nginx.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.embedded.redis import EmbeddedRedis
from tests.stack.helpers import stack_env

INFRA = {"postgres", "redis", "gateway"}


def tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def time_databases_alone(folder: Path) -> float:
    started = time.monotonic()
    postgres = EmbeddedPostgres(folder / "pg", free_port(), folder / "pg.log")
    redis = EmbeddedRedis(folder / "redis", free_port(), folder / "redis.log")
    postgres.start()
    redis.start()
    elapsed = time.monotonic() - started
    redis.stop()
    postgres.stop()
    return elapsed


def run() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="scis-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        # First start includes initdb; the second is what `scis up` costs on an existing home.
        env = stack_env(folder / "home")
        results = []
        for attempt in ("first", "again"):
            log = folder / f"up-{attempt}.log"
            started = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, "-m", "scis", "up"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
            )
            while "SCIS is up" not in log.read_text():
                if process.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError(f"scis up failed:\n{log.read_text()}")
                time.sleep(0.05)
            ready = time.monotonic() - started
            time.sleep(5)  # let it settle to idle
            state = json.loads((folder / "home" / "run" / "stack.json").read_text())
            total = tree_rss(process.pid)
            infra = sum(tree_rss(int(c["pid"])) for n, c in state["components"].items() if n in INFRA and c["pid"])
            process.send_signal(signal.SIGINT)
            process.wait(120)
            results.append((attempt, ready, total, infra))
        baseline = time_databases_alone(folder / "baseline")
    first, again = results[0], results[1]
    mib = 1024 * 1024
    return [
        {
            "name": "stack.up_to_ready_first_start",
            "value": round(first[1], 2),
            "unit": "s",
            "baseline": round(baseline, 2),
            "ratio": round(first[1] / baseline, 2),
            "goal": "< 15 s",
        },
        {
            "name": "stack.up_to_ready",
            "value": round(again[1], 2),
            "unit": "s",
            "baseline": round(baseline, 2),
            "ratio": round(again[1] / baseline, 2),
            "goal": "< 15 s",
        },
        {
            "name": "stack.idle_rss",
            "value": round(again[2] / mib, 1),
            "unit": "MiB",
            "baseline": round(again[3] / mib, 1),
            "ratio": round(again[2] / again[3], 2),
            "goal": "report (baseline: PostgreSQL + Valkey + nginx alone)",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
