"""With SCIS_DATABASE_URL / SCIS_REDIS_URL set, SCIS uses those servers and starts no database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from tests.stack.helpers import run_scis, stack_env


def test_user_add_then_login_through_external_database(
    tmp_path: Path, postgres_url: str, superuser_url: str, explorer_url: str, redis_url: str
) -> None:
    env = stack_env(tmp_path / "home")
    env.update(
        SCIS_DATABASE_URL=postgres_url,
        SCIS_MIGRATION_DATABASE_URL=superuser_url,
        SCIS_EXPLORER_DATABASE_URL=explorer_url,
        SCIS_REDIS_URL=redis_url,
    )
    added = run_scis("user", "add", "ext.analyst", "--role", "investigator", "--password", "long-enough-pw", env=env)
    assert added.returncode == 0, added.stderr
    again = run_scis("user", "add", "ext.analyst", "--password", "long-enough-pw", env=env)
    assert again.returncode == 1 and again.stderr.strip() == "scis: user 'ext.analyst' already exists"
    short = run_scis("user", "add", "other", "--password", "short", env=env)
    assert short.returncode == 1 and "use at least 12" in short.stderr

    log = tmp_path / "up.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "scis", "up"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while "SCIS is up" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        state = json.loads((tmp_path / "home" / "run" / "stack.json").read_text())
        assert state["components"]["postgres"]["pid"] is None
        assert state["components"]["redis"]["pid"] is None
        assert not (tmp_path / "home" / "postgres").exists()
        gateway = f"http://127.0.0.1:{env['SCIS_GATEWAY_PORT']}"
        login = httpx.post(f"{gateway}/api/auth/login", json={"username": "ext.analyst", "password": "long-enough-pw"})
        assert login.status_code == 200, login.text
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(90) == 0
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the external server outlives the stack
