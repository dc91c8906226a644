"""The first real routes of each service, end to end against PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import psycopg

from scis.profiles.service import cache_key
from tests.services.conftest import auth


async def new_case(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]) -> int:
    """A case the investigator opens (so belongs to) and the admin adds the viewer to."""
    response = await clients["dashboard"].post(
        "/api/dashboard/cases",
        json={"reference": f"T-{uuid.uuid4().hex[:10]}", "title": "Route tests"},
        headers=auth(tokens["investigator"]),
    )
    assert response.status_code == 201, response.text
    case_id = int(response.json()["id"])
    added = await clients["dashboard"].put(
        f"/api/dashboard/cases/{case_id}/members/t-viewer", headers=auth(tokens["admin"])
    )
    assert added.status_code == 200, added.text
    return case_id


async def test_profile_crud_with_cache(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], apps) -> None:  # type: ignore[no-untyped-def]
    case_id = await new_case(clients, tokens)
    profiles = clients["profiles"]
    created = await profiles.post(
        "/api/profiles/profiles",
        json={
            "unique_id": "@Suspect.One",
            "case_id": case_id,
            "tags": [" Fraud", "fraud", "Scam"],
            "risk_level": "high",
        },
        headers=auth(tokens["investigator"]),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["unique_id"] == "suspect.one" and body["tags"] == ["fraud", "scam"]
    profile_id = body["id"]
    redis = apps["profiles"].state.redis
    assert await redis.get(cache_key(profile_id)) is not None
    updated = await profiles.patch(
        f"/api/profiles/profiles/{profile_id}",
        json={"notes": "seen in two lives"},
        headers=auth(tokens["investigator"]),
    )
    assert updated.json()["notes"] == "seen in two lives"
    fetched = await profiles.get(f"/api/profiles/profiles/{profile_id}", headers=auth(tokens["viewer"]))
    assert fetched.json()["notes"] == "seen in two lives"
    listed = await profiles.get(f"/api/profiles/profiles?case_id={case_id}", headers=auth(tokens["viewer"]))
    assert listed.json()["total"] == 1
    deleted = await profiles.delete(f"/api/profiles/profiles/{profile_id}", headers=auth(tokens["investigator"]))
    assert deleted.status_code == 204
    assert await redis.get(cache_key(profile_id)) is None
    missing = await profiles.get(f"/api/profiles/profiles/{profile_id}", headers=auth(tokens["viewer"]))
    assert missing.status_code == 404


async def test_bad_input_names_field_and_value(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]) -> None:
    response = await clients["profiles"].post(
        "/api/profiles/profiles", json={"unique_id": "no spaces allowed!"}, headers=auth(tokens["investigator"])
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "unique_id" and error["value"] == "no spaces allowed!"
    assert "unique_id" in response.json()["detail"]


async def test_wizard_checks_then_creates_through_profiles_service(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    case_id = await new_case(clients, tokens)
    check = await clients["create"].post(
        "/api/create/check", json={"unique_id": "@x", "case_id": case_id}, headers=auth(tokens["viewer"])
    )
    assert check.json()["valid"] is False
    assert check.json()["problems"][0]["field"] == "unique_id"
    unknown_case = await clients["create"].post(
        "/api/create/check", json={"unique_id": "@valid_name", "case_id": 987654}, headers=auth(tokens["viewer"])
    )
    assert unknown_case.json()["problems"][0] == {
        "field": "case_id",
        "value": 987654,
        "problem": "no such case of yours; create it, or ask an admin to add you to it",
    }


async def test_explorer_reads_and_hides_password_hashes(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    database = clients["database"]
    ok = await database.post(
        "/api/database/query", json={"sql": "SELECT username FROM users ORDER BY 1;"}, headers=auth(tokens["viewer"])
    )
    assert ok.status_code == 200, ok.text
    assert ["t-admin"] in ok.json()["rows"]
    hidden = await database.post(
        "/api/database/query", json={"sql": "SELECT password_hash FROM users"}, headers=auth(tokens["viewer"])
    )
    assert hidden.status_code == 400 and "permission denied" in hidden.json()["detail"]
    capped = await database.post(
        "/api/database/query",
        json={"sql": "SELECT g FROM generate_series(1, 50) g", "limit": 10},
        headers=auth(tokens["viewer"]),
    )
    assert capped.json()["row_count"] == 10 and capped.json()["truncated"] is True
    tables = await database.get("/api/database/tables", headers=auth(tokens["viewer"]))
    users = next(t for t in tables.json() if t["name"] == "users")
    assert "password_hash" not in [c["name"] for c in users["columns"]]


async def test_explorer_stops_long_queries(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], settings
) -> None:  # type: ignore[no-untyped-def]
    settings.query_timeout_ms = 200
    try:
        response = await clients["database"].post(
            "/api/database/query",
            json={"sql": "SELECT count(*) FROM generate_series(1, 300000000)"},
            headers=auth(tokens["viewer"]),
        )
    finally:
        settings.query_timeout_ms = 5000
    assert response.status_code == 400
    assert "longer than 200 ms" in response.json()["detail"]


async def test_report_pdf_is_stored_with_its_hash(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    case_id = await new_case(clients, tokens)
    created = await clients["reports"].post(
        "/api/reports/reports", json={"case_id": case_id}, headers=auth(tokens["investigator"])
    )
    assert created.status_code == 201, created.text
    report = created.json()
    pdf = await clients["reports"].get(f"/api/reports/reports/{report['id']}/pdf", headers=auth(tokens["viewer"]))
    assert pdf.content.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.content).hexdigest() == report["sha256"]
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT details->>'sha256' FROM audit_log WHERE action = 'report.create' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == (report["sha256"],)


async def test_dashboard_overview_counts(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]) -> None:
    response = await clients["dashboard"].get("/api/dashboard/overview", headers=auth(tokens["viewer"]))
    assert response.status_code == 200
    body = response.json()
    assert body["figures"]["cases_open"] >= 1
    assert {s["service"] for s in body["services"]} >= {"dashboard", "profiles", "reports"}


async def test_readyz_reports_dependencies(clients: dict[str, httpx.AsyncClient]) -> None:
    for name, client in clients.items():
        response = await client.get("/readyz")
        assert response.status_code == 200, f"{name}: {response.text}"


async def test_explorer_caps_the_size_of_an_answer(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    response = await clients["database"].post(
        "/api/database/query",
        json={"sql": "SELECT repeat('x', 3000000) FROM generate_series(1, 5)"},
        headers=auth(tokens["viewer"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True and 1 <= body["row_count"] < 5
