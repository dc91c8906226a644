"""Bad settings, an unreachable database, a taken port: one clear line and a non-zero exit."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.stack.helpers import run_scis, stack_env


def assert_one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and "RuntimeDirWarning" not in line and "user_runtime_dir" not in line
    ]
    assert len(lines) == 1, stderr
    return lines[0]


def test_unknown_discovery_mode(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    env["SCIS_DISCOVERY"] = "zookeeper"
    result = run_scis("status", env=env)
    assert result.returncode == 2
    line = assert_one_line(result.stderr)
    assert line == "scis: invalid setting SCIS_DISCOVERY='zookeeper': Input should be 'static' or 'consul'"


def test_unreachable_database(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    env["SCIS_DATABASE_URL"] = "postgresql://scis:pw@127.0.0.1:1/scis"
    for command in (["db", "migrate"], ["up"]):
        result = run_scis(*command, env=env)
        assert result.returncode == 1, command
        line = assert_one_line(result.stderr)
        assert line.startswith("scis: cannot reach PostgreSQL at postgresql://scis:***@127.0.0.1:1/scis"), line


def test_taken_port_names_port_and_setting(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["SCIS_GATEWAY_PORT"])))
        holder.listen()
        result = run_scis("up", env=env)
    assert result.returncode == 1
    line = assert_one_line(result.stderr)
    assert line == f"scis: port {env['SCIS_GATEWAY_PORT']} is already in use; set SCIS_GATEWAY_PORT to another port"


def test_serve_without_database_settings(tmp_path: Path) -> None:
    result = run_scis("serve", "profiles", env=stack_env(tmp_path))
    assert result.returncode == 1
    assert "SCIS_DATABASE_URL and SCIS_REDIS_URL must be set" in assert_one_line(result.stderr)
