"""The edges a browser or a forged header can reach: cross-site cookie writes, client-chosen request
ids and addresses, and the API docs (offline, and off when configured)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from scis.core.observability import peer_is_trusted, request_id_from
from scis.core.settings import Settings
from scis.serve import load_app
from tests.services.conftest import auth


def new_case_body() -> dict[str, str]:
    return {"reference": f"E-{uuid.uuid4().hex[:10]}", "title": "edge test"}


@pytest.mark.parametrize(
    ("origin_headers", "allowed"),
    [
        ({"origin": "https://evil.example"}, False),
        ({"referer": "https://evil.example/page"}, False),
        ({}, False),  # a cookie write that says nowhere where it comes from
        ({"origin": "https://scis.example.org"}, True),
        ({"referer": "https://scis.example.org/cases/1"}, True),
    ],
)
async def test_cookie_writes_must_come_from_the_public_url(
    origin_headers: dict[str, str],
    allowed: bool,
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
) -> None:
    headers = {"cookie": f"scis_token={tokens['investigator']}", **origin_headers}
    response = await clients["dashboard"].post("/api/dashboard/cases", json=new_case_body(), headers=headers)
    if allowed:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "https://scis.example.org" in detail and "SCIS_PUBLIC_URL" in detail


async def test_bearer_clients_and_cookie_reads_are_not_origin_checked(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    evil = {"origin": "https://evil.example"}
    created = await clients["dashboard"].post(
        "/api/dashboard/cases", json=new_case_body(), headers={**auth(tokens["investigator"]), **evil}
    )
    assert created.status_code == 201
    # Reading with the cookie is not a write; CORS keeps another site from reading the answer.
    listed = await clients["dashboard"].get(
        "/api/dashboard/cases", headers={"cookie": f"scis_token={tokens['viewer']}", **evil}
    )
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("sent", "trusted", "kept"),
    [
        ("0123456789abcdef0123456789abcdef", True, True),
        ("req-2026.12.01_x", True, True),
        ("0123456789abcdef0123456789abcdef", False, False),
        ("short", True, False),
        ("x" * 65, True, False),
        ("id with spaces ok?", True, False),
        ('"},{"level":"forged', True, False),
        ("", True, False),
    ],
)
def test_request_ids_are_kept_only_from_trusted_peers_and_well_formed(sent: str, trusted: bool, kept: bool) -> None:
    chosen = request_id_from(sent, peer_trusted=trusted)
    assert (chosen == sent) is kept
    assert len(chosen) == 32 or kept


def test_trusted_peers() -> None:
    settings = Settings(trusted_proxies="127.0.0.1/32, 10.0.0.0/8")
    networks = settings.trusted_proxy_networks
    assert peer_is_trusted("10.42.0.7", networks) and peer_is_trusted("127.0.0.1", networks)
    assert not peer_is_trusted("192.168.1.2", networks)
    assert not peer_is_trusted("::1", networks)
    assert not peer_is_trusted(None, networks) and not peer_is_trusted("testclient", networks)


def test_a_bad_trusted_proxy_setting_names_the_value() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not an address or network"):
        Settings(trusted_proxies="10.0.0.0/33")


@pytest.fixture
async def untrusting_dashboard(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard where the test client (127.0.0.1) is not a trusted proxy."""
    app = load_app("dashboard", settings.model_copy(update={"trusted_proxies": "10.99.99.99/32"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as client:
            yield client


async def audit_row_of(postgres_url: str, request_id: str) -> tuple[str | None, str | None]:
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        cur = await conn.execute(
            "SELECT source_ip, request_id FROM audit_log WHERE action = 'case.create' ORDER BY id DESC LIMIT 1"
        )
        row = await cur.fetchone()
    assert row is not None
    return row[0], row[1]


async def test_forwarded_address_and_request_id_count_only_from_the_gateway(
    clients: dict[str, httpx.AsyncClient],
    untrusting_dashboard: httpx.AsyncClient,
    tokens: dict[str, str],
    postgres_url: str,
) -> None:
    forged = {"x-real-ip": "203.0.113.9", "x-request-id": "chosen-by-the-caller-0001", **auth(tokens["investigator"])}
    trusted = await clients["dashboard"].post("/api/dashboard/cases", json=new_case_body(), headers=forged)
    assert trusted.status_code == 201 and trusted.headers["x-request-id"] == "chosen-by-the-caller-0001"
    assert await audit_row_of(postgres_url, "chosen-by-the-caller-0001") == ("203.0.113.9", "chosen-by-the-caller-0001")

    untrusted = await untrusting_dashboard.post("/api/dashboard/cases", json=new_case_body(), headers=forged)
    assert untrusted.status_code == 201
    replaced = untrusted.headers["x-request-id"]
    assert replaced != "chosen-by-the-caller-0001"
    assert await audit_row_of(postgres_url, replaced) == ("127.0.0.1", replaced)


async def test_api_docs_are_served_offline(clients: dict[str, httpx.AsyncClient]) -> None:
    client = clients["reports"]
    page = await client.get("/api/reports/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    # Nothing from another host, and no inline script (the gateway's CSP would block it).
    assert "http://" not in page.text and "https://" not in page.text
    assert "<script>" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "start.js"):
        response = await client.get(f"/api/reports/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 30, asset
    start = (await client.get("/api/reports/docs/assets/start.js")).text
    assert "/api/reports/openapi.json" in start and '"validatorUrl": null' in start
    assert (await client.get("/api/reports/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "served"),
    [
        ({"api_docs": False}, False),
        ({"env": "production", "secret_key": "x" * 40}, False),
        ({"env": "production", "secret_key": "x" * 40, "api_docs": True}, True),
        ({}, True),
    ],
)
def test_api_docs_can_be_turned_off(overrides: dict[str, object], served: bool) -> None:
    settings = Settings(database_url="postgresql://unused/unused", redis_url="redis://127.0.0.1:1/0", **overrides)
    app: FastAPI = load_app("lives", settings)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert ("/api/lives/docs" in paths) is served
    assert ("/api/lives/openapi.json" in paths) is served
    # The document itself is still built for the tests' route matrix; it is just not published.
    assert "/api/lives/lives" in app.openapi()["paths"]


def test_allowed_origins_follow_the_public_url() -> None:
    assert Settings(gateway_port=8123).allowed_origins == [
        "http://localhost:8123", "http://127.0.0.1:8123", "http://[::1]:8123",
    ]  # fmt: skip
    assert Settings(public_url="https://SCIS.example.org").allowed_origins == ["https://scis.example.org"]
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url="scis.example.org/path")
