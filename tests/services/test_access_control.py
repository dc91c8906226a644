"""Every /api route needs a token; a viewer may read but not write."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.services.conftest import auth

PUBLIC_PATHS = {"/api/auth/login", "/healthz", "/readyz"}
# POST routes that read: they take a body but change nothing (the explorer audits its queries itself).
READING_POSTS = {
    "/api/database/query",
    "/api/database/query.csv",
    "/api/database/explain",  # read-only: the plan of a checked query
    "/api/database/builtin/{name}",  # read-only: a ready-made query
    "/api/create/check",
    "/api/lives/lives/{session_id}/video/offer",  # watching the live's video (WebRTC offer/answer)
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes every signed-in user may do to their own account.
OWN_ACCOUNT_WRITES = {
    "/api/auth/logout",
    "/api/auth/password",
    "/api/database/saved",  # one's own saved queries
    "/api/database/saved/{saved_id}",
    "/api/database/queries/{query_id}/cancel",  # one's own running query
    "/api/lives/lives/{session_id}/video/viewers/{viewer_id}",  # leaving a video one watches
}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the app publishes in its OpenAPI document."""
    if not app.openapi_url:
        return []
    return [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]


def concrete(path: str) -> str:
    # Any well-formed id: authentication must be refused before the target is even looked up.
    return re.sub(
        r"\{[^}]+\}", lambda m: "00000000-0000-0000-0000-000000000001" if "session" in m.group() else "1", path
    )


async def test_every_route_in_every_openapi_needs_a_token(
    apps: dict[str, FastAPI], clients: dict[str, httpx.AsyncClient]
) -> None:
    checked = 0
    for name, app in apps.items():
        for method, path in api_routes(app):
            if path in PUBLIC_PATHS:
                continue
            response = await clients[name].request(method, concrete(path), json={})
            assert response.status_code == 401, f"{name} {method} {path} answered {response.status_code}"
            assert "not signed in" in response.json()["detail"]
            checked += 1
    assert checked >= 20, f"only {checked} routes enumerated"


async def test_forged_and_expired_tokens_are_refused(clients: dict[str, httpx.AsyncClient], settings) -> None:  # type: ignore[no-untyped-def]
    from scis.core.auth.models import Role, User
    from scis.core.auth.service import issue_token

    forged = issue_token(User(username="t-admin", role=Role.admin), secret="not-the-secret", ttl_seconds=60)
    response = await clients["profiles"].get("/api/profiles/profiles", headers=auth(forged.access_token))
    assert response.status_code == 401
    expired = issue_token(User(username="t-admin", role=Role.admin), secret=settings.secret_key, ttl_seconds=-120)
    response = await clients["profiles"].get("/api/profiles/profiles", headers=auth(expired.access_token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


@pytest.mark.parametrize("role", ["viewer"])
async def test_viewer_gets_403_on_every_write(
    role: str, apps: dict[str, FastAPI], clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    checked, answered = 0, {}
    for name, app in apps.items():
        for method, path in api_routes(app):
            if method not in WRITE_METHODS or path in PUBLIC_PATHS | READING_POSTS | OWN_ACCOUNT_WRITES:
                continue
            response = await clients[name].request(method, concrete(path), json={}, headers=auth(tokens[role]))
            if response.status_code != 403:
                answered[f"{name} {method} {path}"] = response.status_code
            checked += 1
    assert answered == {}, "these writes did not refuse a viewer"
    assert checked >= 8


async def test_viewer_can_read(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]) -> None:
    response = await clients["profiles"].get("/api/profiles/profiles", headers=auth(tokens["viewer"]))
    assert response.status_code == 200


async def test_login_sets_cookie_and_token_works(clients: dict[str, httpx.AsyncClient], accounts) -> None:  # type: ignore[no-untyped-def]
    from tests.services.conftest import PASSWORD

    client = clients["dashboard"]
    bad = await client.post("/api/auth/login", json={"username": accounts["viewer"], "password": "wrong-password"})
    assert bad.status_code == 401
    response = await client.post("/api/auth/login", json={"username": accounts["viewer"], "password": PASSWORD})
    assert response.status_code == 200
    assert "httponly" in response.headers["set-cookie"].lower()
    me = await client.get("/api/auth/me", headers=auth(response.json()["access_token"]))
    assert me.json() == {"username": accounts["viewer"], "role": "viewer"}
    client.cookies.clear()
