"""Running the `scis` command as a user would, on ports of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scis.core.settings import SERVICE_NAMES
from scis.embedded.ports import free_port


def stack_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIS_")}
    env["SCIS_HOME"] = str(home)
    env["SCIS_GATEWAY_PORT"] = str(free_port())
    env["SCIS_POSTGRES_PORT"] = str(free_port())
    env["SCIS_REDIS_PORT"] = str(free_port())
    for name in SERVICE_NAMES:
        env[f"SCIS_{name.upper()}_PORT"] = str(free_port())
    return env


def stack_ports(env: dict[str, str]) -> list[int]:
    return [int(v) for k, v in env.items() if k.startswith("SCIS_") and k.endswith("_PORT")]


def run_scis(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scis", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
