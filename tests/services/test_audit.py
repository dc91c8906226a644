"""Every write appends exactly one audit row; nothing can change or remove one."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from tests.services.conftest import auth


def audit_count(postgres_url: str) -> int:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
        assert row is not None
        return int(row[0])


async def test_a_write_appends_exactly_one_audit_row(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    before = audit_count(postgres_url)
    reference = f"AUD-{uuid.uuid4().hex[:8]}"
    response = await clients["dashboard"].post(
        "/api/dashboard/cases",
        json={"reference": reference, "title": "Audit check"},
        headers={**auth(tokens["investigator"]), "x-real-ip": "203.0.113.7"},
    )
    assert response.status_code == 201, response.text
    assert audit_count(postgres_url) == before + 1
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT actor, role, action, target, source_ip, service, details FROM audit_log ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == (
        "t-investigator",
        "investigator",
        "case.create",
        f"case:{response.json()['id']}",
        "203.0.113.7",
        "dashboard",
        {"reference": reference, "retention_days": None},  # the case's retention is part of what was decided
    )


async def test_a_refused_write_leaves_no_audit_row(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    before = audit_count(postgres_url)
    response = await clients["profiles"].post(
        "/api/profiles/profiles", json={"unique_id": "someone", "case_id": 999999}, headers=auth(tokens["investigator"])
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "case_id",
            "value": 999999,
            "problem": "no such case of yours; create it, or ask an admin to add you to it",
        }
    ]
    assert audit_count(postgres_url) == before


def test_the_database_refuses_changes_to_the_audit_log(superuser_url: str) -> None:
    # The triggers, tried as the superuser; scis_app has no UPDATE/DELETE/TRUNCATE there at all
    # (tests/security/test_database_roles.py).
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)


def test_no_route_changes_or_deletes_audit_entries(apps: dict[str, FastAPI]) -> None:
    from tests.services.test_access_control import api_routes

    audit_routes = [(m, p) for app in apps.values() for m, p in api_routes(app) if "audit" in p]
    assert sorted(audit_routes) == [("GET", "/api/dashboard/audit"), ("GET", "/api/dashboard/audit/verify")]


async def test_explorer_cannot_write_to_the_audit_log(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    before = audit_count(postgres_url)
    for sql in (
        "DELETE FROM audit_log",
        "WITH gone AS (DELETE FROM audit_log RETURNING 1) SELECT count(*) FROM gone",
        "SELECT 1; DELETE FROM audit_log",
        "select set_config('x', 'y', false)",
    ):
        response = await clients["database"].post(
            "/api/database/query", json={"sql": sql}, headers=auth(tokens["admin"])
        )
        assert response.status_code == 400, sql
        assert response.json()["detail"].startswith("sql: ")
    assert audit_count(postgres_url) == before
