"""Accounts: the admin API and `scis user`, the password policy, and an audit row for every change."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from scis.core.auth.policy import password_problem
from tests.services.conftest import auth
from tests.support.databases import scratch_database

# Fails in the merged full suite only (passes alone): shared-database interplay between the merged
# branches, to be found next session (issue 7).


def audited(postgres_url: str, target: str) -> list[tuple[str, str, dict[str, Any]]]:
    with psycopg.connect(postgres_url) as conn:
        return conn.execute(  # type: ignore[return-value]
            "SELECT actor, action, details FROM audit_log WHERE target = %s ORDER BY id", (target,)
        ).fetchall()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "8 characters long; use at least 12"),
        ("password1234", "common passwords"),
        ("Qwertyuiop12", "common passwords"),
        ("iloveyou2024!!", "common password 'iloveyou'"),
        ("aaaaaaaaaaaaaaaa", "too few different characters"),
    ],
)
def test_policy_refuses_short_and_common_passwords(password: str, reason: str) -> None:
    problem = password_problem(password)
    assert problem is not None and reason in problem


def test_policy_accepts_a_passphrase() -> None:
    assert password_problem("correct-horse-battery") is None


async def test_admin_manages_an_account_and_every_change_is_audited(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    dashboard, admin = clients["dashboard"], auth(tokens["admin"])
    name = f"acct-{uuid.uuid4().hex[:8]}"
    common = await dashboard.post("/api/auth/users", json={"username": name, "password": "password1234"}, headers=admin)
    assert common.status_code == 422
    problem = common.json()["errors"][0]
    assert problem["field"] == "password" and "common" in problem["problem"]
    body = {"username": name, "password": "an-uncommon-passphrase", "role": "viewer"}
    created = await dashboard.post("/api/auth/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    listed = await dashboard.get("/api/auth/users", headers=admin)
    assert name in {user["username"] for user in listed.json()}

    changes = [
        ("put", f"/api/auth/users/{name}/role", {"role": "investigator"}),
        ("put", f"/api/auth/users/{name}/password", {"new_password": "yet-another-passphrase"}),
        ("post", f"/api/auth/users/{name}/disable", None),
        ("post", f"/api/auth/users/{name}/enable", None),
    ]
    for method, path, body in changes:
        response = await dashboard.request(method.upper(), path, json=body, headers=admin)
        assert response.status_code == 200, f"{path}: {response.text}"
    signed_in = await dashboard.post("/api/auth/login", json={"username": name, "password": "yet-another-passphrase"})
    dashboard.cookies.clear()  # the shared client must not keep a session cookie
    assert signed_in.status_code == 200 and signed_in.json()["role"] == "investigator"

    rows = audited(postgres_url, f"user:{name}")
    assert [action for _, action, _ in rows] == [
        "user.create", "user.role_change", "user.password_reset", "user.disable", "user.enable", "auth.login",
    ]  # fmt: skip
    assert rows[1][2] == {"from": "viewer", "to": "investigator"}
    assert {actor for actor, action, _ in rows if action.startswith("user.")} == {"t-admin"}


async def test_account_administration_is_admin_only_and_names_unknown_accounts(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    dashboard = clients["dashboard"]
    for role in ("viewer", "investigator"):
        response = await dashboard.put(
            "/api/auth/users/t-viewer/role", json={"role": "admin"}, headers=auth(tokens[role])
        )
        assert response.status_code == 403
    missing = await dashboard.post("/api/auth/users/no-such-user/disable", headers=auth(tokens["admin"]))
    assert missing.status_code == 404 and "no account named 'no-such-user'" in missing.json()["detail"]


async def test_audit_chain_can_be_verified_by_admins_only(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    dashboard = clients["dashboard"]
    verdict = await dashboard.get("/api/dashboard/audit/verify", headers=auth(tokens["admin"]))
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["intact"] is True and verdict.json()["rows_checked"] >= 1
    assert "intact" in verdict.json()["summary"]
    refused = await dashboard.get("/api/dashboard/audit/verify", headers=auth(tokens["viewer"]))
    assert refused.status_code == 403


@pytest.fixture
def fresh_database(superuser_url: str) -> Iterator[str]:
    with scratch_database(superuser_url) as url:  # creating a database takes the owner's rights
        yield url


def scis_user(database_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SCIS_DATABASE_URL": database_url, "SCIS_REDIS_URL": redis_url, "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-m", "scis", "user", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_scis_user_commands(fresh_database: str, redis_url: str) -> None:
    def ok(*args: str) -> str:
        done = scis_user(fresh_database, redis_url, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def refused(*args: str) -> str:
        done = scis_user(fresh_database, redis_url, *args)
        assert done.returncode == 1, done.stdout
        return done.stderr

    assert "user boss added with role admin" in ok("add", "boss", "--role", "admin", "--password", "a-long-passphrase")
    assert "the common password 'password'" in refused("add", "weak", "--password", "password2024")
    assert "last enabled admin" in refused("disable", "boss")
    assert "last enabled admin" in refused("role", "boss", "viewer")
    ok("add", "analyst", "--role", "investigator", "--password", "another-passphrase")
    assert "analyst is now viewer (was investigator); 0 session(s) ended" in ok("role", "analyst", "viewer")
    assert "analyst disabled" in ok("disable", "analyst")
    assert "analyst enabled" in ok("enable", "analyst")
    assert "password of analyst changed" in ok("passwd", "analyst", "--password", "third-passphrase-here")
    assert "no account named 'ghost'" in refused("passwd", "ghost", "--password", "third-passphrase-here")
    listing = ok("list").splitlines()
    assert [line.split()[:3] for line in listing] == [["analyst", "viewer", "enabled"], ["boss", "admin", "enabled"]]
    rows = audited(fresh_database, "user:analyst")
    assert [action for _, action, _ in rows] == [
        "user.create", "user.role_change", "user.disable", "user.enable", "user.password_reset",
    ]  # fmt: skip
    assert all(actor.startswith("cli:") for actor, _, _ in rows)
    assert rows[1][2] == {"from": "investigator", "to": "viewer"}
