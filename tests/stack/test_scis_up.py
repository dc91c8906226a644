"""`scis up` end to end: real PostgreSQL, Valkey, eight services and nginx, then Ctrl-C."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
import socketio

from scis.core.auth.models import Role, User
from scis.core.auth.service import issue_token
from scis.core.settings import DEV_SECRET, SERVICE_NAMES
from scis.embedded.ports import free_port, port_is_free
from tests.stack.helpers import run_scis, stack_env, stack_ports


def start(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "scis", "up"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while "SCIS is up" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"scis up did not come up:\n{log.read_text()}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[str], env: dict[str, str]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(90) == 0
    busy = [port for port in stack_ports(env) if not port_is_free(port)]
    assert busy == [], f"still listening after Ctrl-C: {busy}"


def sign_in(client: httpx.Client, home: Path) -> dict[str, str]:
    password = (home / "initial-admin-password").read_text().strip()
    response = client.post("/api/auth/login", json={"username": "admin", "password": password})
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def start_simulator(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    port = free_port()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "scis", "simulate", "--port", str(port), "--handle", "gateway.host",
         "--scenario", "every_message", "--start", "first_viewer"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    env["SCIS_TIKTOK_BASE_URL"] = env["SCIS_WEBCAST_BASE_URL"] = f"http://127.0.0.1:{port}"
    return simulator


def follow_a_live_through_the_gateway(gateway: str, headers: dict[str, str]) -> None:
    """Start a monitor and receive its events over Socket.IO, both through nginx."""
    received: list[dict[str, object]] = []
    with httpx.Client(base_url=gateway, timeout=20, headers=headers) as client:
        started = client.post("/api/analyser/monitors", json={"target": "@gateway.host"})
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        sio = socketio.Client()
        sio.on("events", received.extend)
        sio.connect(gateway, auth={"token": headers["authorization"].split()[1]}, transports=["websocket"])
        assert sio.call("join", {"session_id": session_id})["ok"] is True
        deadline = time.monotonic() + 30
        while client.get(f"/api/analyser/monitors/{session_id}").json()["status"] != "ended":
            assert time.monotonic() < deadline, "the simulated live never ended"
            time.sleep(0.2)
        verified = client.get(f"/api/analyser/sessions/{session_id}/verify").json()
        assert verified["intact"] and verified["sealed"], verified
        time.sleep(0.5)
        sio.disconnect()
    assert any(event.get("kind") == "chat" for event in received), received


def test_up_serves_everything_through_the_gateway_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home)
    gateway = f"http://127.0.0.1:{env['SCIS_GATEWAY_PORT']}"
    simulator = start_simulator(env, tmp_path / "simulator.log")
    process = start(env, tmp_path / "up.log")
    reference = f"UP-{uuid.uuid4().hex[:8]}"
    try:
        state = json.loads((home / "run" / "stack.json").read_text())
        child_pids = [c["pid"] for c in state["components"].values() if c.get("pid")]
        with httpx.Client(base_url=gateway, timeout=10) as client:
            for name in SERVICE_NAMES:
                path = "/readyz" if name == "frontend" else f"/api/{name}/readyz"
                response = client.get(path)
                assert response.status_code == 200, f"{name}: {response.text}"
            assert "<title>SCIS</title>" in client.get("/").text
            headers = sign_in(client, home)
            # Signed with a random key of this machine, not the development secret in the source.
            assert stat.S_IMODE((home / "secret-key").stat().st_mode) == 0o600
            session_id = jwt.decode(headers["authorization"].split()[1], options={"verify_signature": False})["sid"]
            forged = issue_token(
                User(username="admin", role=Role.admin), secret=DEV_SECRET, ttl_seconds=60, session_id=session_id
            )
            refused = client.get("/api/auth/me", headers={"authorization": f"Bearer {forged.access_token}"})
            assert refused.status_code == 401
            case = client.post(
                "/api/dashboard/cases", json={"reference": reference, "title": "Up test"}, headers=headers
            )
            assert case.status_code == 201, case.text
            # The wizard writes through the profiles service: REST between services, one request id.
            created = client.post(
                "/api/create/profiles",
                json={"unique_id": "@up.subject", "case_id": case.json()["id"]},
                headers={**headers, "x-request-id": "req-up-test-0001"},
            )
            assert created.status_code == 201, created.text
            assert created.headers["x-request-id"] == "req-up-test-0001"
            audit = client.get("/api/dashboard/audit?limit=1", headers=headers).json()["items"][0]
            assert audit["action"] == "profile.create" and audit["request_id"] == "req-up-test-0001"
            follow_a_live_through_the_gateway(gateway, headers)
        status = run_scis("status", env=env)
        assert status.returncode == 0 and "gateway" in status.stdout and "ready" in status.stdout
        assert "captures: none open" in status.stdout, status.stdout  # the monitored live ended and sealed
    finally:
        simulator.terminate()
        simulator.wait(30)
        stop(process, env)
    for pid in child_pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()

    # A second `scis up` finds the same data.
    process = start(env, tmp_path / "up2.log")
    try:
        assert "Sign in as 'admin' with password" not in (tmp_path / "up2.log").read_text()
        with httpx.Client(base_url=gateway, timeout=10) as client:
            # Same key and same sessions after a restart: the first run's token still works.
            assert client.get("/api/auth/me", headers=headers).status_code == 200
            cases = client.get("/api/dashboard/cases", headers=sign_in(client, home)).json()
            assert reference in [c["reference"] for c in cases]
    finally:
        down = run_scis("down", env=env, timeout=120)
        assert down.returncode == 0, down.stderr
        assert process.wait(30) == 0
